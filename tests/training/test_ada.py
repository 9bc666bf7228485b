"""Adaptive augmentation (Karras et al. 2020b §3): p follows the overfitting heuristic."""

from __future__ import annotations

import math

import pytest
import torch

from brainsynth.errors import BrainsynthError
from brainsynth.training.ada import AdaptiveAugment
from brainsynth.training.runtime import Runtime


def negate(x: torch.Tensor) -> torch.Tensor:
    return -x


class TwoTransforms:
    """An augmentation shaped like the core's DiffAugment: a policy and one method each."""

    policy = ("shift", "scale")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale(self.shift(x))

    def shift(self, x: torch.Tensor) -> torch.Tensor:
        return x + 1.0

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        return x * 10.0


def test_p_rises_when_the_discriminator_overfits_and_falls_when_it_does_not() -> None:
    ada = AdaptiveAugment(negate, target=0.6, adjust_kimg=1.0, interval=4)
    confident = torch.ones(32)  # r_t = 1 > 0.6
    for _ in range(8):
        ada.update(confident)
    # Two adjustments of 4 steps x 32 images each, 128 / 1000 per adjustment.
    assert ada.p == pytest.approx(0.256)
    assert ada.stats() == {"ada_p": pytest.approx(0.256), "ada_rt": 1.0}
    unsure = torch.tensor([1.0, -1.0] * 16)  # r_t = 0 < 0.6
    for _ in range(4):
        ada.update(unsure)
    assert ada.p == pytest.approx(0.128)
    for _ in range(40):
        ada.update(unsure)
    assert ada.p == 0.0  # clipped at 0
    for _ in range(400):
        ada.update(confident)
    assert ada.p == 1.0  # and at 1


def test_p_only_moves_every_interval() -> None:
    ada = AdaptiveAugment(negate, adjust_kimg=1.0, interval=4)
    for _ in range(3):
        ada.update(torch.ones(10))
    assert ada.p == 0.0
    ada.update(torch.ones(10))
    assert ada.p == pytest.approx(0.04)


def test_each_image_is_augmented_with_probability_p() -> None:
    ada = AdaptiveAugment(negate, seed=3, p=0.3)
    x = torch.ones(20_000, 1, 1, 1)
    share = (ada(x) < 0).float().mean().item()
    # Binomial(20000, 0.3): standard deviation 0.0032; 5 standard deviations = 0.016.
    assert abs(share - 0.3) < 5 * math.sqrt(0.3 * 0.7 / 20_000)
    assert torch.equal(AdaptiveAugment(negate, p=0.0)(x), x)
    assert torch.equal(AdaptiveAugment(negate, p=1.0)(x), -x)


def test_transforms_of_a_policy_are_gated_independently() -> None:
    ada = AdaptiveAugment(TwoTransforms(), seed=1, p=0.5)
    out = ada(torch.zeros(4000, 1, 1, 1)).reshape(-1)
    # 0 (none), 1 (shift), 0 (scale of 0) and 10 (both): each a quarter of 4,000 images.
    shifted_only = (out == 1).float().mean().item()
    both = (out == 10).float().mean().item()
    sd = math.sqrt(0.25 * 0.75 / 4000)  # 0.0068
    assert abs(shifted_only - 0.25) < 5 * sd and abs(both - 0.25) < 5 * sd


def test_state_round_trip_continues_identically() -> None:
    a = AdaptiveAugment(negate, adjust_kimg=1.0, seed=5, p=0.5)
    for _ in range(5):
        a.update(torch.ones(8))
    a(torch.ones(16, 1, 2, 2))
    b = AdaptiveAugment(negate, adjust_kimg=1.0, seed=99)
    b.load_state_dict(a.state_dict())
    x = torch.ones(64, 1, 2, 2)
    assert torch.equal(a(x), b(x))
    for ada in (a, b):
        for _ in range(3):
            ada.update(torch.ones(8))
    assert a.p == b.p and a.state_dict()["steps"] == 8


def test_statistics_are_summed_over_processes() -> None:
    ada = AdaptiveAugment(negate, adjust_kimg=1.0, interval=1)
    ada.update(torch.ones(10), all_reduce=lambda t: t * 2)  # two identical ranks
    assert ada.p == pytest.approx(0.02)


def test_each_rank_gates_its_rows_of_the_global_batch() -> None:
    """A rank of 2 augments exactly the images that one process would among its rows."""
    x = torch.arange(1.0, 9.0).reshape(8, 1, 1, 1)
    whole = AdaptiveAugment(negate, seed=2, p=0.5)(x)
    for rank in (0, 1):
        runtime = Runtime(torch.device("cpu"), rank=rank, world_size=2)
        part = AdaptiveAugment(negate, seed=2, p=0.5, runtime=runtime)(x[rank * 4 : rank * 4 + 4])
        assert torch.equal(part, whole[rank * 4 : rank * 4 + 4])
    assert (whole < 0).any() and (whole > 0).any()  # seed 2 gates some images, not all


def test_bad_settings_are_one_line_errors() -> None:
    with pytest.raises(BrainsynthError, match="target must be in"):
        AdaptiveAugment(negate, target=1.5)
    with pytest.raises(BrainsynthError, match="interval >= 1"):
        AdaptiveAugment(negate, interval=0)
