"""Writing generated images: one PNG each, ``samples.npy`` and ``sampling.json``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from brainsynth.config import write_text_atomic
from brainsynth.imageio import save_grid, save_png


def write_samples(
    images: np.ndarray,
    out_dir: str | os.PathLike[str],
    grid: str | os.PathLike[str] | None = None,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write ``DIR/000000.png``..., ``DIR/samples.npy`` and ``DIR/sampling.json``.

    ``images`` is (N, 1, H, W) in [0, 1]; ``grid`` optionally saves a montage of up to 64;
    ``meta`` (e.g. :func:`~brainsynth.sampling.generate_with_info`'s info) goes into
    ``sampling.json``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0)
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"expected (N, 1, H, W) images, got shape {images.shape}")
    for i, image in enumerate(images):
        save_png(out / f"{i:06d}.png", image)
    tmp = out / ".samples.npy.tmp.npy"
    np.save(tmp, images)
    os.replace(tmp, out / "samples.npy")
    if grid is not None:
        save_grid(grid, images[:64])
    record = {**(meta or {}), "count": len(images), "grid": str(grid) if grid else None}
    write_text_atomic(out / "sampling.json", json.dumps(record, indent=2) + "\n")
    return out
