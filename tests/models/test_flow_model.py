"""The flow-matching family (``--arch flow``): settings, loss, and the Euler and Heun samplers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from brainsynth.errors import BrainsynthError
from brainsynth.models import family
from brainsynth.models.checkpoint import ModelRecord
from brainsynth.models.generator import Condition
from brainsynth.models.shape import ModelShape

TINY = {"base_channels": 8, "channel_mult": (1, 2), "attention_resolutions": (8,),
        "head_channels": 8, "norm_groups": 4, "sample_steps": 4}  # fmt: skip


def tiny_generator(classes: int = 0, **options):
    """A tiny flow model whose zero-initialised layers get random weights (a fresh MONAI UNet
    predicts 0 everywhere), as a trained model's would be."""
    torch.manual_seed(0)
    shape = ModelShape(size=16, latent=None, num_classes=classes)
    generator = ModelRecord(family("flow"), {**TINY, **options}, shape).build()[0].eval()
    with torch.no_grad():
        for parameter in generator.parameters():
            if parameter.dim() > 1 and not parameter.any():
                parameter.normal_(0.0, 0.1)
    return generator


def noise(n: int = 4, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 1, 16, 16, generator=torch.Generator().manual_seed(seed))


class ExactVelocity(nn.Module):
    """The exact velocity of one data image x*: on x_t = (1 - t) x* + t eps the velocity is
    eps - x* = (x_t - x*) / t, so the flow is a straight line to x* from any noise."""

    def __init__(self, target: torch.Tensor) -> None:
        super().__init__()
        self.target, self.calls = target, 0

    def forward(self, x, t, class_labels=None):
        self.calls += 1
        t = (t / 1000.0).view(-1, 1, 1, 1)  # the generator gives the UNet 1000 t
        return (x - self.target) / t


@pytest.mark.parametrize("solver", ["euler", "heun"])
def test_both_solvers_follow_a_straight_flow_to_its_image(solver: str) -> None:
    """With the exact velocity of one image, every step lands on the straight line, so any
    number of steps ends on the image (up to float rounding); Euler costs one network call
    per step, Heun two but one on the last step (which ends at t = 0)."""
    target = torch.linspace(-0.9, 0.9, 256).reshape(1, 1, 16, 16)
    for steps in (1, 3, 8):
        generator = tiny_generator()
        generator.unet = ExactVelocity(target)
        with torch.no_grad():
            images = generator.generate(noise(), steps=steps, solver=solver)
        assert torch.allclose(images, target.expand(4, -1, -1, -1), atol=1e-5), steps
        assert generator.unet.calls == (steps if solver == "euler" else 2 * steps - 1)


def test_an_endpoint_below_black_is_exactly_black() -> None:
    """The clamp of the implied endpoint: a velocity whose x0 lies far below -1 gives images
    that are exactly 0 after the output mapping."""
    generator = tiny_generator()
    with torch.no_grad():
        generator.unet.out[-1].conv.weight.zero_()
        generator.unet.out[-1].conv.bias.fill_(50.0)  # v = 50: x0 = x - 50 t
        images = generator.to_images(generator.generate(noise()))
    assert torch.equal(images, torch.zeros_like(images))


def test_sampling_is_deterministic_and_settings_change_it() -> None:
    generator = tiny_generator(classes=2)
    x, zeros = noise(), Condition(torch.zeros(4, dtype=torch.long))
    with torch.no_grad():
        a, b = generator.generate(x, zeros), generator.generate(x, zeros)
        euler = generator.generate(x, zeros, solver="euler")
        guided = generator.generate(x, zeros, guidance=3.0)
        ones = generator.generate(x, Condition(torch.ones(4, dtype=torch.long)))
    assert torch.equal(a, b) and a.min() >= -1 and a.max() <= 1
    for other in (euler, guided, ones):
        assert not torch.equal(a, other)
    with pytest.raises(BrainsynthError, match="solver 'rk4'"):
        generator.generate(x, zeros, solver="rk4")
    with pytest.raises(BrainsynthError, match="conditional"):
        generator.generate(x)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"t_distribution": "beta"}, "unknown t_distribution"),
        ({"t_std": 0.0}, "t_std"),
        ({"solver": "rk4"}, "solver 'rk4'"),
        ({"sample_steps": 0}, "--steps must be an integer"),
        ({"label_dropout": 1.0}, "label_dropout"),
    ],
)
def test_bad_settings_are_one_line_errors(options, message) -> None:
    with pytest.raises(BrainsynthError, match=message):
        family("flow").Config(**{**TINY, **options})


def test_loss_targets_the_velocity_and_draws_logit_normal_times() -> None:
    generator = tiny_generator(classes=2, label_dropout=0.5)
    loss_of = family("flow").make_loss(generator.config, generator.shape)
    draws = loss_of.draws(4096, torch.Generator().manual_seed(0))
    t = draws["t"]
    assert t.min() > 0 and t.max() < 1 and 0 < draws["keep"].sum() < 4096
    # logit(t) ~ N(0, 1): mean 0 and std 1 within 5 standard errors of 4096 draws
    logit = torch.log(t / (1 - t))
    assert abs(float(logit.mean())) < 5 / 64 and abs(float(logit.std()) - 1) < 5 * 0.011
    x0 = torch.rand(4096, 1, 16, 16) * 2 - 1
    labels = torch.randint(0, 2, (4096,))
    seen = {}

    def network(x_t, times, labels):
        seen["labels"], seen["times"] = labels, times
        return draws["noise"] - x0  # the exact velocity

    loss, logs = loss_of(network, x0, Condition(labels), draws)
    assert float(loss) < 1e-10 and set(logs) == {"loss"}
    assert torch.equal(seen["labels"], torch.where(draws["keep"], labels, 2))
    assert torch.equal(seen["times"], t)


def test_min_snr_weights_the_velocity_error_by_min_snr_gamma_t_squared() -> None:
    """On the straight path the endpoint errs by t times the velocity and SNR = ((1-t)/t)^2,
    so Min-SNR-5 weights image i's velocity error by min(SNR, 5) t^2."""
    generator = tiny_generator(weighting="min-snr")
    loss_of = family("flow").make_loss(generator.config, generator.shape)
    draws = loss_of.draws(6, torch.Generator().manual_seed(0))
    draws["t"] = torch.tensor([0.01, 0.1, 0.3, 0.5, 0.8, 0.99])
    x0 = torch.rand(6, 1, 16, 16) * 2 - 1
    error = torch.arange(1.0, 7.0).view(-1, 1, 1, 1)
    loss, _ = loss_of(lambda x_t, t, labels: draws["noise"] - x0 + error, x0, Condition(), draws)
    t = draws["t"].double()
    weight = (((1 - t) / t) ** 2).clamp(max=5.0) * t**2
    expected = (weight * torch.arange(1.0, 7.0).double() ** 2).mean()
    assert torch.isclose(loss.double(), expected, rtol=1e-5), (float(loss), float(expected))
