"""The adversarial trainer: one iteration (= one generator update) of a GAN, any GAN family
and objective (a family whose ``trainer`` is ``adversarial``; :mod:`.denoising` is the other).

Speed (issue §8): models and batches are channels_last; ``precision="bf16"`` runs forward
passes under bf16 autocast (CPU and CUDA), losses are computed in fp32; the discriminator's
parameters are frozen during the generator update so no unused weight gradients are computed.
All randomness (latents, GP interpolation weights, augmentation, and noise a generator draws
itself, shared through its ``share_training_draws`` hook) comes from this object's own
``torch.Generator``\\ s, saved in checkpoints so resume is exact.

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

from brainsynth.errors import BrainsynthError
from brainsynth.models.checkpoint import ModelRecord, load_state_checked
from brainsynth.models.generator import Condition
from brainsynth.training.ada import AdaptiveAugment
from brainsynth.training.augment import DiffAugment
from brainsynth.training.config import TrainConfig
from brainsynth.training.data import EpochSampler
from brainsynth.training.distributed import sum_over_ranks
from brainsynth.training.objectives import make_objective
from brainsynth.training.runtime import Runtime
from brainsynth.training.trainer import Trainer


class AdversarialTrainer(Trainer):
    """Generator, discriminator, their optimisers, objective, augmentation and latent RNG."""

    def __init__(self, config: TrainConfig, record: ModelRecord, runtime: Runtime) -> None:
        super().__init__(config, record, runtime)
        self.discriminator = self.networks[1]
        self.opt_g = self.make_optimizer(self.generator)
        self.opt_d = self.make_optimizer(self.discriminator)
        seed = config.run.seed
        self.objective = make_objective(config.objective, self.noise, runtime)
        # Masks (generated or given) are augmented with their images, geometry alike; the
        # intensity policy changes the image channels only.
        self.augment = DiffAugment(config.augment.policy, seed + 3, runtime,
                                   image_channels=record.shape.channels)  # fmt: skip
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
        # After the EMA's copy (base class), which keeps drawing its own.
        self.generator.share_training_draws(self.batch_draw)
        # What the steps call: under DDP when distributed, compiled when asked (the
        # discriminator only without gradient penalties: compiled graphs have no double
        # backward).
        penalties = config.objective.gp_lambda or config.objective.r1_gamma
        self._g = self.parallel(self.generator)
        self._d = self.parallel(self.discriminator, False if penalties else None)

    @property
    def images_per_iteration(self) -> int:
        """Real images one iteration reads (global): a batch per discriminator update."""
        return self.config.run.batch * self.objective.n_critic

    def _sum_over_ranks(self, values: torch.Tensor) -> torch.Tensor:
        return sum_over_ranks(self.runtime, values)

    def latent(self, n: int) -> torch.Tensor:
        """This rank's ``n`` latent vectors of the global batch's draw, on the device."""
        latent = self.shape.latent
        return self.batch_draw(n, lambda m: torch.randn(m, latent, generator=self.noise))

    def _fakes(self, z: torch.Tensor, condition: Condition) -> torch.Tensor:
        """The generator's images of ``z`` for ``condition`` (under DDP when distributed)."""
        if condition.masks is not None:
            return self._g(z, condition.labels, condition.masks)
        return self._g(z, condition.labels)

    @staticmethod
    def _with_masks(x: torch.Tensor, condition: Condition) -> torch.Tensor:
        """The images with their condition masks as more channels: a mask-conditional
        discriminator judges the pair (pix2pix, Isola et al. 2017 §3.2)."""
        if condition.masks is None:
            return x
        return torch.cat([x, condition.masks.to(x.dtype)], dim=1)

    def _critic(self, x: torch.Tensor, condition: Condition) -> torch.Tensor:
        """What every discriminator call sees: the augmented images (same policy for all)."""
        return self._d(self._augment(self._with_masks(x, condition)), condition.labels)

    def _frozen_critic(self, x: torch.Tensor, condition: Condition) -> torch.Tensor:
        """The same, in the generator update: the plain module, outside DDP."""
        return self.discriminator(self._augment(self._with_masks(x, condition)), condition.labels)

    def step(self, sampler: EpochSampler, iteration: int) -> dict[str, torch.Tensor]:
        """Generator update number ``iteration + 1`` after ``n_critic`` discriminator updates.

        Conditional runs: fakes are generated for the condition of the real batch (its class
        ids), and the discriminator judges real and fake images each with it (projection
        discriminator, Miyato & Koyama 2018); the generator update uses the last batch's.
        Returns the detached scalars the objective reports.
        """
        objective, logs = self.objective, {}
        fake, condition = None, Condition()
        for k in range(objective.n_critic):
            real = sampler.next_batch()
            condition = sampler.last_condition
            critic = functools.partial(self._critic, condition=condition)
            z = self.latent(real.shape[0])
            keep_graph = objective.reuse_fakes and k == objective.n_critic - 1
            with self.autocast():
                with torch.set_grad_enabled(keep_graph):
                    fake = self._fakes(z, condition)
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
            with self.autocast():
                fake = self._fakes(self.latent(sampler.local_batch), condition)
        self.discriminator.requires_grad_(False)
        with self.autocast():
            critic = functools.partial(self._frozen_critic, condition=condition)
            loss_g, g_logs = objective.generator_loss(critic, fake)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.discriminator.requires_grad_(True)
        self.update_ema(iteration)
        return {**logs, **g_logs}

    def state_dict(self) -> dict[str, Any]:
        state = {
            **super().state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "objective": self.objective.state_dict(),
            "augment": self.augment.state_dict(),
        }
        if self.ada is not None:
            state["ada"] = self.ada.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any], path: Any) -> None:
        """Restore from a checkpoint's ``trainer`` part (any readable version's: 0.1.0's has
        no objective or augmentation state)."""
        super().load_state_dict(state, path)
        load_state_checked(self.discriminator, state["discriminator"], "discriminator", path)
        self.load_optimizer(self.opt_g, state["opt_g"], path)
        self.load_optimizer(self.opt_d, state["opt_d"], path)
        if "objective" in state:
            self.objective.load_state_dict(state["objective"])
        if "augment" in state:
            self.augment.load_state_dict(state["augment"])
        if self.ada is not None:
            if "ada" not in state:
                raise BrainsynthError(f"{path}: this run adapts its augmentation (ADA), the "
                                      "checkpoint has no ADA state")  # fmt: skip
            self.ada.load_state_dict(state["ada"])
