"""StyleGAN2 (Karras et al. 2020): shapes, modulation maths, noise, labels, mbstd, init."""

from __future__ import annotations

import copy
import io
import math

import pytest
import torch

from brainsynth.errors import BrainsynthError
from brainsynth.models import stylegan2 as sg
from brainsynth.models.shape import ModelShape

TINY = sg.Config(channel_base=256, channel_max=16, w_dim=16, mapping_layers=2)


def modulated(layer: sg.ModulatedConv2d, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The layer's convolution times its per-sample output scale (demodulation)."""
    out, scale = layer(x, w)
    return out * scale[:, :, None, None]


def tiny(size: int = 16, channels: int = 1, num_classes: int = 0, **fields: object) -> tuple:
    torch.manual_seed(0)
    config = sg.Config(**{**TINY.__dict__, **fields})
    return sg.build(config, ModelShape(size, channels, 8, num_classes))


@pytest.mark.parametrize("size", [16, 32, 64, 128])
def test_shapes_and_logits(size: int) -> None:
    generator, discriminator = tiny(size)
    raw = generator(torch.randn(3, 8))
    assert raw.shape == (3, 1, size, size)
    assert discriminator(raw).shape == (3,)
    # One pair of convolutions per resolution above 4x4, plus the 4x4 one; one ToRGB each.
    doublings = int(math.log2(size)) - 2
    assert len(generator.layers) == 1 + 2 * doublings
    assert len(generator.image_layers) == 1 + doublings
    assert len(discriminator.blocks) == doublings


def test_multichannel_images() -> None:
    generator, discriminator = tiny(32, channels=4)
    raw = generator(torch.randn(2, 8))
    assert raw.shape == (2, 4, 32, 32)
    assert discriminator(raw).shape == (2,)


def test_channel_widths_follow_base_and_cap() -> None:
    config = sg.Config(channel_base=2048, channel_max=128)
    assert [config.channels(r) for r in (4, 8, 16, 32, 64, 128)] == [128, 128, 128, 64, 32, 16]
    generator, discriminator = sg.build(config, ModelShape(64, 1, 100, 0))
    assert generator.const.shape == (128, 4, 4)
    assert discriminator.from_image.weight.shape[:2] == (32, 1)


def test_mapping_depth_is_a_field() -> None:
    for depth in (1, 4):
        generator, _ = tiny(16, mapping_layers=depth)
        assert len(generator.mapping.layers) == depth


def test_demodulated_weights_are_unit_norm_per_output() -> None:
    """Eq. 3: w''_ijk = s_i w_ijk / sqrt(sum_{i,k} (s_i w_ijk)^2 + eps) has unit L2 norm."""
    torch.manual_seed(1)
    weight = torch.randn(6, 5, 3, 3)
    styles = torch.rand(4, 5) * 3 + 0.1
    modulated = weight[None] * styles[:, None, :, None, None]  # (N, out, in, k, k), eq. 1
    demodulated = modulated * sg.demodulation(weight, styles)[:, :, None, None, None]
    norms = demodulated.square().sum(dim=(2, 3, 4)).sqrt()
    torch.testing.assert_close(norms, torch.ones(4, 6), rtol=1e-5, atol=1e-5)


def test_modulated_conv_equals_convolution_with_per_sample_weights() -> None:
    """Scaling activations and outputs (as implemented) equals eq. 1-3's per-sample weights."""
    torch.manual_seed(2)
    layer = sg.ModulatedConv2d(5, 6, 3, w_dim=7)
    x, w = torch.randn(3, 5, 8, 8), torch.randn(3, 7)
    styles = layer.affine(w)
    weight = layer.weight * layer.weight_gain
    per_sample = weight[None] * styles[:, None, :, None, None]
    per_sample = per_sample * sg.demodulation(weight, styles)[:, :, None, None, None]
    expected = torch.cat(
        [torch.nn.functional.conv2d(x[i : i + 1], per_sample[i], padding=1) for i in range(3)]
    )
    torch.testing.assert_close(modulated(layer, x, w), expected, rtol=1e-4, atol=1e-5)


def test_upsampling_convolution_keeps_flat_images_flat() -> None:
    """The up layer (transposed stride-2 conv + [1, 3, 3, 1] filter of gain 4) doubles the
    side and, on a constant input, gives what a convolution of the upsampled image gives."""
    layer = sg.ModulatedConv2d(1, 1, 3, w_dim=2, demodulate=False, up=True)
    with torch.no_grad():
        layer.weight.fill_(1.0 / layer.weight_gain)  # every tap 1 after the gain
        layer.affine.weight.zero_()  # style = bias = 1
        out, _ = layer(torch.full((1, 1, 8, 8), 2.0), torch.zeros(1, 2))
    assert out.shape == (1, 1, 16, 16)
    torch.testing.assert_close(out[0, 0, 3:-3, 3:-3], torch.full((10, 10), 18.0))


def test_demodulation_restores_unit_output_std() -> None:
    """StyleGAN2 §2.2: with unit-variance inputs, demodulated outputs have unit std per
    channel, whatever the style's scale (a 10x larger style changes nothing)."""
    torch.manual_seed(3)
    layer = sg.ModulatedConv2d(64, 32, 3, w_dim=16)
    x = torch.randn(8, 64, 32, 32)
    w = torch.randn(8, 16)
    with torch.no_grad():
        out = modulated(layer, x, w)[:, :, 1:-1, 1:-1]  # interior: no zero padding
        std = out.std(dim=(2, 3))  # per sample and channel, 900 values each
        # Std of 900 near-Gaussian values: relative standard error ~ 1/sqrt(1800) = 0.024;
        # the mean over 256 such stds is within a few percent of 1.
        assert abs(std.mean().item() - 1.0) < 0.05
        assert ((std - 1).abs() < 0.2).float().mean() > 0.99  # > 8 standard errors each
        layer.affine.weight.mul_(10.0)
        layer.affine.bias.mul_(10.0)
        torch.testing.assert_close(
            modulated(layer, x, w)[:, :, 1:-1, 1:-1], out, rtol=1e-3, atol=1e-3
        )


def test_clamp_output_draws_exact_black_and_returns_gradients() -> None:
    y = torch.tensor([-3.0, -0.5, 0.25, 4.0], requires_grad=True)
    out = sg._ReturningClamp.apply(y)
    assert out.tolist() == [-1.0, -0.5, 0.25, 1.0]
    # Gradient +1 everywhere means a descent step lowers every value: blocked at -3 only.
    (out * torch.ones(4)).sum().backward()
    assert y.grad.tolist() == [0.0, 1.0, 1.0, 1.0]
    y.grad = None
    # Gradient -1 raises every value: blocked above 1 only; -3 may come back.
    (-sg._ReturningClamp.apply(y)).sum().backward()
    assert y.grad.tolist() == [-1.0, -1.0, -1.0, 0.0]


def test_generator_can_output_exact_black_and_images_are_in_unit_range() -> None:
    generator, _ = tiny(16)
    with torch.no_grad():
        generator.image_layers[-1].bias.fill_(-50.0)
        raw = generator(torch.randn(2, 8))
    assert (raw == -1).all()
    images = generator.to_images(raw)
    assert images.dtype == torch.float32 and (images == 0).all()
    assert "exact black" in generator.output_mapping
    linear, _ = tiny(16, output="linear")
    with torch.no_grad():
        linear.image_layers[-1].bias.fill_(-50.0)
        assert linear(torch.randn(2, 8)).max() < -1.5
    assert "linear" in linear.output_mapping


def test_labels_change_outputs_and_are_required() -> None:
    generator, discriminator = tiny(16, num_classes=3)
    z = torch.randn(4, 8)
    generator.eval()
    with torch.no_grad():
        a = generator(z, torch.tensor([0, 0, 0, 0]))
        b = generator(z, torch.tensor([2, 2, 2, 2]))
        assert (a - b).abs().mean() > 1e-3
        logits_a = discriminator(a, torch.tensor([0, 0, 0, 0]))
        logits_b = discriminator(a, torch.tensor([1, 1, 1, 1]))
        assert (logits_a - logits_b).abs().max() > 1e-4
    with pytest.raises(BrainsynthError, match="give labels"):
        generator(z)
    with pytest.raises(BrainsynthError, match="class ids in 0..2"):
        generator(z, torch.tensor([0, 1, 2, 3]))
    assert "class" in sg.FAMILY.conditioning


def test_minibatch_stddev_feature() -> None:
    x = torch.zeros(4, 2, 3, 3)
    out = sg.minibatch_stddev(x, group=4, features=1)
    assert out.shape == (4, 3, 3, 3)
    torch.testing.assert_close(out[:, 2], torch.full((4, 3, 3), 1e-4))  # sqrt(1e-8)
    # Groups are consecutive samples: with G = 2 over 4 samples, (0, 1) and (2, 3), so a
    # batch split between two ranks of 2 forms the same groups.
    x = torch.zeros(4, 1, 1, 1)
    x[0], x[1] = 1.0, -1.0  # group of 0 and 1: std 1; group of 2 and 3: std 0
    out = sg.minibatch_stddev(x, group=2, features=1)
    torch.testing.assert_close(out[:, 1, 0, 0], torch.tensor([1.0, 1.0, 1e-4, 1e-4]))
    halves = [sg.minibatch_stddev(part, group=2, features=1) for part in x.split(2)]
    torch.testing.assert_close(torch.cat(halves), out)
    # A batch that the group size does not divide uses the largest divisor.
    assert sg.minibatch_stddev(torch.randn(6, 2, 2, 2), group=4, features=1).shape == (6, 3, 2, 2)


def test_discriminator_sees_the_batch_through_minibatch_stddev() -> None:
    _, discriminator = tiny(16)
    x = torch.randn(4, 1, 16, 16)
    with torch.no_grad():
        before = discriminator(x)[0]
        x[1:] = x[0]  # the other images now equal the first: zero spread
        after = discriminator(x)[0]
    assert (before - after).abs() > 1e-6
    _, without = tiny(16, mbstd_channels=0)
    assert without(torch.randn(4, 1, 16, 16)).shape == (4,)


def test_gradients_reach_every_parameter() -> None:
    generator, discriminator = tiny(16, num_classes=2)
    for module in generator.modules():  # noise strengths start at 0; give them a value
        if isinstance(module, sg.SynthesisLayer):
            module.noise_strength.data.fill_(0.1)
    labels = torch.tensor([0, 1, 1, 0])
    # Away from the clamp, so that every pixel passes its gradient.
    discriminator(generator(torch.randn(4, 8), labels) * 0.1, labels).sum().backward()
    for name, param in [*generator.named_parameters(), *discriminator.named_parameters()]:
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_deterministic_init_with_a_seed() -> None:
    g1, d1 = tiny(32)
    g2, d2 = tiny(32)
    for a, b in ((g1, g2), (d1, d2)):
        for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
            if isinstance(x, torch.Tensor):
                assert torch.equal(x, y), name
    torch.manual_seed(1)
    g3, _ = sg.build(TINY, ModelShape(32, 1, 8, 0))
    assert not torch.equal(g1.const, g3.const)


def test_noise_random_in_training_fixed_in_eval_and_kept_in_state_dict() -> None:
    generator, _ = tiny(16)
    for module in generator.modules():
        if isinstance(module, sg.SynthesisLayer):
            module.noise_strength.data.fill_(0.5)
    z = torch.randn(2, 8)
    with torch.no_grad():
        generator.train()
        assert not torch.equal(generator(z), generator(z))  # fresh noise per call
        generator.eval()
        torch.testing.assert_close(generator(z), generator(z), rtol=0, atol=0)
        generator.train()
        buffer = io.BytesIO()
        torch.save(generator.state_dict(), buffer)
        first = generator(z)
        copy_ = copy.deepcopy(generator)
        buffer.seek(0)
        copy_.load_state_dict(torch.load(buffer, weights_only=True))
        torch.testing.assert_close(copy_(z), first, rtol=0, atol=0)  # same noise stream


def test_bad_config_and_shape_are_one_line_errors() -> None:
    with pytest.raises(BrainsynthError, match="unknown output 'tanh'"):
        sg.Config(output="tanh")
    with pytest.raises(BrainsynthError, match="mapping_layers must be an integer in 1..16"):
        sg.Config(mapping_layers=0)
    with pytest.raises(BrainsynthError, match="power of two"):
        sg.build(TINY, ModelShape(48, 1, 8, 0))
    with pytest.raises(BrainsynthError, match="mbstd_channels 3 must divide"):
        sg.build(sg.Config(channel_base=256, channel_max=16, mbstd_channels=3), ModelShape(16))
