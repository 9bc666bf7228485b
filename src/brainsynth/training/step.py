"""One training iteration (= one generator update) of a GAN, any architecture and objective.

(:mod:`brainsynth.training.trainer` picks the trainer of an architecture's family; this is
the ``"gan"`` one, :mod:`brainsynth.training.denoise` the ``"denoiser"`` one.)

Speed (issue §8): models and batches are channels_last; ``precision="bf16"`` runs forward
passes under bf16 autocast (CPU and CUDA), losses are computed in fp32; the discriminator's
parameters are frozen during the generator update so no unused weight gradients are computed.
All randomness (latents, GP interpolation weights, augmentation) comes from this object's
own ``torch.Generator``\\ s, saved in checkpoints so resume is exact.

With several ranks (torchrun), each draws the random numbers of the global batch and keeps
its rows (:meth:`Runtime.draw`); the networks' batch norms follow ``run.batch_norm``, and
DDP averages their gradients (:mod:`brainsynth.training.distributed`). The discriminator
update goes through DDP; the generator update calls the plain, frozen discriminator (no
gradients of its own to average), and gradients flow to the generator through it, DDP
averaging the generator's. ``run.compile`` runs the networks through ``torch.compile``
(the discriminator only without gradient penalties: compiled graphs have no double
backward).
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn

from brainsynth.errors import BrainsynthError
from brainsynth.models.checkpoint import ModelRecord, load_state_checked
from brainsynth.models.shape import ModelShape
from brainsynth.training.ada import AdaptiveAugment
from brainsynth.training.augment import DiffAugment
from brainsynth.training.batch_norm import prepare_batch_norm
from brainsynth.training.config import OptimizerConfig, TrainConfig
from brainsynth.training.data import EpochSampler
from brainsynth.training.distributed import data_parallel, sum_over_ranks
from brainsynth.training.ema import GeneratorEma
from brainsynth.training.objectives import make_objective
from brainsynth.training.runtime import Runtime, to_device


def make_optimizer(params: Any, config: OptimizerConfig) -> torch.optim.Optimizer:
    """RMSprop (WGAN, Arjovsky et al.; paper §3.2.2) or Adam with the configured betas."""
    if config.kind == "rmsprop":
        return torch.optim.RMSprop(params, lr=config.lr)
    betas = config.betas or (0.9, 0.999)
    return torch.optim.Adam(params, lr=config.lr, betas=(float(betas[0]), float(betas[1])))


class GanTrainer:
    """Generator, discriminator, optimisers, objective, EMA, augmentation and latent RNG."""

    def __init__(self, config: TrainConfig, record: ModelRecord, runtime: Runtime) -> None:
        self.config, self.record, self.runtime = config, record, runtime
        self.shape: ModelShape = record.shape
        self.device = runtime.device
        generator, discriminator = record.build()
        generator = generator.to(self.device, memory_format=torch.channels_last)
        discriminator = discriminator.to(self.device, memory_format=torch.channels_last)
        if runtime.distributed:
            generator = prepare_batch_norm(generator, config.run.batch_norm)
            discriminator = prepare_batch_norm(discriminator, config.run.batch_norm)
        # The plain modules: what is saved, sampled, averaged by the EMA and clipped.
        self.generator, self.discriminator = generator, discriminator
        self.opt_g = make_optimizer(self.generator.parameters(), config.optimizer)
        self.opt_d = make_optimizer(self.discriminator.parameters(), config.optimizer)
        seed = config.run.seed
        self.noise = torch.Generator().manual_seed(seed + 1)
        self.objective = make_objective(config.objective, self.noise, runtime)
        self.augment = DiffAugment(config.augment.policy, seed + 3, runtime)
        augment = config.augment
        self.ada = (
            AdaptiveAugment(
                self.augment, augment.ada_target, augment.ada_kimg, seed=seed + 4, runtime=runtime
            )
            if augment.ada_target is not None
            else None
        )
        # What every discriminator call's images go through: ADA's gates, or DiffAugment.
        self._augment = self.ada or self.augment
        self.ema = (
            GeneratorEma(self.generator, config.ema, config.run.batch)
            if config.ema.enabled
            else None
        )
        if hasattr(generator, "noise_source"):  # after the EMA's copy: it keeps its own
            generator.noise_source = self._generator_noise
        self.bf16 = config.run.precision == "bf16"
        # What the steps call: under DDP when distributed, compiled when asked.
        self._g = data_parallel(generator, runtime)
        self._d = data_parallel(discriminator, runtime)
        if config.run.compile:
            penalties = config.objective.gp_lambda or config.objective.r1_gamma
            self._g = torch.compile(self._g)
            self._d = self._d if penalties else torch.compile(self._d)

    @property
    def images_per_iteration(self) -> int:
        """Real images one iteration reads (global): a batch per discriminator update."""
        return self.config.run.batch * self.objective.n_critic

    def _sum_over_ranks(self, values: torch.Tensor) -> torch.Tensor:
        return sum_over_ranks(self.runtime, values)

    def _generator_noise(self, shape: tuple[int, ...]) -> torch.Tensor:
        """Per-image noise inputs (StyleGAN2's) of this rank's rows: the global batch's draw
        from the generator's own stream, sliced, so they do not depend on the ranks."""
        rng = self.generator.noise_rng
        noise = self.runtime.draw(shape[0], lambda m: torch.randn(m, *shape[1:], generator=rng))
        return to_device(noise, self.device)

    def latent(self, n: int) -> torch.Tensor:
        """This rank's ``n`` latent vectors of the global batch's draw, on the device."""
        z = self.runtime.draw(n, lambda m: torch.randn(m, self.shape.latent, generator=self.noise))
        return to_device(z, self.device)

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def _critic(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """What every discriminator call sees: the augmented images (same policy for all)."""
        return self._d(self._augment(x), labels)

    def _frozen_critic(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The same, in the generator update: the plain module, outside DDP."""
        return self.discriminator(self._augment(x), labels)

    def step(self, sampler: EpochSampler, iteration: int) -> dict[str, torch.Tensor]:
        """Generator update number ``iteration + 1`` after ``n_critic`` discriminator updates.

        Conditional runs: fakes are generated for the class ids of the real batch, and the
        discriminator judges real and fake images each with those ids (projection
        discriminator, Miyato & Koyama 2018); the generator update uses the last batch's.
        Returns the detached scalars the objective reports.
        """
        objective, logs = self.objective, {}
        fake, labels = None, None
        for k in range(objective.n_critic):
            real = sampler.next_batch()
            labels = sampler.last_labels
            critic = functools.partial(self._critic, labels=labels)
            z = self.latent(real.shape[0])
            keep_graph = objective.reuse_fakes and k == objective.n_critic - 1
            with self._autocast():
                with torch.set_grad_enabled(keep_graph):
                    fake = self._g(z, labels)
                loss_d, logs = objective.discriminator_loss(critic, real, fake.detach())
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
            objective.after_discriminator_step(self.discriminator)
            if self.ada is not None:  # r_t over the global batch: sums over the ranks
                self.ada.update(objective.last_real_logits, self._sum_over_ranks)
                ada_logs = self.ada.stats().items()
                logs.update({k: torch.full((), v, device=self.device) for k, v in ada_logs})
        if not objective.reuse_fakes or fake is None:
            with self._autocast():
                fake = self._g(self.latent(sampler.local_batch), labels)
        self.discriminator.requires_grad_(False)
        with self._autocast():
            critic = functools.partial(self._frozen_critic, labels=labels)
            loss_g, g_logs = objective.generator_loss(critic, fake)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.discriminator.requires_grad_(True)
        if self.ema is not None:
            self.ema.update(self.generator, (iteration + 1) * self.config.run.batch)
        return {**logs, **g_logs}

    def sampling_generator(self) -> nn.Module:
        """The EMA generator when the run keeps one, else the trained generator."""
        return self.ema.model if self.ema is not None else self.generator

    @torch.no_grad()
    def sample(self, z: torch.Tensor) -> torch.Tensor:
        """Generator output for ``z`` in eval mode (BN running statistics), as float32;
        a conditional generator gets the classes 0, 1, ..., K-1 in turn."""
        generator = self.sampling_generator()
        was_training = generator.training
        generator.eval()
        labels = None
        if self.shape.num_classes:
            labels = (torch.arange(len(z)) % self.shape.num_classes).to(self.device)
        try:
            with self._autocast():
                return generator.generate(z.to(self.device), labels).float()
        finally:
            generator.train(was_training)

    def state_dict(self) -> dict[str, Any]:
        state = {
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "noise": self.noise.get_state(),
            "objective": self.objective.state_dict(),
            "augment": self.augment.state_dict(),
        }
        if self.ada is not None:
            state["ada"] = self.ada.state_dict()
        if self.ema is not None:
            state["generator_ema"] = self.ema.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any], path: Any) -> None:
        """Restore from a checkpoint's ``trainer`` part (0.1.0's, or this version's)."""
        load_state_checked(self.generator, state["generator"], "generator", path)
        load_state_checked(self.discriminator, state["discriminator"], "discriminator", path)
        try:
            self.opt_g.load_state_dict(state["opt_g"])
            self.opt_d.load_state_dict(state["opt_d"])
        except (ValueError, KeyError) as exc:
            raise BrainsynthError(f"{path}: optimiser state does not match ({exc})") from exc
        self.noise.set_state(state["noise"])
        if "objective" in state:
            self.objective.load_state_dict(state["objective"])
        if "augment" in state:
            self.augment.load_state_dict(state["augment"])
        if self.ada is not None:
            if "ada" not in state:
                raise BrainsynthError(f"{path}: this run adapts its augmentation (ADA), the "
                                      "checkpoint has no ADA state")  # fmt: skip
            self.ada.load_state_dict(state["ada"])
        if self.ema is not None:
            ema_state = state.get("generator_ema")
            if ema_state is None:
                raise BrainsynthError(f"{path}: this run keeps an EMA, the checkpoint has none")
            load_state_checked(self.ema.model, ema_state, "generator_ema", path)
