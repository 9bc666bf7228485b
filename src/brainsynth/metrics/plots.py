"""Line plots as PNG with Pillow only (no matplotlib): the evaluation's diagnostic figures."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

from brainsynth.config import write_atomic

COLOURS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189))
Series = tuple[Sequence[float], Sequence[float], Sequence[Sequence[float]] | None]


def _ticks(low: float, high: float, log: bool) -> list[float]:
    if log:
        first, last = math.floor(math.log2(low)), math.ceil(math.log2(high))
        step = max(1, (last - first) // 6)
        return [2.0**e for e in range(first, last + 1, step) if low <= 2.0**e <= high]
    return [low + (high - low) * i / 4 for i in range(5)]


def line_plot(
    path: str | Path,
    series: dict[str, Series],
    xlabel: str,
    ylabel: str,
    logx: bool = False,
    logy: bool = False,
    ylim: tuple[float, float] | None = None,
    hline: float | None = None,
    title: str = "",
    size: tuple[int, int] = (480, 320),
) -> Path:
    """Named series (x, y, optional [low, high] interval per point) as lines with markers
    and interval bars; log axes plot log2 (x) or log10 (y). Non-finite points are skipped."""
    width, height = size
    left, right, top, bottom = 64, 16, 28, 44
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    fx = (lambda v: math.log2(v)) if logx else float
    fy = (lambda v: math.log10(max(v, 1e-300))) if logy else float
    points = [
        (x, y) for xs, ys, _ in series.values() for x, y in zip(xs, ys, strict=False)
        if y is not None and math.isfinite(y) and (not logx or x > 0) and (not logy or y > 0)
    ]  # fmt: skip
    if not points:
        draw.text((left, height // 2), "no data", fill="black")
        write_atomic(path, lambda handle: image.save(handle, format="PNG"))
        return Path(path)
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = ylim or (min(p[1] for p in points), max(p[1] for p in points))
    x1, y1 = (x1 if x1 > x0 else x0 * 2 if logx else x0 + 1), (y1 if y1 > y0 else y0 + 1)

    def px(x: float) -> float:
        return left + (fx(x) - fx(x0)) / (fx(x1) - fx(x0)) * (width - left - right)

    def py(y: float) -> float:
        y = min(max(y, y0), y1)
        return top + (1 - (fy(y) - fy(y0)) / (fy(y1) - fy(y0))) * (height - top - bottom)

    draw.rectangle([left, top, width - right, height - bottom], outline=(150, 150, 150))
    for t in _ticks(x0, x1, logx):
        label = f"{t:.0f}" if t >= 100 and float(t).is_integer() else f"{t:.3g}"
        x = min(px(t) - 8, width - 6 * len(label) - 2)  # the last label stays inside
        draw.text((x, height - bottom + 4), label, fill="black")
    for t in (y0, (y0 * y1) ** 0.5 if logy else (y0 + y1) / 2, y1):
        draw.text((4, py(t) - 6), f"{t:.3g}", fill="black")
    draw.text((left + 4, height - 16), xlabel, fill="black")
    draw.text((left + 4, 4), f"{title}   (y: {ylabel})" if title else ylabel, fill="black")
    if hline is not None and y0 <= hline <= y1:
        draw.line([left, py(hline), width - right, py(hline)], fill=(160, 160, 160), width=1)
    for i, (name, (xs, ys, intervals)) in enumerate(series.items()):
        colour = COLOURS[i % len(COLOURS)]
        valid = [
            (x, y, intervals[j] if intervals else None)
            for j, (x, y) in enumerate(zip(xs, ys, strict=False))
            if y is not None and math.isfinite(y) and (not logx or x > 0) and (not logy or y > 0)
        ]
        if len(valid) > 1:
            draw.line([(px(x), py(y)) for x, y, _ in valid], fill=colour, width=2)
        for x, y, ci in valid:
            draw.ellipse([px(x) - 3, py(y) - 3, px(x) + 3, py(y) + 3], fill=colour)
            if ci is not None and None not in ci:
                draw.line([px(x), py(ci[0]), px(x), py(ci[1])], fill=colour, width=1)
        draw.text((width - right - 170, top + 6 + 14 * i), name, fill=colour)
    write_atomic(path, lambda handle: image.save(handle, format="PNG"))
    return Path(path)
