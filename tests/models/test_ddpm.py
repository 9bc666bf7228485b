"""The diffusion family (``--arch ddpm``): settings, shapes, objective and DDIM sampler."""

from __future__ import annotations

import pytest
import torch

from brainsynth.errors import BrainsynthError
from brainsynth.models import family
from brainsynth.models.checkpoint import ModelRecord
from brainsynth.models.generator import Condition
from brainsynth.models.shape import ModelShape

TINY = {"base_channels": 8, "channel_mult": (1, 2), "attention_resolutions": (8,),
        "head_channels": 8, "norm_groups": 4, "sample_steps": 4}  # fmt: skip


def tiny_generator(channels: int = 1, classes: int = 0, seed: int = 0, **options):
    """A tiny UNet whose zero-initialised layers (MONAI's output and residual convolutions
    start at 0, so a fresh model predicts 0 for every input) get random weights, as a
    trained model's would be."""
    torch.manual_seed(seed)
    shape = ModelShape(size=16, channels=channels, num_classes=classes)
    generator = ModelRecord(family("ddpm"), {**TINY, **options}, shape).build()[0].eval()
    with torch.no_grad():
        for parameter in generator.parameters():
            if parameter.dim() > 1 and not parameter.any():
                parameter.normal_(0.0, 0.1)
    return generator


def noise(n: int = 4, channels: int = 1, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, channels, 16, 16, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"prediction": "x0"}, "unknown prediction"),
        ({"norm_groups": 3}, "must divide every width"),
        ({"label_dropout": 1.0}, "label_dropout"),
        ({"sample_steps": 0}, "--steps"),
        ({"guidance": float("nan")}, "guidance must be a finite number"),
        ({"guidance": -1.0}, "--guidance"),
        ({"channel_mult": ()}, "channel_mult"),
    ],
)
def test_bad_settings_are_one_line_errors(options, message) -> None:
    with pytest.raises(BrainsynthError, match=message):
        family("ddpm").Config(**{**TINY, **options})


def test_attention_must_be_at_a_level_and_sizes_are_checked() -> None:
    with pytest.raises(BrainsynthError, match="not sides of this UNet"):
        tiny_generator(attention_resolutions=(4,))
    ddpm = family("ddpm")
    with pytest.raises(BrainsynthError, match="power of two in 16..256"):
        ddpm.build(ddpm.Config(**TINY), ModelShape(size=24))


@pytest.mark.parametrize("channels", [1, 4])
def test_generate_is_deterministic_and_in_range(channels: int) -> None:
    generator = tiny_generator(channels)
    assert generator.noise_shape == (channels, 16, 16)
    with torch.no_grad():
        a = generator.generate(noise(channels=channels))
        b = generator.generate(noise(channels=channels))
        fewer = generator.generate(noise(channels=channels), steps=2)
    assert a.shape == (4, channels, 16, 16) and torch.equal(a, b)
    assert a.min() >= -1 and a.max() <= 1 and not torch.equal(a, fewer)


def test_a_large_batch_gives_the_images_of_small_ones() -> None:
    """Images are independent of the others in their batch (on a CPU the sampler runs 32 at a
    time): 40 at once equal 32 + 8 up to float rounding (1e-5; rounding is ~1e-7)."""
    generator = tiny_generator()
    x = noise(40)
    with torch.no_grad():
        whole = generator.generate(x, steps=2)
        parts = torch.cat([generator.generate(x[:5], steps=2), generator.generate(x[5:], steps=2)])
    assert torch.allclose(whole, parts, atol=1e-5, rtol=0)


def test_a_prediction_below_minus_one_is_exactly_black() -> None:
    """The final x0 is clamped to [-1, 1]: a model whose v is a large constant (x0 = -v far
    below -1 from the first step on) gives images that are exactly 0, no floor needed."""
    generator = tiny_generator()
    with torch.no_grad():
        generator.unet.out[-1].conv.weight.zero_()
        generator.unet.out[-1].conv.bias.fill_(50.0)
        images = generator.to_images(generator.generate(noise()))
    assert torch.equal(images, torch.zeros_like(images))


