"""Synthetic prepared datasets for tests: importable as ``from blobs import blob_dataset``.

(``tests/`` is on ``sys.path`` through pytest's ``pythonpath`` setting in pyproject.toml.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainsynth.data.dataset import write_prepared
from brainsynth.metrics.evaluate import EvalConfig


def blob_dataset(
    root: Path, patients: int = 4, slices: int = 6, size: int = 16, seed: int = 0
) -> Path:
    """A prepared folder of smooth elliptical 'brains' with per-sequence contrast.

    Not anatomy: just structured, patient-specific images of the right format for tests of
    training, metrics and the Visual Turing Test that must not wait on the phantom.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1) * 2 - 1
    images, rows = [], []
    for p in range(patients):
        ax, ay = rng.uniform(0.55, 0.85, size=2)
        cx, cy = rng.uniform(-0.1, 0.1, size=2)
        for s in range(slices):
            r = ((xx - cx) / (ax * (1 - 0.03 * s))) ** 2 + ((yy - cy) / ay) ** 2
            brain = (r < 1).astype(np.float32)
            ventricle = (r < 0.15).astype(np.float32)
            base = brain * (0.55 + 0.25 * np.cos(3 * xx + p) * np.sin(2 * yy + s))
            channels = [
                base * (1 - 0.5 * ventricle),
                base * (1 - 0.4 * ventricle) + 0.1 * brain,
                np.clip(base * 0.6 + ventricle * 0.9, 0, 1),
                np.clip(base * 0.8 - 0.5 * ventricle, 0, 1) * brain,
            ]
            images.append(np.stack(channels))
            rows.append(
                {
                    "patient": f"P{p:03d}",
                    "grade": "HGG",
                    "plane": "sagittal",
                    "slice": 80 + s,
                    "tumor_pixels": "",
                }
            )
    meta = {"source": "tests.blob_dataset", "size": size, "plane": "sagittal"}
    return write_prepared(root, np.clip(np.stack(images), 0, 1), rows, meta)


def labelled_dataset(root: Path, patients: int = 8, slices: int = 8, size: int = 16) -> Path:
    """A prepared folder whose every other slice has a bright 'tumour' square, counted in
    ``slices.csv`` (so tumour labels work): noise images, for tests of class plumbing."""
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 0.3, size=(patients * slices, 4, size, size)).astype(np.float32)
    rows = []
    for p in range(patients):
        for s in range(slices):
            tumour = s % 2
            images[p * slices + s, :, 5:11, 5:11] += 0.6 * tumour
            rows.append({"patient": f"P{p}", "grade": "HGG", "plane": "sagittal", "slice": s,
                         "tumor_pixels": 36 * tumour})  # fmt: skip
    return write_prepared(root, images, rows, {"source": "tests"})


def tiny_eval_config() -> EvalConfig:
    """Every metric family at toy sizes: for tests of plumbing (demo, reproduce), not of metrics."""
    return EvalConfig(
        max_real=48,
        max_fake=24,
        n_bootstrap=10,
        c2st_max_epochs=2,
        c2st_patience=1,
        c2st_width=4,
        c2st_batch_size=16,
        c2st_min_batches=2,
        c2st_control_repeats=1,
        kid_subset_size=16,
        kid_subsets=3,
        ms_ssim_pairs=10,
        detectability_sizes=[8],
        detectability_max_epochs=2,
        domain_epochs=2,
    )
