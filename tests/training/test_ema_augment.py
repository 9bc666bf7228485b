"""EMA of the generator (half-life, ramp-up, buffers) and DiffAugment (policies, RNG)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from brainsynth.training import train
from brainsynth.training.augment import DiffAugment
from brainsynth.training.config import EmaConfig
from brainsynth.training.ema import GeneratorEma, ema_beta


def test_half_life_in_images() -> None:
    config = EmaConfig(half_life_kimg=10, rampup=None)
    beta = ema_beta(config, batch=64, images_seen=10**6)
    # After half_life / batch updates an old weight's share has halved.
    assert math.isclose(beta ** (10_000 / 64), 0.5, rel_tol=1e-9)


def test_rampup_caps_the_half_life_early() -> None:
    config = EmaConfig(half_life_kimg=10, rampup=0.05)
    # 2,000 images seen: half-life min(10,000, 0.05 * 2,000 = 100) images.
    assert math.isclose(ema_beta(config, 50, 2_000), 0.5 ** (50 / 100))
    # Late in training the ramp-up no longer binds.
    assert ema_beta(config, 50, 10**7) == ema_beta(EmaConfig(10, None), 50, 10**7)


def test_parameters_averaged_buffers_copied() -> None:
    generator = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    ema = GeneratorEma(generator, EmaConfig(half_life_kimg=0.001, rampup=None), batch=1)
    before = [p.detach().clone() for p in ema.model.parameters()]
    with torch.no_grad():
        for p in generator.parameters():
            p.add_(1.0)
    generator(torch.randn(8, 3))  # train mode: updates the BN running statistics
    ema.update(generator, images_seen=1)
    beta = 0.5 ** (1 / 1.0)
    for old, averaged, current in zip(before, ema.model.parameters(), generator.parameters(),
                                      strict=True):  # fmt: skip
        assert torch.allclose(averaged, beta * old + (1 - beta) * current)
    for kept, current in zip(ema.model.buffers(), generator.buffers(), strict=True):
        assert torch.equal(kept, current)
    assert not any(p.requires_grad for p in ema.model.parameters())


def brains(n: int = 6, size: int = 16) -> torch.Tensor:
    """Discs of brain (values in (-1, 1]) on an exactly black (-1) background."""
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    disc = (yy**2 + xx**2 < 0.5).float()
    texture = torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(0))
    return torch.where(disc.bool(), texture * 1.6 - 0.6, torch.full_like(texture, -1.0))


@pytest.mark.parametrize("policy", [("translation",), ("cutout",), ("intensity",)])
def test_policies_change_the_brain_not_the_black(policy) -> None:
    x = brains()
    out = DiffAugment(policy, seed=0)(x)
    assert out.shape == x.shape and not torch.equal(out, x)
    if policy == ("intensity",):
        assert torch.equal(out == -1.0, x == -1.0)  # background exactly black, brain not
    else:
        assert out.min() >= -1.0 and set(out.unique().tolist()) <= set(x.unique().tolist())


def test_augmentation_is_differentiable_and_seeded() -> None:
    x = brains().requires_grad_(True)
    policy = ("translation", "cutout", "intensity")
    a = DiffAugment(policy, seed=3)
    out = a(x)
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    b = DiffAugment(policy, seed=3)
    b.load_state_dict(DiffAugment(policy, seed=3).state_dict())
    assert torch.equal(b(x.detach()), out.detach())
    # The state carries the RNG: a restored copy continues where the original stands.
    c = DiffAugment(policy, seed=99)
    c.load_state_dict(a.state_dict())
    assert torch.equal(c(x.detach()), a(x.detach()))
    assert DiffAugment((), seed=0)(x) is x


def test_runs_sample_their_ema_unless_asked_for_raw(blob_prepared, tiny, tmp_path) -> None:
    from brainsynth.errors import BrainsynthError
    from brainsynth.sampling import generate, generate_with_info

    plain = train(tiny(blob_prepared, tmp_path / "plain", iters=2))
    with pytest.raises(BrainsynthError, match="kept no EMA generator"):
        generate(plain, n=2, weights="ema")
    assert generate_with_info(plain, n=2)[1]["weights"] == "raw"
    # A half-life of 10 images: the average trails the weights visibly after 8 updates.
    run = train(tiny(blob_prepared, tmp_path / "ema", iters=8, ema_half_life=0.01))
    ema, info = generate_with_info(run, n=8, seed=1)
    raw, raw_info = generate_with_info(run, n=8, seed=1, weights="raw")
    assert info["weights"] == "ema" and raw_info["weights"] == "raw"
    assert not np.array_equal(ema, raw)
    assert np.array_equal(ema, generate(run, n=8, seed=1, weights="ema"))
