"""GAN losses on discriminator logits (paper §3.2.2 and named departures), and penalties.

- ``dcgan`` / ``nonsaturating``: the minimax game of eq. (1) with the generator's
  non-saturating form (maximise log D(G(z)), Goodfellow et al. 2014), as BCE on logits.
- ``wgan`` / ``wgan-gp``: the critic estimates the Earth Mover distance of eq. (2) as
  E[D(x)] - E[D(G(z))]; the critic minimises its negative, the generator minimises -E[D(G(z))].
- ``hinge``: max(0, 1 - D(x)) + max(0, 1 + D(G(z))) for the discriminator, -E[D(G(z))] for
  the generator (Lim & Ye 2017; Miyato et al. 2018, eq. 16-17).

Penalties take the gradient of the discriminator with out-of-place ``torch.autograd.grad``
(``create_graph=True``), which works under DistributedDataParallel.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Critic = Callable[[torch.Tensor], torch.Tensor]


def dcgan_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))), averaged: BCE with targets 1 (real) and 0 (fake)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def dcgan_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss -log D(G(z)) (Goodfellow et al. 2014, §3)."""
    return F.softplus(-fake_logits).mean()


def wasserstein_estimate(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """The critic's estimate of W(p_r, p_g), eq. (2): E[D(x)] - E[D(G(z))]."""
    return real_scores.mean() - fake_scores.mean()


def wgan_g_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """The generator minimises -E[D(G(z))] (also hinge's generator loss)."""
    return -fake_scores.mean()


def hinge_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))] (Lim & Ye 2017)."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def gradient_penalty(
    critic: Critic,
    real: torch.Tensor,
    fake: torch.Tensor,
    generator: torch.Generator | None = None,
    alpha: torch.Tensor | None = None,
) -> torch.Tensor:
    """WGAN-GP's penalty E[(||grad D(x_hat)||_2 - 1)^2] on random interpolates x_hat.

    Gulrajani et al. 2017, Algorithm 1; multiply by lambda (10) in the caller. ``generator``
    draws the interpolation weights, so training stays reproducible and resumable; or they
    are given as ``alpha`` (N, 1, 1, 1), e.g. one rank's share of the global batch's.
    """
    if alpha is None:
        alpha = torch.rand(real.shape[0], 1, 1, 1, generator=generator)
    alpha = alpha.to(real.device, real.dtype)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    scores = critic(mixed)
    (grads,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    norms = grads.float().flatten(1).norm(2, dim=1)
    return ((norms - 1.0) ** 2).mean()


def r1_penalty(critic: Critic, real: torch.Tensor) -> torch.Tensor:
    """R1: E[||grad D(x)||^2] on real images (Mescheder et al. 2018, eq. 9); times gamma / 2."""
    real = real.detach().requires_grad_(True)
    scores = critic(real)
    (grads,) = torch.autograd.grad(scores.float().sum(), real, create_graph=True)
    return grads.float().square().flatten(1).sum(dim=1).mean()
