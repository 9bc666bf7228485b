"""The paper's DCGAN architecture (§3.2.2): shapes, 4x4 filters, widths, ELU, no tanh."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from brainsynth.errors import BrainsynthError
from brainsynth.models import ModelShape
from brainsynth.models.dcgan import Config, Discriminator, Generator, build


def build_models(size: int = 64, width: int = 32, latent: int = 100, **options):
    return build(Config(width=width, **options), ModelShape(size, latent=latent))


def convs(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


@pytest.mark.parametrize("size", [16, 32, 64, 128])
def test_shapes_and_logits(size: int) -> None:
    generator, discriminator = build_models(size, width=4)
    z = torch.randn(3, 100)
    images = generator(z)
    assert images.shape == (3, 1, size, size)
    logits = discriminator(images)
    assert logits.shape == (3,)


def test_paper_architecture_at_64_and_128() -> None:
    g64, d64 = build_models(64)
    g128, d128 = build_models(128)
    for module in (g64, d64, g128, d128):
        assert all(c.kernel_size == (4, 4) for c in convs(module))
    # Half of Radford et al.'s widths: 64 -> 32 at the image end, 512 -> 256 at 4x4.
    assert convs(g64)[0].out_channels == 256 and convs(g64)[-1].in_channels == 32
    assert convs(d64)[0].out_channels == 32 and convs(d64)[-1].in_channels == 256
    # 128x128 has one more block, with twice the channels at 4x4.
    assert len(convs(g128)) == len(convs(g64)) + 1
    assert len(convs(d128)) == len(convs(d64)) + 1
    assert convs(g128)[0].out_channels == 512


def test_no_tanh_elu_and_batch_norm() -> None:
    generator, discriminator = build_models(64, width=4)
    assert isinstance(list(generator.net)[-1], nn.ConvTranspose2d)  # linear output, no tanh
    assert not any(isinstance(m, nn.Tanh) for m in generator.modules())
    assert any(isinstance(m, nn.ELU) for m in discriminator.modules())
    assert not any(isinstance(m, (nn.LeakyReLU, nn.Sigmoid)) for m in discriminator.modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in generator.modules()) == 4
    assert sum(isinstance(m, nn.BatchNorm2d) for m in discriminator.modules()) == 3
    # The generator can output values outside [-1, 1] (nothing squashes them).
    with torch.no_grad():
        generator.net[-1].bias.fill_(5.0)
        assert generator(torch.randn(2, 100)).min() > 1.0


@pytest.mark.numerics
def test_critic_without_batch_norm_for_wgan_gp() -> None:
    layer = Discriminator(Config(width=4, disc_norm="layer"), ModelShape(32))
    none = Discriminator(Config(width=4, disc_norm="none"), ModelShape(32))
    for critic in (layer, none):
        assert not any(isinstance(m, nn.BatchNorm2d) for m in critic.modules())
    assert any(isinstance(m, nn.GroupNorm) for m in layer.modules())
    # Per-sample: one image's score does not depend on the rest of the batch.
    x = torch.randn(4, 1, 32, 32)
    assert torch.allclose(layer(x)[:1], layer(x[:1]), atol=1e-5)


@pytest.mark.parametrize("kwargs", [{"size": 48}, {"size": 8}, {"width": 0}, {"disc_norm": "x"}])
def test_bad_config_is_a_clear_error(kwargs: dict) -> None:
    with pytest.raises(BrainsynthError):
        build_models(**{"width": 4, **kwargs})


def test_generator_keeps_its_config_and_maps_its_output() -> None:
    config, shape = Config(width=4), ModelShape(16, latent=7)
    generator = Generator(config, shape)
    assert generator.config is config and generator.shape is shape
    assert generator(torch.randn(2, 7)).shape == (2, 1, 16, 16)
    raw = torch.tensor([-3.0, -1.0, 0.0, 0.5, 1.0, 2.0])
    assert generator.to_images(raw).tolist() == [0.0, 0.0, 0.5, 0.75, 1.0, 1.0]
    assert "clip((G(z) + 1) / 2, 0, 1)" in generator.output_mapping


def test_conditional_generator_and_projection_discriminator() -> None:
    shape = ModelShape(16, latent=8, num_classes=3)
    generator, discriminator = build(Config(width=4, label_embedding=5), shape)
    z, labels = torch.randn(6, 8), torch.tensor([0, 1, 2, 0, 1, 2])
    images = generator(z, labels)
    assert images.shape == (6, 1, 16, 16)
    assert discriminator(images, labels).shape == (6,)
    generator.eval()
    discriminator.eval()
    with torch.no_grad():
        discriminator.embed.weight.normal_(0.0, 1.0)  # make the projection term visible
        # The label changes the image for the same z, and the logit for the same image.
        other = torch.tensor([1, 2, 0, 1, 2, 0])
        assert not torch.allclose(generator(z, labels), generator(z, other))
        x = generator(z, labels)
        assert not torch.allclose(discriminator(x, labels), discriminator(x, other))
    with pytest.raises(BrainsynthError, match="give labels"):
        generator(z)
    unconditional, _ = build(Config(width=4), ModelShape(16, latent=8))
    with pytest.raises(BrainsynthError, match="unconditional"):
        unconditional(z, labels)
    assert not any("embed" in k for k in unconditional.state_dict())
