"""A tiny trained run for export tests: importable as ``from export_helpers import ...``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainsynth.data.dataset import write_prepared
from brainsynth.sampling.exported import BUNDLE_FILES
from brainsynth.sampling.manifest import MANIFEST_FILE, manifest_text
from brainsynth.training import DataConfig, ModelConfig, RunConfig, TrainConfig, train

TINY_SG2 = {"channel_base": 64, "channel_max": 8, "w_dim": 8}


def phantom_like(root: Path, size: int = 16, patients: int = 3, slices: int = 4) -> Path:
    """A prepared folder whose dataset.json says phantom, as brainsynth prepare writes it."""
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, size=(patients * slices, 4, size, size)).astype(np.float32)
    rows = [
        {"patient": f"SECRET{p:03d}", "grade": "HGG", "plane": "sagittal", "slice": 80 + s,
         "tumor_pixels": str(s * 10)}
        for p in range(patients) for s in range(slices)
    ]  # fmt: skip
    meta = {"phantom": True, "plane": "sagittal", "slice_range": [80, 80 + slices],
            "size": size, "resize": "stretch", "layouts": {f"SECRET{p:03d}": "brats2021"
            for p in range(patients)}, "grades": {f"SECRET{p:03d}": "HGG" for p in range(patients)},
            "counts": {"cases": patients, "images": patients * slices}}  # fmt: skip
    return write_prepared(root, images, rows, meta)


def tiny_conditional_run(root: Path) -> Path:
    """A tiny StyleGAN2 (with EMA) conditioned on tumour labels, trained 4 iterations."""
    data = phantom_like(root / "prepared")
    config = TrainConfig(
        DataConfig(str(data), "t2", condition="tumor"),
        RunConfig(str(root / "run"), iters=4, batch=8, progress=False),
        ModelConfig(arch="stylegan2", options=dict(TINY_SG2)),
    )
    config.ema.half_life_kimg = 0.01
    return train(config)


def reseal(folder: Path) -> None:
    """Rewrite an export's manifest.json to match its files (what a forger, or an export
    of a bundle edited on purpose, would do)."""
    (folder / MANIFEST_FILE).write_text(manifest_text(folder, BUNDLE_FILES))
