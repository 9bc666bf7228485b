"""Fixtures of the metrics tests: a second phantom cohort (other patients) and small settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from brainsynth.data.dataset import load_prepared
from brainsynth.metrics.evaluate import EvalConfig


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Run the metrics tests on one torch thread: on a shared 2-core machine, two OpenMP
    threads competing with other processes made the small C2ST CNNs ~10x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def other_patients_64(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 phantom patients of another seed (1), prepared at 64x64: real images of *other*
    patients than those of ``phantom_prepared_64`` (seed 0)."""
    from brainsynth.data.prepare import PrepareConfig, prepare
    from brainsynth.phantom import make_cohort

    root = tmp_path_factory.mktemp("other_patients")
    cohort = make_cohort(root / "cohort", 4, seed=1, progress=False)
    return prepare(cohort, root / "prepared64", PrepareConfig(size=64), progress=False)


@pytest.fixture(scope="session")
def phantom_t1(phantom_prepared_64: Path):
    return load_prepared(phantom_prepared_64).image_set("t1")


@pytest.fixture(scope="session")
def other_t1(other_patients_64: Path):
    return load_prepared(other_patients_64).image_set("t1")


@pytest.fixture
def small_config():
    """Factory of test settings: a narrower CNN and fewer resamples; early stopping is real."""

    def make(**overrides) -> EvalConfig:
        values = dict(
            c2st_width=8,
            n_bootstrap=100,
            ms_ssim_pairs=200,
            kid_subsets=10,
            threads=1,
            detectability_sizes=[16],
            detectability_max_epochs=5,
            domain_epochs=3,
        )
        values.update(overrides)
        return EvalConfig(**values)

    return make
