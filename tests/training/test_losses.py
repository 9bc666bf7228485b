"""GAN losses (paper §3.2.2) against their textbook definitions."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from brainsynth.training import losses


@pytest.mark.numerics
def test_dcgan_losses_are_bce_on_logits() -> None:
    real, fake = torch.randn(16), torch.randn(16)
    expected_d = F.binary_cross_entropy_with_logits(
        real, torch.ones(16)
    ) + F.binary_cross_entropy_with_logits(fake, torch.zeros(16))
    assert torch.allclose(losses.dcgan_d_loss(real, fake), expected_d, atol=1e-6)
    # Non-saturating generator loss: -log D(G(z)).
    expected_g = -torch.log(torch.sigmoid(fake)).mean()
    assert torch.allclose(losses.dcgan_g_loss(fake), expected_g, atol=1e-5)


def test_wasserstein_losses() -> None:
    real, fake = torch.tensor([3.0, 5.0]), torch.tensor([1.0, 1.0])
    assert losses.wasserstein_estimate(real, fake).item() == 3.0
    assert losses.wgan_g_loss(fake).item() == -1.0


@pytest.mark.numerics
def test_gradient_penalty_of_linear_critics() -> None:
    class Linear(nn.Module):
        def __init__(self, norm: float) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.randn(1, 1, 4, 4))
            with torch.no_grad():
                self.w.mul_(norm / self.w.norm())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return (x * self.w).flatten(1).sum(1)

    real, fake = torch.randn(8, 1, 4, 4), torch.randn(8, 1, 4, 4)
    g = torch.Generator().manual_seed(0)
    assert losses.gradient_penalty(Linear(1.0), real, fake, g).item() < 1e-10
    penalty = losses.gradient_penalty(Linear(3.0), real, fake, g)
    assert abs(penalty.item() - 4.0) < 1e-4
    penalty.backward()  # differentiable w.r.t. the critic's parameters (create_graph)
