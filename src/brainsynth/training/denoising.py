"""The denoising trainer: one network and its family's loss (``Family.trainer == "denoising"``,
e.g. a diffusion or a flow-matching family).

The family's loss object (``Family.make_loss``) owns the objective: ``draws(n, rng)`` gives
the random numbers of n training images (noise levels, noise, label dropout), calling it
the loss of a batch given them. This trainer owns what is generic (the base class: EMA,
bf16 autocast, channels_last, DDP, the random stream) and the optimiser. Under torchrun
every rank draws the random numbers of the global batch from the same stream and keeps its
rows (as :meth:`Runtime.draw` does for the GANs' latents), and DDP averages the gradients
of the per-rank mean losses, so a run on several processes computes what one process does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from brainsynth.models.checkpoint import ModelRecord
from brainsynth.training.config import TrainConfig
from brainsynth.training.data import EpochSampler
from brainsynth.training.runtime import Runtime, to_device
from brainsynth.training.trainer import Trainer


class DenoisingTrainer(Trainer):
    """A denoising family's network, its loss, its optimiser."""

    def __init__(self, config: TrainConfig, record: ModelRecord, runtime: Runtime) -> None:
        super().__init__(config, record, runtime)
        self.optimizer = self.make_optimizer(self.generator)
        self.loss = self.family.make_loss(record.config, record.shape)
        self._network = self.parallel(self.generator)  # what the loss calls

    def draws(self, local: int) -> dict[str, torch.Tensor]:
        """This rank's ``local`` rows of the global batch's random numbers, on the device."""
        drawn = self.loss.draws(local * self.runtime.world_size, self.noise)
        return {key: to_device(self.runtime.shard(v), self.device) for key, v in drawn.items()}

    def step(self, sampler: EpochSampler, iteration: int) -> dict[str, torch.Tensor]:
        """One optimiser step on a batch: the family's loss, then the EMA."""
        x0 = sampler.next_batch()
        draws = self.draws(x0.shape[0])
        with self.autocast():
            loss, logs = self.loss(self._network, x0, sampler.last_condition, draws)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.update_ema(iteration)
        return logs

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any], path: Path | str) -> None:
        super().load_state_dict(state, path)
        self.load_optimizer(self.optimizer, state["optimizer"], path)
