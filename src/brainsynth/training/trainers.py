"""Which trainer trains a family: ``Family.trainer`` names one of :data:`TRAINERS`."""

from __future__ import annotations

from brainsynth.models.checkpoint import ModelRecord
from brainsynth.training.adversarial import AdversarialTrainer
from brainsynth.training.config import TrainConfig
from brainsynth.training.denoising import DenoisingTrainer
from brainsynth.training.runtime import Runtime
from brainsynth.training.trainer import Trainer

TRAINERS: dict[str, type[Trainer]] = {
    "adversarial": AdversarialTrainer,
    "denoising": DenoisingTrainer,
}
"""Trainer names (those of :data:`brainsynth.models.family.TRAINER_NAMES`) -> classes."""


def make_trainer(config: TrainConfig, record: ModelRecord, runtime: Runtime) -> Trainer:
    """The trainer of ``record``'s family."""
    return TRAINERS[record.family.trainer](config, record, runtime)
