"""Training generators of every family: :class:`TrainConfig`, :func:`train`, :func:`resume`.

The configs import without torch; ``train``/``resume``/``run_training`` load the training
machinery (torch) on first use, so the command line's ``--help`` stays instant.
"""

from __future__ import annotations

from brainsynth.lazy import lazy_exports
from brainsynth.training.config import (
    AugmentConfig,
    DataConfig,
    EmaConfig,
    ModelConfig,
    ObjectiveConfig,
    OptimizerConfig,
    RunConfig,
    TrainConfig,
)
from brainsynth.training.run_folder import is_finished

_LAUNCH = ("train", "resume", "run_training", "resume_training")
__getattr__ = lazy_exports(__name__, dict.fromkeys(_LAUNCH, "launch"))


__all__ = [
    "AugmentConfig",
    "DataConfig",
    "EmaConfig",
    "ModelConfig",
    "ObjectiveConfig",
    "OptimizerConfig",
    "RunConfig",
    "TrainConfig",
    "is_finished",
    *_LAUNCH,
]
