"""One training iteration of a denoiser family (``TRAINER = "denoiser"``, e.g. ``ddpm``).

The family's generator owns its objective: :meth:`draws` gives the random numbers of n
training images (timesteps, noise, label dropout), :meth:`loss` the loss of a batch given
them. This trainer owns what is generic: the optimiser, the EMA of the weights, bf16
autocast and channels_last, DDP, and the random stream. Under torchrun every rank draws the
random numbers of the global batch from the same stream and keeps its rows (as
:meth:`Runtime.draw` does for the GANs' latents), and DDP averages the gradients of the
per-rank mean losses, so a run on several processes computes what one process does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from brainsynth.errors import BrainsynthError
from brainsynth.models.checkpoint import ModelRecord, load_state_checked
from brainsynth.models.shape import ModelShape
from brainsynth.training.config import TrainConfig
from brainsynth.training.data import EpochSampler
from brainsynth.training.distributed import data_parallel
from brainsynth.training.ema import GeneratorEma
from brainsynth.training.runtime import Runtime, to_device
from brainsynth.training.step import make_optimizer


class DenoiserTrainer:
    """A denoiser generator, its optimiser, EMA and random stream."""

    def __init__(self, config: TrainConfig, record: ModelRecord, runtime: Runtime) -> None:
        self.config, self.record, self.runtime = config, record, runtime
        self.shape: ModelShape = record.shape
        self.device = runtime.device
        generator = record.build()[0].to(self.device, memory_format=torch.channels_last)
        self.generator = generator  # the plain module: saved, sampled, averaged by the EMA
        self.optimizer = make_optimizer(generator.parameters(), config.optimizer)
        self.noise = torch.Generator().manual_seed(config.run.seed + 1)
        self.ema = (
            GeneratorEma(generator, config.ema, config.run.batch) if config.ema.enabled else None
        )
        self.bf16 = config.run.precision == "bf16"
        self._denoise = data_parallel(generator, runtime)  # what the loss calls
        if config.run.compile:
            self._denoise = torch.compile(self._denoise)

    @property
    def images_per_iteration(self) -> int:
        return self.config.run.batch

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def draws(self, local: int) -> dict[str, torch.Tensor]:
        """This rank's ``local`` rows of the global batch's random numbers, on the device."""
        drawn = self.generator.draws(local * self.runtime.world_size, self.noise)
        return {key: to_device(self.runtime.shard(v), self.device) for key, v in drawn.items()}

    def step(self, sampler: EpochSampler, iteration: int) -> dict[str, torch.Tensor]:
        """One optimiser step on a batch: the family's loss, then the EMA."""
        x0 = sampler.next_batch()
        draws = self.draws(x0.shape[0])
        with self._autocast():
            loss, logs = self.generator.loss(self._denoise, x0, sampler.last_labels, draws)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update(self.generator, (iteration + 1) * self.config.run.batch)
        return logs

    def sampling_generator(self) -> nn.Module:
        return self.ema.model if self.ema is not None else self.generator

    @torch.no_grad()
    def sample(self, noise: torch.Tensor) -> torch.Tensor:
        """The sampler's default settings on ``noise``; classes 0, 1, ..., K-1 in turn."""
        generator = self.sampling_generator()
        was_training = generator.training
        generator.eval()
        labels = None
        if self.shape.num_classes:
            labels = (torch.arange(len(noise)) % self.shape.num_classes).to(self.device)
        try:
            with self._autocast():
                return generator.generate(noise.to(self.device), labels).float()
        finally:
            generator.train(was_training)

    def state_dict(self) -> dict[str, Any]:
        state = {
            "generator": self.generator.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "noise": self.noise.get_state(),
        }
        if self.ema is not None:
            state["generator_ema"] = self.ema.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any], path: Path | str) -> None:
        """Restore from a checkpoint's ``trainer`` part."""
        load_state_checked(self.generator, state["generator"], "generator", path)
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError) as exc:
            raise BrainsynthError(f"{path}: optimiser state does not match ({exc})") from exc
        self.noise.set_state(state["noise"])
        if self.ema is not None:
            ema_state = state.get("generator_ema")
            if ema_state is None:
                raise BrainsynthError(f"{path}: this run keeps an EMA, the checkpoint has none")
            load_state_checked(self.ema.model, ema_state, "generator_ema", path)
