"""Shared fixtures: tiny prepared datasets written per test, so tests stay fast and real."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from brainsynth.data.dataset import write_prepared


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


@pytest.fixture
def blob_prepared(tmp_path: Path) -> Path:
    """A tiny prepared dataset (4 patients x 6 slices, 16x16) in a fresh temporary folder."""
    return blob_dataset(tmp_path / "prepared")


@pytest.fixture(scope="session")
def phantom_cohort_6(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6-patient brainsynth PHANTOM cohort (brats2021 layout, seed 0), built once per session.

    Patient index 3 is LGG-like (no enhancement), the others HGG; see :mod:`brainsynth.phantom`.
    """
    from brainsynth.phantom import make_cohort

    return make_cohort(tmp_path_factory.mktemp("phantom") / "cohort", 6, seed=0, progress=False)


@pytest.fixture(scope="session")
def phantom_prepared_64(tmp_path_factory: pytest.TempPathFactory, phantom_cohort_6: Path) -> Path:
    """The 6-patient phantom cohort prepared like the paper at 64x64, once per session.

    Sagittal slices 80:150 (#80-#149), all four sequences: a folder readable by
    ``brainsynth.data.dataset.load_prepared`` with 6 x 70 = 420 images (N, 4, 64, 64).
    Treat it as read-only: it is shared by every test of the session.
    """
    from brainsynth.data.prepare import PrepareConfig, prepare

    out = tmp_path_factory.mktemp("phantom_prepared") / "prepared64"
    return prepare(phantom_cohort_6, out, PrepareConfig(size=64), progress=False)


@pytest.fixture(scope="session")
def phantom_prepared_128(tmp_path_factory: pytest.TempPathFactory, phantom_cohort_6: Path) -> Path:
    """As :func:`phantom_prepared_64` but 128x128 (the paper's second size); read-only."""
    from brainsynth.data.prepare import PrepareConfig, prepare

    out = tmp_path_factory.mktemp("phantom_prepared") / "prepared128"
    return prepare(phantom_cohort_6, out, PrepareConfig(size=128), progress=False)
