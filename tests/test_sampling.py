"""Sampling: deterministic per seed, [0, 1] output, background floor, clear checkpoint errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from brainsynth.data.dataset import write_prepared
from brainsynth.errors import BrainsynthError
from brainsynth.imageio import load_png_folder
from brainsynth.sampling import SamplingConfig, generate, generate_with_info, write_samples
from brainsynth.training import DataConfig, ModelConfig, RunConfig, TrainConfig, resume, train


def disc_dataset(root: Path, size: int, n: int = 24) -> Path:
    """Bright discs of random radius on black, as a prepared folder."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1) * 2 - 1
    radii = rng.uniform(0.4, 0.9, size=n)
    discs = (np.hypot(yy, xx)[None] < radii[:, None, None]).astype(np.float32) * 0.7
    rows = [
        {"patient": f"P{i:03d}", "grade": "HGG", "plane": "sagittal", "slice": i} for i in range(n)
    ]
    return write_prepared(root, np.repeat(discs[:, None], 4, axis=1), rows, {"size": size})


@pytest.fixture(autouse=True, scope="module")
def one_thread(one_thread_module):
    """One torch thread for this module (tests/conftest.py)."""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sampling")
    data = disc_dataset(root / "prepared", size=16)
    config = TrainConfig(DataConfig(str(data), "t2"),
                         RunConfig(str(root / "run"), iters=4, batch=8, progress=False,
                                   checkpoint_every=2),
                         ModelConfig(options={"width": 4}))  # fmt: skip
    # The run's sampling default, as `brainsynth train --background-floor 0.25` records it.
    return train(config, extra_configs={"sampling.yaml": SamplingConfig(background_floor=0.25)})


@pytest.mark.numerics
def test_same_seed_same_images(run: Path) -> None:
    a = generate(run, n=20, seed=5, batch=7)
    b = generate(run, n=20, seed=5, batch=7)
    c = generate(run, n=20, seed=6, batch=7)
    assert a.shape == (20, 1, 16, 16) and a.dtype == np.float32
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.min() >= 0.0 and a.max() <= 1.0
    # A checkpoint file gives what its run folder gives.
    assert np.array_equal(a, generate(run / "checkpoints" / "last.pt", n=20, seed=5, batch=7))


def test_background_floor_is_named_and_recorded(run: Path, tmp_path: Path) -> None:
    _, info = generate_with_info(run, n=2)  # None: the run config's value
    assert info["background_floor"] == 0.25
    raw = generate(run, n=16, background_floor=0.0)
    # an untrained generator's output is close to 0.5; floors go up to 0.5
    floor = min(float(np.median(raw)), 0.5)
    floored, info = generate_with_info(run, n=16, background_floor=floor)
    assert ((raw > 0) & (raw < floor)).any()
    assert not ((floored > 0) & (floored < floor)).any()
    assert np.array_equal(np.where(raw < floor, 0.0, raw), floored)
    out = write_samples(floored, tmp_path / "out", grid=tmp_path / "g.png", meta=info)
    record = json.loads((out / "sampling.json").read_text())
    assert record["background_floor"] == floor and record["n"] == 16 and record["iteration"] == 4
    assert np.abs(load_png_folder(out) - floored).max() <= 0.5 / 255 + 1e-6
    assert np.array_equal(np.load(out / "samples.npy"), floored)


def test_periodic_checkpoint_differs_from_last(run: Path) -> None:
    early = generate(run / "checkpoints" / "iter-000002.pt", n=4, background_floor=0.0)
    late = generate(run, n=4, background_floor=0.0)
    assert not np.array_equal(early, late)


def test_corrupt_checkpoint_is_a_clear_error(run: Path, tmp_path: Path) -> None:
    data = (run / "checkpoints" / "last.pt").read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(BrainsynthError, match="corrupt or unreadable checkpoint"):
        generate(truncated, n=1)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(BrainsynthError, match="corrupt or unreadable"):
        generate(garbage, n=1)


def test_foreign_and_mismatched_checkpoints(run: Path, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, foreign)
    with pytest.raises(BrainsynthError, match="not a brainsynth checkpoint"):
        generate(foreign, n=1)
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    state["arch_config"]["width"] = 8  # the stored weights are for width 4
    mismatched = tmp_path / "mismatched.pt"
    torch.save(state, mismatched)
    with pytest.raises(BrainsynthError, match="generator does not match the model"):
        generate(mismatched, n=1)
    with pytest.raises(BrainsynthError, match="no such run folder or checkpoint"):
        generate(tmp_path / "missing", n=1)


def test_resume_on_different_data_is_a_clear_error(run: Path, tmp_path: Path) -> None:

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    bigger = disc_dataset(tmp_path / "bigger", size=32)
    text = (copy / "config.yaml").read_text().replace(str(run.parent / "prepared"), str(bigger))
    (copy / "config.yaml").write_text(text.replace(str(run), str(copy)))
    with pytest.raises(BrainsynthError, match="does not match this run's model"):
        resume(copy, iters=6)
