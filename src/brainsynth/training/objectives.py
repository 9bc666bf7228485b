"""GAN objectives as objects: the losses of one discriminator and one generator update.

An objective is built from an :class:`~brainsynth.training.config.ObjectiveConfig` (with its
per-objective defaults resolved). The trainer owns networks, optimisers and batches; it calls

- :meth:`Objective.discriminator_loss` ``n_critic`` times per iteration, then
  :meth:`Objective.after_discriminator_step` (WGAN's weight clipping),
- :meth:`Objective.generator_loss` once,

each returning ``(loss, logs)`` where ``logs`` is a dict of detached scalars; the loop,
TensorBoard and ``metrics.jsonl`` record whatever comes back. ``critic`` is a callable
``x -> logits`` that applies the run's augmentation and labels before the discriminator, so
penalties see exactly what the losses see.

Adding an objective: a subclass with ``NAME`` and its terms, one entry in :data:`OBJECTIVES`
here and one row of defaults in :data:`brainsynth.training.config.OBJECTIVE_DEFAULTS`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from brainsynth.training import losses
from brainsynth.training.config import ObjectiveConfig
from brainsynth.training.losses import Critic
from brainsynth.training.runtime import Runtime, to_device

Logs = dict[str, torch.Tensor]


class Objective:
    """Shared machinery: gradient penalty, lazy R1, clipping; subclasses give the terms."""

    NAME = ""
    reuse_fakes = False  # the generator update reuses the last discriminator step's fakes

    def __init__(
        self, config: ObjectiveConfig, noise: torch.Generator, runtime: Runtime | None = None
    ) -> None:
        self.config = config
        self.n_critic = int(config.n_critic or 1)
        self.noise = noise  # draws the GP interpolation weights (saved by the trainer)
        self.runtime = runtime or Runtime(torch.device("cpu"))  # whose rows of the draws
        self.d_steps = 0  # discriminator updates so far: schedules lazy R1
        self.last_real_logits: torch.Tensor | None = None  # of the last discriminator step

    def terms(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> tuple[Any, Logs]:
        """The discriminator's loss on the logits, and what to log besides ``loss_d``."""
        raise NotImplementedError

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def discriminator_loss(
        self, critic: Critic, real: torch.Tensor, fake: torch.Tensor
    ) -> tuple[torch.Tensor, Logs]:
        """One discriminator update's loss on ``real`` and (detached) ``fake`` images."""
        real_logits = critic(real).float()
        loss, logs = self.terms(real_logits, critic(fake).float())
        self.last_real_logits = real_logits.detach()  # ADA's overfitting heuristic reads it
        if self.config.gp_lambda:
            alpha = self.runtime.draw(  # the global batch's weights, this rank's rows
                real.shape[0], lambda n: torch.rand(n, 1, 1, 1, generator=self.noise)
            )
            alpha = to_device(alpha, real.device)
            penalty = losses.gradient_penalty(critic, real, fake, alpha=alpha)
            loss = loss + self.config.gp_lambda * penalty
            logs["gp"] = penalty.detach()
        self.d_steps += 1
        gamma, every = self.config.r1_gamma or 0.0, self.config.r1_every
        if gamma and self.d_steps % every == 0:
            penalty = losses.r1_penalty(critic, real)
            loss = loss + 0.5 * gamma * every * penalty
            logs["r1"] = penalty.detach()
        return loss, {"loss_d": loss.detach(), **logs}

    def generator_loss(self, critic: Critic, fake: torch.Tensor) -> tuple[torch.Tensor, Logs]:
        """The generator update's loss on ``fake`` images (with their graph)."""
        loss = self.g_loss(critic(fake).float())
        return loss, {"loss_g": loss.detach()}

    @torch.no_grad()
    def after_discriminator_step(self, discriminator: nn.Module) -> None:
        """Arjovsky et al. 2017: clamp every critic parameter to [-c, c] (when ``clip``)."""
        if self.config.clip:
            for param in discriminator.parameters():
                param.clamp_(-self.config.clip, self.config.clip)

    def state_dict(self) -> dict[str, Any]:
        return {"d_steps": self.d_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.d_steps = int(state["d_steps"])


class Dcgan(Objective):
    """The paper's DCGAN game (eq. 1), non-saturating generator loss; fakes reused for G
    (as in Radford et al.'s and PyTorch's DCGAN reference)."""

    NAME = "dcgan"
    reuse_fakes = True

    def terms(self, real_logits, fake_logits):
        return losses.dcgan_d_loss(real_logits, fake_logits), {}

    def g_loss(self, fake_logits):
        return losses.dcgan_g_loss(fake_logits)


class NonSaturating(Dcgan):
    """The same logistic loss, named as StyleGAN2 names it (defaults: its optimiser + R1)."""

    NAME = "nonsaturating"


class Wgan(Objective):
    """WGAN (eq. 2) and WGAN-GP: the critic's Wasserstein estimate is logged."""

    NAME = "wgan"

    def terms(self, real_logits, fake_logits):
        estimate = losses.wasserstein_estimate(real_logits, fake_logits)
        return -estimate, {"wasserstein": estimate.detach()}

    def g_loss(self, fake_logits):
        return losses.wgan_g_loss(fake_logits)


class WganGp(Wgan):
    NAME = "wgan-gp"


class Hinge(Objective):
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018)."""

    NAME = "hinge"
    reuse_fakes = True

    def terms(self, real_logits, fake_logits):
        return losses.hinge_d_loss(real_logits, fake_logits), {}

    def g_loss(self, fake_logits):
        return losses.wgan_g_loss(fake_logits)


OBJECTIVES: dict[str, type[Objective]] = {
    cls.NAME: cls for cls in (Dcgan, Wgan, WganGp, Hinge, NonSaturating)
}


def make_objective(
    config: ObjectiveConfig, noise: torch.Generator, runtime: Runtime | None = None
) -> Objective:
    """The objective ``config.name`` (per-objective defaults already resolved)."""
    return OBJECTIVES[config.name](config, noise, runtime)
