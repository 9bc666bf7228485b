"""What every family's trainer shares: networks, optimisers, EMA, autocast, DDP, sampling.

The loop (:mod:`brainsynth.training.loop`) is the same for every family: it calls ``step``
once per iteration and saves ``state_dict()`` as the checkpoint's ``trainer`` part. A family
names its trainer (``Family.trainer``); :mod:`brainsynth.training.trainers` maps the name to
a subclass of :class:`Trainer`: :class:`~brainsynth.training.adversarial.AdversarialTrainer`
(a generator against a discriminator) or
:class:`~brainsynth.training.denoising.DenoisingTrainer` (one network and its family's loss).
A subclass says how one iteration goes and what else its state holds; a third trainer (e.g.
a latent model's autoencoder stage) is one more small file.

This base builds the family's networks on the device, channels_last (under torchrun with
their batch norms as ``run.batch_norm`` says), keeps the generator's exponential moving
average, the random stream ``noise`` (latents, or a denoiser's draws; seeded ``seed + 1``)
and bf16 autocast, wraps networks in DDP (:func:`data_parallel`), and samples a grid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from brainsynth.errors import BrainsynthError
from brainsynth.models.checkpoint import ModelRecord, load_state_checked
from brainsynth.models.generator import Condition
from brainsynth.models.shape import ModelShape
from brainsynth.training.batch_norm import prepare_batch_norm
from brainsynth.training.config import OptimizerConfig, TrainConfig
from brainsynth.training.data import EpochSampler
from brainsynth.training.distributed import data_parallel
from brainsynth.training.ema import GeneratorEma
from brainsynth.training.runtime import Runtime, to_device


def make_optimizer(params: Any, config: OptimizerConfig) -> torch.optim.Optimizer:
    """RMSprop (WGAN, Arjovsky et al.; paper §3.2.2) or Adam with the configured betas."""
    if config.kind == "rmsprop":
        return torch.optim.RMSprop(params, lr=config.lr)
    betas = config.betas or (0.9, 0.999)
    return torch.optim.Adam(params, lr=config.lr, betas=(float(betas[0]), float(betas[1])))


class Trainer:
    """One family's networks and training state; subclasses define :meth:`step`.

    ``networks``: the family's networks on the device, the generator (saved as
    ``trainer["generator"]``, with ``generator_ema`` when EMA is on) first; ``record``: what
    is trained; ``images_per_iteration``: real images one iteration reads (global batch,
    logged as images per second).
    """

    def __init__(self, config: TrainConfig, record: ModelRecord, runtime: Runtime) -> None:
        self.config, self.record, self.runtime = config, record, runtime
        self.family = record.family
        self.shape: ModelShape = record.shape
        self.device = runtime.device
        networks = [
            net.to(self.device, memory_format=torch.channels_last) for net in record.build()
        ]
        if runtime.distributed:
            networks = [prepare_batch_norm(net, config.run.batch_norm) for net in networks]
        # The plain modules: what is saved, sampled, averaged by the EMA and clipped.
        self.networks: tuple[nn.Module, ...] = tuple(networks)
        self.generator = self.networks[0]
        self.noise = torch.Generator().manual_seed(config.run.seed + 1)
        self.ema = (
            GeneratorEma(self.generator, config.ema, config.run.batch)
            if config.ema.enabled
            else None
        )
        self.bf16 = config.run.precision == "bf16"

    @property
    def images_per_iteration(self) -> int:
        return self.config.run.batch

    def make_optimizer(self, network: nn.Module) -> torch.optim.Optimizer:
        """The run's optimiser (:func:`make_optimizer`) of ``network``'s parameters."""
        return make_optimizer(network.parameters(), self.config.optimizer)

    def parallel(self, network: nn.Module, compiled: bool | None = None) -> nn.Module:
        """What a step calls for ``network``: under DDP when distributed, and through
        ``torch.compile`` when ``run.compile`` asks (and ``compiled`` does not say no)."""
        wrapped = data_parallel(network, self.runtime)
        use_compile = self.config.run.compile if compiled is None else compiled
        return torch.compile(wrapped) if use_compile else wrapped

    def batch_draw(self, n: int, sample: Any) -> torch.Tensor:
        """This process's ``n`` rows of ``sample(global_n)``, on the device
        (:meth:`Runtime.draw`): random numbers that do not depend on the process count."""
        return to_device(self.runtime.draw(n, sample), self.device)

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def step(self, sampler: EpochSampler, iteration: int) -> dict[str, torch.Tensor]:
        """Iteration number ``iteration + 1``; the detached scalars it reports."""
        raise NotImplementedError

    def update_ema(self, iteration: int) -> None:
        if self.ema is not None:
            self.ema.update(self.generator, (iteration + 1) * self.config.run.batch)

    def sampling_generator(self) -> nn.Module:
        """The EMA generator when the run keeps one, else the trained generator."""
        return self.ema.model if self.ema is not None else self.generator

    @torch.no_grad()
    def sample(self, noise: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """Raw images (float32) of ``noise`` (N, *noise_shape) by the sampler's defaults, in
        eval mode (batch norms' running statistics); a conditional generator gets the classes
        0, 1, ..., K-1 in turn, a mask-conditional one ``masks`` (N, C, H, W) in [-1, 1]."""
        generator = self.sampling_generator()
        was_training = generator.training
        generator.eval()
        labels = None
        if self.shape.num_classes:
            labels = (torch.arange(len(noise)) % self.shape.num_classes).to(self.device)
        try:
            with self.autocast():
                condition = Condition(labels, None if masks is None else masks.to(self.device))
                return generator.generate(noise.to(self.device), condition).float()
        finally:
            generator.train(was_training)

    def state_dict(self) -> dict[str, Any]:
        """The generator, its EMA and the random stream; subclasses add theirs."""
        state = {"generator": self.generator.state_dict(), "noise": self.noise.get_state()}
        if self.ema is not None:
            state["generator_ema"] = self.ema.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any], path: Path | str) -> None:
        """Restore what :meth:`state_dict` saved (subclasses restore theirs too)."""
        load_state_checked(self.generator, state["generator"], "generator", path)
        self.noise.set_state(state["noise"])
        if self.ema is not None:
            ema_state = state.get("generator_ema")
            if ema_state is None:
                raise BrainsynthError(f"{path}: this run keeps an EMA, the checkpoint has none")
            load_state_checked(self.ema.model, ema_state, "generator_ema", path)

    @staticmethod
    def load_optimizer(optimizer: torch.optim.Optimizer, state: Any, path: Path | str) -> None:
        """``optimizer.load_state_dict`` with a one-line error when it does not match."""
        try:
            optimizer.load_state_dict(state)
        except (ValueError, KeyError) as exc:
            raise BrainsynthError(f"{path}: optimiser state does not match ({exc})") from exc
