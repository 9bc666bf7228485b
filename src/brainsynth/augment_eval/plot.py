"""``augment-auc.png``: AUC against the fraction of real training patients, one line per arm,
with the 95% intervals as error bars (drawn with Pillow: no plotting library needed)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

COLOURS = ("#222222", "#1f77b4", "#d62728", "#2ca02c", "#9467bd")


def auc_plot(summary: dict[str, Any], path: Path, width: int = 640, height: int = 400) -> Path:
    """Draw the AUC of every arm (mean over repeats, 95% interval) against the fraction."""
    arms = summary["arms"]
    fractions = sorted(float(f) for f in next(iter(arms.values())))
    log_x = len(fractions) > 1 and fractions[-1] / fractions[0] >= 4
    lows = [e["auc_ci95"][0] for a in arms.values() for e in a.values()]
    highs = [e["auc_ci95"][1] for a in arms.values() for e in a.values()]
    finite = [v for v in lows + highs if math.isfinite(v)] or [0.5, 1.0]
    y0 = max(0.0, math.floor((min(finite) - 0.02) * 20) / 20)
    y1 = min(1.0, math.ceil((max(finite) + 0.02) * 20) / 20)
    y1 = y1 if y1 > y0 else y0 + 0.05
    left, right, top, bottom = 60, 170, 36, 50
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(f: float) -> float:
        if len(fractions) == 1:
            return left + plot_w / 2
        lo, hi = fractions[0], fractions[-1]
        t = math.log(f / lo) / math.log(hi / lo) if log_x else (f - lo) / (hi - lo)
        return left + 20 + t * (plot_w - 40)

    def py(v: float) -> float:
        return top + (1 - (v - y0) / (y1 - y0)) * plot_h

    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    title = "AUC (mean over repeats, 95% CI) vs fraction of real training patients"
    draw.text((left, 10), title, fill="black", font=font)
    draw.rectangle([left, top, left + plot_w, top + plot_h], outline="#999999")
    for k in range(6):
        v = y0 + (y1 - y0) * k / 5
        draw.line([left - 4, py(v), left, py(v)], fill="black")
        draw.text((left - 40, py(v) - 6), f"{v:.2f}", fill="black", font=font)
    for f in fractions:
        draw.line([px(f), top + plot_h, px(f), top + plot_h + 4], fill="black")
        draw.text((px(f) - 12, top + plot_h + 8), f"{f:g}", fill="black", font=font)
    draw.text(
        (left + plot_w / 2 - 90, height - 20),
        "fraction of training patients" + (" (log scale)" if log_x else ""),
        fill="black",
        font=font,
    )
    for i, (arm, by_fraction) in enumerate(arms.items()):
        colour = COLOURS[i % len(COLOURS)]
        offset = (i - (len(arms) - 1) / 2) * 4  # keep error bars of arms apart
        points = []
        for f in fractions:
            e = by_fraction[f"{f:g}"]
            x = px(f) + offset
            if all(math.isfinite(v) for v in e["auc_ci95"]):
                draw.line([x, py(e["auc_ci95"][0]), x, py(e["auc_ci95"][1])], fill=colour)
            if math.isfinite(e["auc"]):
                points.append((x, py(e["auc"])))
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        for x, y in points:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        draw.line(
            [left + plot_w + 12, top + 10 + 18 * i, left + plot_w + 32, top + 10 + 18 * i],
            fill=colour,
            width=2,
        )
        draw.text((left + plot_w + 38, top + 4 + 18 * i), arm, fill=colour, font=font)
    path = Path(path)
    image.save(path)
    return path
