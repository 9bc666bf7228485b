"""Figures of HTML reports: inline PNG data URIs of montages, and SVG charts drawn by the one
plotting module (:mod:`brainsynth.metrics.plots`)."""

from __future__ import annotations

import base64
import io
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from brainsynth.imageio import make_grid

LOSS_KEYS = {  # the keys of metrics.jsonl a loss chart shows, with their legend
    "loss_d": "discriminator / critic loss",
    "loss_g": "generator loss",
    "wasserstein": "Wasserstein estimate",
}


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


def training_curves_svg(metrics_jsonl: str | os.PathLike[str], title: str) -> str:
    """Loss curves (and the critic's Wasserstein estimate when present) from ``metrics.jsonl``."""
    from brainsynth.metrics.plots import Series, line_chart

    rows = read_jsonl(metrics_jsonl)
    keys = [k for k in LOSS_KEYS if any(k in r for r in rows)]
    series = []
    for key in keys:
        pts = [(r["iter"], float(r[key])) for r in rows if key in r and r[key] is not None]
        series.append(Series(LOSS_KEYS[key], [p[0] for p in pts], [p[1] for p in pts],
                             markers=False))  # fmt: skip
    return str(line_chart(series, "generator iteration", "loss (objective units)", title=title,
                          size=(4.6, 2.6)))  # fmt: skip
