"""Small, dependency-free figures for HTML reports: inline PNG data URIs and SVG line charts."""

from __future__ import annotations

import base64
import io
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from brainsynth.imageio import make_grid

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def png_data_uri(path: str | os.PathLike[str]) -> str:
    """A PNG file as a ``data:`` URI, so the report is one self-contained file."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def grid_data_uri(images: np.ndarray, ncols: int = 8) -> str:
    """A montage of (N, 1, H, W) images in [0, 1] as a PNG ``data:`` URI."""
    buffer = io.BytesIO()
    Image.fromarray(make_grid(images, ncols), mode="L").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def read_jsonl(path: str | os.PathLike[str]) -> list[dict]:
    """Rows of a JSON-lines file; a torn last line (from a crash) is ignored."""
    rows = []
    path = Path(path)
    if not path.is_file():
        return rows
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def line_chart_svg(
    series: dict[str, tuple[Sequence[float], Sequence[float]]],
    title: str,
    xlabel: str = "generator iteration",
    width: int = 420,
    height: int = 220,
) -> str:
    """An SVG line chart of named (x, y) series, with axes and a legend; empty series skipped."""
    series = {k: (list(x), list(y)) for k, (x, y) in series.items() if len(x) and len(y)}
    left, right, top, bottom = 48, 24, 24, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{title}">',
        f'<text x="{width / 2}" y="15" text-anchor="middle" font-size="12">{title}</text>',
    ]
    finite = [v for _, ys in series.values() for v in ys if math.isfinite(v)]
    if not finite:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" '
            'font-size="11">no data</text></svg>'
        )
        return "".join(parts)
    xs_all = [v for xs, _ in series.values() for v in xs]
    x0, x1 = min(xs_all), max(xs_all)
    y0, y1 = min(finite), max(finite)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * plot_h

    parts.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#999" stroke-width="0.5"/>'
    )
    for value, anchor in ((y0, "end"), (y1, "end")):
        parts.append(
            f'<text x="{left - 4}" y="{py(value) + 4:.1f}" text-anchor="{anchor}" '
            f'font-size="10">{value:.3g}</text>'
        )
    for value in (x0, x1):
        parts.append(
            f'<text x="{px(value):.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
            f'font-size="10">{value:.0f}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle" '
        f'font-size="10">{xlabel}</text>'
    )
    for i, (name, (xs, ys)) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        points = " ".join(
            f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys, strict=False) if math.isfinite(y)
        )
        parts.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="1.2" points="{points}"/>'
        )
        parts.append(
            f'<text x="{left + 8}" y="{top + 14 + 13 * i}" font-size="10" '
            f'fill="{color}">{name}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def training_curves_svg(metrics_jsonl: str | os.PathLike[str], title: str) -> str:
    """Loss curves (and the critic's Wasserstein estimate when present) from ``metrics.jsonl``."""
    rows = read_jsonl(metrics_jsonl)
    keys = [k for k in ("loss_d", "loss_g", "wasserstein") if any(k in r for r in rows)]
    series = {}
    for key in keys:
        pts = [(r["iter"], float(r[key])) for r in rows if key in r and r[key] is not None]
        series[key] = ([p[0] for p in pts], [p[1] for p in pts])
    return line_chart_svg(series, title)
