"""The paper's DCGAN architecture (§3.2.2): shapes, 4x4 filters, widths, ELU, no tanh."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from brainsynth.errors import BrainsynthError
from brainsynth.models import Discriminator, Generator, ModelConfig, build_models


def convs(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


@pytest.mark.parametrize("size", [16, 32, 64, 128])
def test_shapes_and_logits(size: int) -> None:
    generator, discriminator = build_models(ModelConfig(size=size, width=4, latent=100))
    z = torch.randn(3, 100)
    images = generator(z)
    assert images.shape == (3, 1, size, size)
    logits = discriminator(images)
    assert logits.shape == (3,)


def test_paper_architecture_at_64_and_128() -> None:
    g64, d64 = build_models(ModelConfig(size=64))
    g128, d128 = build_models(ModelConfig(size=128))
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
    generator, discriminator = build_models(ModelConfig(size=64, width=4))
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
    layer = Discriminator(ModelConfig(size=32, width=4, disc_norm="layer"))
    none = Discriminator(ModelConfig(size=32, width=4, disc_norm="none"))
    for critic in (layer, none):
        assert not any(isinstance(m, nn.BatchNorm2d) for m in critic.modules())
    assert any(isinstance(m, nn.GroupNorm) for m in layer.modules())
    # Per-sample: one image's score does not depend on the rest of the batch.
    x = torch.randn(4, 1, 32, 32)
    assert torch.allclose(layer(x)[:1], layer(x[:1]), atol=1e-5)


@pytest.mark.parametrize("kwargs", [{"size": 48}, {"size": 8}, {"width": 0}, {"disc_norm": "x"}])
def test_bad_config_is_a_clear_error(kwargs: dict) -> None:
    with pytest.raises(BrainsynthError):
        ModelConfig(**kwargs)


def test_generator_keeps_its_config() -> None:
    config = ModelConfig(size=16, width=4, latent=7)
    assert Generator(config).config is config
    assert Generator(config)(torch.randn(2, 7)).shape == (2, 1, 16, 16)
