"""GAN training (paper §3.2.2): :class:`TrainConfig`, :func:`train` and :func:`resume`."""

from brainsynth.training.config import GAN_DEFAULTS, GANS, TrainConfig
from brainsynth.training.loop import resume, train
from brainsynth.training.run_folder import is_finished

__all__ = ["GAN_DEFAULTS", "GANS", "TrainConfig", "is_finished", "resume", "train"]
