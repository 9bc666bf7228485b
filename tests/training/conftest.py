"""Tiny training runs: 16x16 images, width 4-8, a handful of iterations."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from brainsynth.data.dataset import write_prepared
from brainsynth.training import (
    AugmentConfig,
    DataConfig,
    EmaConfig,
    ModelConfig,
    ObjectiveConfig,
    OptimizerConfig,
    RunConfig,
    TrainConfig,
)


def tiny_config(
    data: Path,
    out: Path,
    gan: str = "dcgan",
    sequence: str = "t1",
    width: int = 4,
    lr: float | None = None,
    ema_half_life: float = 0.0,
    augment: tuple[str, ...] = (),
    objective: dict | None = None,
    **run,
) -> TrainConfig:
    """A fast config: 16x16 data, width 4, batch 8, frequent logs and checkpoints."""
    run = {"iters": 6, "batch": 8, "progress": False, "log_every": 2, "sample_every": 3,
           "checkpoint_every": 3, **run}  # fmt: skip
    return TrainConfig(
        data=DataConfig(str(data), sequence),
        model=ModelConfig(options={"width": width}),
        objective=ObjectiveConfig(name=gan, **(objective or {})),
        optimizer=OptimizerConfig(lr=lr),
        ema=EmaConfig(half_life_kimg=ema_half_life),
        augment=AugmentConfig(augment),
        run=RunConfig(out=str(out), **run),
    )


def square_dataset(root: Path, n: int = 32, size: int = 16) -> tuple[Path, np.ndarray]:
    """Every image is the same bright square on black: a trivial distribution to learn."""
    image = np.zeros((size, size), np.float32)
    image[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 0.8
    images = np.repeat(np.repeat(image[None, None], 4, axis=1), n, axis=0)
    rows = [
        {"patient": f"P{i:03d}", "grade": "HGG", "plane": "sagittal", "slice": i,
         "tumor_pixels": ""}
        for i in range(n)
    ]  # fmt: skip
    return write_prepared(root, images, rows, {"source": "tests.square"}), image


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from more threads, and on a shared CPU extra OpenMP threads
    spin-wait for each other; restore the caller's setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny() -> Callable[..., TrainConfig]:
    """The :func:`tiny_config` factory."""
    return tiny_config


@pytest.fixture
def square_prepared(tmp_path: Path) -> tuple[Path, np.ndarray]:
    return square_dataset(tmp_path / "square")
