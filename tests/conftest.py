"""Shared fixtures: tiny prepared datasets written per test, so tests stay fast and real."""

from __future__ import annotations

from pathlib import Path

import pytest

from blobs import blob_dataset


@pytest.fixture(scope="module")
def one_thread_module():
    """Tiny models gain nothing from more threads; on a shared CPU they spin-wait. A module
    whose fixtures train once for all its tests sets one torch thread for the module."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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
