"""What the training loop needs of a trainer, and which trainer an architecture gets.

The loop (:mod:`brainsynth.training.loop`) is the same for every family: it calls
``step`` once per iteration and saves ``state_dict()`` as the checkpoint's ``trainer``
part. An architecture module's ``TRAINER`` picks the trainer: ``"gan"`` (the default) ->
:class:`~brainsynth.training.step.GanTrainer`, ``"denoiser"`` ->
:class:`~brainsynth.training.denoise.DenoiserTrainer`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from brainsynth.errors import BrainsynthError
from brainsynth.models import architecture
from brainsynth.models.checkpoint import ModelRecord
from brainsynth.training.config import TrainConfig
from brainsynth.training.data import EpochSampler
from brainsynth.training.denoise import DenoiserTrainer
from brainsynth.training.runtime import Runtime
from brainsynth.training.step import GanTrainer


class Trainer(Protocol):
    """One family's training state and iteration.

    ``generator``: the trained sampling network (saved as ``trainer["generator"]``, with
    ``generator_ema`` when EMA is on); ``record``: what is trained; ``images_per_iteration``:
    real images one iteration reads (global batch, logged as images per second).
    """

    generator: nn.Module
    record: ModelRecord

    @property
    def images_per_iteration(self) -> int: ...

    def step(self, sampler: EpochSampler, iteration: int) -> dict[str, torch.Tensor]:
        """Iteration number ``iteration + 1``; the detached scalars it reports."""
        ...

    def sampling_generator(self) -> nn.Module:
        """The EMA generator when the run keeps one, else the trained generator."""
        ...

    def sample(self, noise: torch.Tensor) -> torch.Tensor:
        """Raw images (float32) of ``noise`` (N, *noise_shape), eval mode, classes in turn."""
        ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any], path: Path | str) -> None: ...


TRAINERS: dict[str, type] = {"gan": GanTrainer, "denoiser": DenoiserTrainer}


def make_trainer(config: TrainConfig, record: ModelRecord, runtime: Runtime) -> Trainer:
    """The trainer of ``record.arch``'s family (its module's ``TRAINER``, default ``gan``)."""
    kind = getattr(architecture(record.arch), "TRAINER", "gan")
    if kind not in TRAINERS:
        raise BrainsynthError(f"architecture {record.arch!r}: unknown TRAINER {kind!r}")
    return TRAINERS[kind](config, record, runtime)