def test_labels_and_guidance_change_the_images() -> None:
    generator = tiny_generator(classes=2)
    x = noise()
    with torch.no_grad():
        zeros = generator.generate(x, Condition(torch.zeros(4, dtype=torch.long)))
        ones = generator.generate(x, Condition(torch.ones(4, dtype=torch.long)))
        guided = generator.generate(x, Condition(torch.zeros(4, dtype=torch.long)), guidance=3.0)
    assert not torch.equal(zeros, ones) and not torch.equal(zeros, guided)
    with pytest.raises(BrainsynthError, match="conditional"):
        generator.generate(x)
    with pytest.raises(BrainsynthError, match="class ids in 0..1"):
        generator.generate(x, Condition(torch.full((4,), 2)))
    with pytest.raises(BrainsynthError, match="unconditional"):
        tiny_generator().generate(x, guidance=2.0)


def test_loss_drops_labels_and_targets_v() -> None:
    """The loss sees the null class for dropped labels, and its target is v."""
    generator = tiny_generator(classes=2, label_dropout=0.5)
    loss_of = family("ddpm").make_loss(generator.config, generator.shape)
    draws = loss_of.draws(64, torch.Generator().manual_seed(0))
    assert 0 < draws["keep"].sum() < 64 and draws["noise"].shape == (64, 1, 16, 16)
    seen = {}

    def denoise(x_t, t, labels):
        seen["labels"], seen["x_t"] = labels, x_t
        a = generator.alphas_cumprod[t].view(-1, 1, 1, 1)
        return a.sqrt() * draws["noise"] - (1 - a).sqrt() * x0  # the exact v

    x0 = torch.rand(64, 1, 16, 16) * 2 - 1
    labels = torch.randint(0, 2, (64,))
    loss, logs = loss_of(denoise, x0, Condition(labels), draws)
    assert float(loss) < 1e-10 and set(logs) == {"loss"}
    assert torch.equal(seen["labels"], torch.where(draws["keep"], labels, 2))
    # Exactly black pixels (-1) are learned at -1 - black_margin (denoise's v uses x0).
    black = x0.clone()
    black[:, :, :4] = -1.0
    x0 = black.clone()
    x0[:, :, :4] -= generator.config.black_margin
    exact, _ = loss_of(denoise, black, Condition(labels), draws)
    x0 = black
    unshifted, _ = loss_of(denoise, black, Condition(labels), draws)
    assert float(exact) < 1e-10 and float(unshifted) > 1e-4


@pytest.mark.parametrize("prediction", ["v", "epsilon"])
def test_min_snr_weights_each_image_by_min_snr_gamma(prediction: str) -> None:
    """Hang et al. 2023: each image's squared error times min(SNR, 5) / (SNR + 1) for a v
    target (min(SNR, 5) / SNR for eps), so its x0 error counts min(SNR, 5) times."""
    generator = tiny_generator(prediction=prediction, weighting="min-snr")
    loss_of = family("ddpm").make_loss(generator.config, generator.shape)
    draws = loss_of.draws(8, torch.Generator().manual_seed(0))
    draws["t"] = torch.tensor([0, 5, 50, 200, 500, 800, 990, 999])
    error = torch.arange(1.0, 9.0).view(-1, 1, 1, 1)  # image i's prediction is off by i

    def network(x_t, t, labels):
        a = loss_of.alphas_cumprod[t].view(-1, 1, 1, 1)
        v = a.sqrt() * draws["noise"] - (1 - a).sqrt() * x0
        return (draws["noise"] if prediction == "epsilon" else v) + error

    x0 = torch.rand(8, 1, 16, 16) * 2 - 1
    loss, _ = loss_of(network, x0, Condition(), draws)
    a = loss_of.alphas_cumprod[draws["t"]].double()
    snr = a / (1 - a)
    weight = snr.clamp(max=5.0) / (snr if prediction == "epsilon" else snr + 1)
    expected = (weight * torch.arange(1.0, 9.0).double() ** 2).mean()
    assert torch.isclose(loss.double(), expected, rtol=1e-4), (float(loss), float(expected))
