"""A StyleGAN2 generator and discriminator in plain PyTorch (Karras et al., CVPR 2020).

References: Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"
(StyleGAN2); Karras et al. 2020b, "Training Generative Adversarial Networks with Limited
Data" (StyleGAN2-ADA: its small-data configurations and class conditioning); Karras et al.
2018, "Progressive Growing of GANs" (ProGAN: equalized learning rate §4.1, minibatch standard
deviation §3).

Generator (StyleGAN2 Fig. 2d and 7):

- Mapping network: the latent z (normalised to unit second moment) is mapped by
  ``mapping_layers`` fully connected layers with leaky ReLU and a learning-rate multiplier of
  0.01 to the intermediate latent w (StyleGAN §2; StyleGAN2-ADA uses 2 layers for small
  datasets, StyleGAN2 8). With class labels the label embedding, normalised the same way,
  is concatenated to z before the mapping (StyleGAN2-ADA, appendix B.1).
- Synthesis network: a learned 4x4 constant, then per resolution two 3x3 modulated and
  demodulated convolutions (StyleGAN2 §2.2, eq. 1-3): each layer's style s = A(w) scales
  the input channels, and the output channels are divided by
  sigma_j = sqrt(sum_{i,k} (s_i w_ijk)^2 + eps). This is implemented as scaling the
  activations, a shared-weight convolution, and scaling the result, which is exactly eq. 1-3
  ("non-fused" modulation of the official code) and runs as ordinary convolutions.
- Noise inputs (StyleGAN §2): per-pixel Gaussian noise with a learned per-layer strength
  (initially 0) after every 3x3 convolution. In training mode the noise comes from the
  generator's own random stream, kept in its state dict (so resumed runs are exact; a
  trainer of several processes shares its draws through ``share_training_draws``); in
  eval mode (sampling, EMA copy) fixed noise buffers drawn at construction are used, the
  official code's ``noise_mode='const'``, so the same latents give the same images.
- Skip-connection output (StyleGAN2 §4.1, Fig. 7b): every resolution has a ToRGB layer (a
  modulated 1x1 convolution without demodulation) whose output is added to the upsampled
  image of the previous resolution.

Discriminator (StyleGAN2 §4.1, Fig. 7c, "residual"): FromRGB at full resolution, then per
resolution two 3x3 convolutions with a 1x1 residual shortcut, the sum scaled by 1/sqrt(2);
at 4x4 the minibatch standard deviation layer (ProGAN §3; group 4, one feature), a 3x3
convolution and two fully connected layers. With class labels its last layer outputs a
``cmap``-dimensional vector that is projected onto an embedding of the label (the
projection discriminator of Miyato & Koyama 2018, as in StyleGAN2-ADA).

Every weight is stored as N(0, 1) and scaled at run time by He's constant (equalized
learning rate, ProGAN §4.1); leaky ReLU activations (slope 0.2) are scaled by sqrt(2).

Departures, each named:

- Resampling: up- and downsampling use bilinear interpolation and 2x2 averaging instead of
  the official FIR filter [1, 3, 3, 1] with transposed or strided convolutions (no custom
  ops; bilinear x2 upsampling is the same [1, 3, 3, 1] / 4 filter with edge padding).
- Image + mask pairs (``shape.mask_channels > 0``, ``train --with-mask``): the ToImage
  layers output the mask channels after the image's and FromRGB reads both (Asadi et al.
  2023 generate FLAIR and its glioma mask the same way with StyleGAN2-ADA).
- Widths: ``channel_base`` / ``channel_max`` follow StyleGAN2-ADA's ``cbase``/``cmax``
  (channels at resolution r = min(channel_base / r, channel_max)); the official values are
  32768 / 512. The defaults here (2048 / 128) make a 64x64 model train on two CPU cores.
- Path-length regularisation and style mixing are left out: StyleGAN2-ADA turns both off
  for small datasets (its appendix B.2, "cifar" configuration).
- Output (``output``): ``clamp`` (default) clamps the raw output to [-1, 1] in the forward
  pass, so the generator can draw exactly black wherever real skull-stripped slices are
  exactly black (-1 in the training range) and the discriminator sees exactly that value.
  Where a pixel is clamped, gradients that would bring it back into [-1, 1] pass through
  (a straight-through estimator restricted to the returning direction), so no pixel dies
  and none drifts. ``linear`` is the official linear output (the paper's DCGAN mapping
  ``clip((y + 1) / 2, 0, 1)`` is then applied only when images are made).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from brainsynth.config import check_field_types, check_int
from brainsynth.errors import BrainsynthError
from brainsynth.models.family import ADVERSARIAL_OBJECTIVES, Family
from brainsynth.models.generator import BatchDraw, OneShotGenerator

OUTPUTS: tuple[str, ...] = ("clamp", "linear")
LRELU_GAIN = math.sqrt(2.0)
LIMITS: dict[str, tuple[int, int]] = {
    "channel_base": (1, 2**17),  # official 32768
    "channel_max": (1, 1024),  # official 512
    "w_dim": (1, 2048),  # official 512
    "mapping_layers": (1, 16),  # official 8
    "mbstd_group": (1, 64),
    "mbstd_channels": (0, 64),
    "cmap_dim": (0, 2048),
}
"""The integer settings' ranges: wide enough for the official configurations, bounded so
that a config read from a file cannot ask for gigabytes."""
NoiseSource = Callable[[tuple[int, ...]], torch.Tensor]  # shape -> noise inputs of that shape


@dataclass
class Config:
    """The StyleGAN2 fields of a model (its image shape comes from :class:`ModelShape`).

    ``channel_base``/``channel_max``: channels at resolution r are
    ``min(channel_base // r, channel_max)`` (StyleGAN2-ADA ``cbase``/``cmax``; official
    32768/512, full width on a GPU); ``w_dim``: size of the intermediate latent w (official
    512); ``mapping_layers``: depth of the mapping network (StyleGAN2 8, StyleGAN2-ADA small
    data 2); ``mapping_lr_mult``: learning-rate multiplier of the mapping network;
    ``noise``: per-pixel noise inputs; ``output``: ``clamp`` (exact black possible) or
    ``linear``; ``mbstd_group``/``mbstd_channels``: minibatch standard deviation group size
    and features (ProGAN §3); ``cmap_dim``: size of the discriminator's label projection
    (0: the channels at 4x4).
    """

    channel_base: int = 2048
    channel_max: int = 128
    w_dim: int = 128
    mapping_layers: int = 2
    mapping_lr_mult: float = 0.01
    noise: bool = True
    output: str = "clamp"
    mbstd_group: int = 4
    mbstd_channels: int = 1
    cmap_dim: int = 0

    def __post_init__(self) -> None:
        check_field_types(self, "stylegan2")
        for name, (low, high) in LIMITS.items():
            check_int(getattr(self, name), name, low, high, "stylegan2")
        if not self.mapping_lr_mult > 0:
            raise BrainsynthError(f"stylegan2: mapping_lr_mult must be > 0: {self.mapping_lr_mult}")
        if self.output not in OUTPUTS:
            raise BrainsynthError(
                f"stylegan2: unknown output {self.output!r}: choose {', '.join(OUTPUTS)}"
            )

    def channels(self, resolution: int) -> int:
        """Feature maps at ``resolution`` (at least 1)."""
        return max(1, min(self.channel_base // resolution, self.channel_max))


# --------------------------------------------------------------------------- layers


class EqualizedLinear(nn.Module):
    """Fully connected layer with equalized learning rate (ProGAN §4.1) and lr multiplier.

    With ``activation``: leaky ReLU times sqrt(2), the gain folded into weight and bias
    (lrelu(g x) = g lrelu(x) for g > 0), which saves a pass over the activations.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: bool = False,
        bias_init: float = 0.0,
        lr_mult: float = 1.0,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mult)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mult))
        gain = LRELU_GAIN if activation else 1.0
        self.weight_gain = gain * lr_mult / math.sqrt(in_features)
        self.bias_gain = gain * lr_mult
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        return F.leaky_relu(x, 0.2) if self.activation else x


class EqualizedConv2d(nn.Module):
    """Convolution with equalized learning rate and folded activation gain; ``down``: 2x2
    average before the convolution (the official code blurs with [1, 3, 3, 1] and strides)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int,
        activation: bool = True,
        bias: bool = True,
        down: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.gain = LRELU_GAIN if activation else 1.0
        self.weight_gain = self.gain / math.sqrt(in_channels * kernel * kernel)
        self.activation, self.down, self.padding = activation, down, kernel // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.down:
            x = F.avg_pool2d(x, 2)
        bias = None if self.bias is None else self.bias * self.gain
        x = F.conv2d(x, self.weight * self.weight_gain, bias, padding=self.padding)
        return F.leaky_relu(x, 0.2, inplace=True) if self.activation else x


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """x / sqrt(mean(x^2)) per row (StyleGAN's pixel norm of z)."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def demodulation(weight: torch.Tensor, styles: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """StyleGAN2 eq. 3: 1 / sqrt(sum_{i,k} (s_i w_ijk)^2 + eps) per sample and output j."""
    return (styles.square() @ weight.square().sum(dim=(2, 3)).t() + eps).rsqrt()


def blur_filter() -> torch.Tensor:
    """The official [1, 3, 3, 1] resampling filter in 2-D, summing to 4 (the gain of x2
    upsampling: a stride-2 transposed convolution spreads each pixel over four)."""
    f = torch.tensor([1.0, 3.0, 3.0, 1.0])
    return (f[:, None] * f[None, :]) / f.sum() ** 2 * 4.0


class ModulatedConv2d(nn.Module):
    """Modulated (eq. 1) and optionally demodulated (eq. 3) convolution, StyleGAN2 §2.2.

    Computed as conv(x * s, w) * sigma^-1, which equals convolving with the per-sample
    weights w'' of eq. 3 because the modulation scales input channels and demodulation
    output channels. ``up``: as in the official code, a stride-2 transposed convolution
    followed by the [1, 3, 3, 1] filter (4x fewer multiply-adds than upsampling first).
    ``forward`` returns the convolution and its per-sample output scale (sigma^-1, or ones
    without demodulation) for the caller to fuse with its bias.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int,
        w_dim: int,
        demodulate: bool = True,
        up: bool = False,
    ) -> None:
        super().__init__()
        self.affine = EqualizedLinear(w_dim, in_channels, bias_init=1.0)  # A in Fig. 2
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel * kernel)
        self.demodulate, self.up, self.padding = demodulate, up, kernel // 2
        if up:
            blur = blur_filter()[None, None].repeat(out_channels, 1, 1, 1)
            self.register_buffer("blur", blur, persistent=False)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        styles = self.affine(w)
        weight = self.weight * self.weight_gain
        x = x * styles.to(x.dtype)[:, :, None, None]
        if self.up:
            x = F.conv_transpose2d(x, weight.transpose(0, 1).to(x.dtype), stride=2)
            x = F.conv2d(F.pad(x, (1, 1, 1, 1)), self.blur.to(x.dtype), groups=x.shape[1])
        else:
            x = F.conv2d(x, weight.to(x.dtype), padding=self.padding)
        if self.demodulate:
            return x, demodulation(weight, styles)
        return x, styles.new_ones(len(styles), x.shape[1])


class SynthesisLayer(nn.Module):
    """Modulated 3x3 convolution + noise + bias + leaky ReLU (StyleGAN2 Fig. 2d).

    The activation gain sqrt(2) is folded into the demodulation, noise strength and bias
    (exact for leaky ReLU); scale and bias are applied in one fused multiply-add.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        noise: bool,
        up: bool,
    ) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, up=up)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.use_noise = noise
        if noise:
            self.noise_strength = nn.Parameter(torch.zeros(()))
            self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))

    def forward(self, x: torch.Tensor, w: torch.Tensor, draw_noise: NoiseSource) -> torch.Tensor:
        x, scale = self.conv(x, w)
        bias = (self.bias * LRELU_GAIN).to(x.dtype)[None, :, None, None]
        x = torch.addcmul(bias, x, (scale * LRELU_GAIN).to(x.dtype)[:, :, None, None])
        if self.use_noise:
            if self.training:
                noise = draw_noise((x.shape[0], 1, x.shape[2], x.shape[3])).to(x.device, x.dtype)
            else:
                noise = self.noise_const.to(x.dtype)
            x = x.add_(noise * (self.noise_strength * LRELU_GAIN).to(x.dtype))
        return F.leaky_relu(x, 0.2, inplace=True)


class ToImage(nn.Module):
    """ToRGB of Fig. 7b: modulated 1x1 convolution, no demodulation, bias, linear."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w)[0] + self.bias.to(x.dtype)[None, :, None, None]


class _ReturningClamp(torch.autograd.Function):
    """clamp(y, -1, 1) forward; backward passes the gradient where y is inside [-1, 1], and
    outside only when a descent step would move y back towards the interval."""

    @staticmethod
    def forward(ctx: Any, y: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(y)
        return y.clamp(-1.0, 1.0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        blocked = ((y < -1.0) & (grad > 0)) | ((y > 1.0) & (grad < 0))
        return grad.masked_fill(blocked, 0.0)


# --------------------------------------------------------------------------- networks


class MappingNetwork(nn.Module):
    """z (and a label embedding) -> w: ``layers`` FC layers, lr multiplier (StyleGAN §2)."""

    def __init__(
        self, z_dim: int, num_classes: int, w_dim: int, layers: int, lr_mult: float
    ) -> None:
        super().__init__()
        self.z_dim, self.num_classes = z_dim, num_classes
        self.embed = EqualizedLinear(num_classes, w_dim) if num_classes > 0 else None
        features = [z_dim + (w_dim if num_classes > 0 else 0)] + [w_dim] * layers
        self.layers = nn.Sequential(
            *(
                EqualizedLinear(a, b, activation=True, lr_mult=lr_mult)
                for a, b in zip(features[:-1], features[1:], strict=True)
            )
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        x = normalize_2nd_moment(z.float())
        if self.embed is not None:
            onehot = _one_hot(labels, self.num_classes, len(z), z.device)
            x = torch.cat([x, normalize_2nd_moment(self.embed(onehot))], dim=1)
        return self.layers(x)


def _one_hot(
    labels: torch.Tensor | None, num_classes: int, n: int, device: torch.device
) -> torch.Tensor:
    if labels is None:
        raise BrainsynthError(f"this model is conditional ({num_classes} classes): give labels")
    labels = labels.to(device=device, dtype=torch.long).reshape(-1)
    if len(labels) != n or (len(labels) and (labels.min() < 0 or labels.max() >= num_classes)):
        raise BrainsynthError(f"labels must be {n} class ids in 0..{num_classes - 1}")
    return F.one_hot(labels, num_classes).float()


class Generator(OneShotGenerator, nn.Module):
    """z (N, latent) [+ labels (N,)] -> raw image (N, C, size, size) in the training range."""

    def __init__(self, config: Config, shape: Any) -> None:
        super().__init__()
        self.config, self.shape = config, shape
        self.latent, self.num_classes = shape.latent, shape.num_classes
        self.mapping = MappingNetwork(
            shape.latent, shape.num_classes, config.w_dim, config.mapping_layers,
            config.mapping_lr_mult,
        )  # fmt: skip
        self.const = nn.Parameter(torch.randn(config.channels(4), 4, 4))
        self.layers = nn.ModuleList()
        self.image_layers = nn.ModuleList()
        resolution, channels = 4, config.channels(4)
        self.layers.append(
            SynthesisLayer(channels, channels, config.w_dim, 4, config.noise, up=False)
        )
        self.image_layers.append(ToImage(channels, shape.generated_channels, config.w_dim))
        while resolution < shape.size:
            resolution *= 2
            out = config.channels(resolution)
            self.layers.append(
                SynthesisLayer(channels, out, config.w_dim, resolution, config.noise, up=True)
            )
            self.layers.append(
                SynthesisLayer(out, out, config.w_dim, resolution, config.noise, up=False)
            )
            self.image_layers.append(ToImage(out, shape.generated_channels, config.w_dim))
            channels = out
        # Training-mode noise: the generator's own stream, kept in its state dict. A trainer
        # that splits batches among processes shares its draws (share_training_draws), which
        # sets ``noise_source`` (shape -> noise on the device); None draws from ``noise_rng``.
        self.noise_rng = torch.Generator().manual_seed(int(torch.randint(2**62, ()).item()))
        self.noise_source: NoiseSource | None = None
        self.output_mapping = (
            "clip((y + 1) / 2, 0, 1) of y = clamp(G(z), -1, 1): exact black where y = -1"
            if config.output == "clamp"
            else "clip((y + 1) / 2, 0, 1) of the linear output y = G(z) (no tanh)"
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        w = self.mapping(z, labels)
        noise = self.noise_source or self._own_noise
        x = self.const.to(w.dtype)[None].expand(len(z), -1, -1, -1)
        x = self.layers[0](x, w, noise)
        image = self.image_layers[0](x, w)
        for i, to_image in enumerate(self.image_layers[1:]):
            x = self.layers[1 + 2 * i](x, w, noise)
            x = self.layers[2 + 2 * i](x, w, noise)
            image = F.interpolate(image, scale_factor=2, mode="bilinear", align_corners=False)
            image = image + to_image(x, w)
        if self.config.output == "clamp":
            return _ReturningClamp.apply(image)
        return image

    def _own_noise(self, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.randn(shape, generator=self.noise_rng)

    def share_training_draws(self, draw: BatchDraw) -> None:
        """Per-image noise inputs of this process's rows: the global batch's draw from the
        generator's own stream, sliced, so they do not depend on the number of processes."""
        rng = self.noise_rng
        self.noise_source = lambda shape: draw(
            shape[0], lambda m: torch.randn(m, *shape[1:], generator=rng)
        )

    @staticmethod
    def to_images(raw: torch.Tensor) -> torch.Tensor:
        """Raw output -> images in [0, 1] (float32): clip((y + 1) / 2, 0, 1)."""
        return raw.float().add(1.0).mul(0.5).clamp(0.0, 1.0)

    def get_extra_state(self) -> dict[str, torch.Tensor]:
        return {"noise_rng": self.noise_rng.get_state()}

    def set_extra_state(self, state: dict[str, torch.Tensor]) -> None:
        self.noise_rng.set_state(state["noise_rng"])


def minibatch_stddev(x: torch.Tensor, group: int, features: int) -> torch.Tensor:
    """ProGAN §3: append the standard deviation over groups of samples as extra channels.

    Consecutive samples form a group (the official code groups samples i, i + N/G, ...;
    a departure so that a batch split among ranks, each a multiple of G, forms the same
    groups as on one process); the group size is the largest divisor of N at most ``group``.
    """
    n, c, h, w = x.shape
    g = max(d for d in range(1, min(group, n) + 1) if n % d == 0)
    y = x.float().reshape(-1, g, features, c // features, h, w)
    y = (y - y.mean(dim=1, keepdim=True)).square().mean(dim=1).add(1e-8).sqrt()  # per group
    y = y.mean(dim=(2, 3, 4)).reshape(-1, features, 1, 1).repeat_interleave(g, dim=0)
    return torch.cat([x, y.expand(-1, -1, h, w).to(x.dtype)], dim=1)


class DiscriminatorBlock(nn.Module):
    """Residual block (StyleGAN2 Fig. 7c): two 3x3 convs, 1x1 shortcut, sum / sqrt(2)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = EqualizedConv2d(in_channels, in_channels, 3)
        self.conv1 = EqualizedConv2d(in_channels, out_channels, 3, down=True)
        self.skip = EqualizedConv2d(
            in_channels, out_channels, 1, activation=False, bias=False, down=True
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.skip(x) + self.conv1(self.conv0(x))) * (1.0 / math.sqrt(2.0))


class Discriminator(nn.Module):
    """Image (N, C, size, size) in [-1, 1] [+ labels (N,)] -> one logit per image (N,)."""

    def __init__(self, config: Config, shape: Any) -> None:
        super().__init__()
        self.config, self.num_classes = config, shape.num_classes
        self.from_image = EqualizedConv2d(shape.generated_channels, config.channels(shape.size), 1)
        blocks, resolution = [], shape.size
        while resolution > 4:
            blocks.append(
                DiscriminatorBlock(config.channels(resolution), config.channels(resolution // 2))
            )
            resolution //= 2
        self.blocks = nn.Sequential(*blocks)
        channels = config.channels(4)
        self.mbstd_group, self.mbstd_channels = config.mbstd_group, config.mbstd_channels
        self.conv = EqualizedConv2d(channels + config.mbstd_channels, channels, 3)
        self.fc = EqualizedLinear(channels * 16, channels, activation=True)
        self.cmap_dim = (config.cmap_dim or channels) if shape.num_classes > 0 else 0
        self.out = EqualizedLinear(channels, self.cmap_dim or 1)
        self.embed = EqualizedLinear(shape.num_classes, self.cmap_dim) if self.cmap_dim else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.blocks(self.from_image(x))
        if self.mbstd_channels:
            x = minibatch_stddev(x, self.mbstd_group, self.mbstd_channels)
        x = self.fc(self.conv(x).flatten(1))
        out = self.out(x)
        if self.embed is None:
            return out.reshape(-1)
        onehot = _one_hot(labels, self.num_classes, len(x), x.device)
        cmap = normalize_2nd_moment(self.embed(onehot))
        return (out * cmap.to(out.dtype)).sum(dim=1) / math.sqrt(self.cmap_dim)


def build(config: Config, shape: Any) -> tuple[Generator, Discriminator]:
    """A freshly initialised (generator, discriminator) pair for ``shape``.

    ``shape``: a :class:`brainsynth.models.shape.ModelShape` (size: a power of two from 16
    to 1024; channels; latent; num_classes, 0 = unconditional).
    """
    size = int(shape.size)
    if size < 16 or size > 1024 or size & (size - 1):
        raise BrainsynthError(f"stylegan2: image size {size} is not a power of two in 16..1024")
    if shape.channels < 1 or shape.latent < 1 or shape.num_classes < 0:
        raise BrainsynthError("stylegan2: channels and latent must be >= 1, num_classes >= 0")
    if config.mbstd_channels and config.channels(4) % config.mbstd_channels:
        raise BrainsynthError(
            f"stylegan2: mbstd_channels {config.mbstd_channels} must divide the "
            f"{config.channels(4)} channels at 4x4"
        )
    return Generator(config, shape), Discriminator(config, shape)


def parameter_estimate(config: Config, shape: Any) -> int:
    """An upper bound of the parameters and buffers :func:`build` allocates, counted without
    building (weights exactly; biases, styles' biases and noise buffers bounded)."""
    w, classes = config.w_dim, shape.num_classes
    total = (shape.latent + (w if classes else 0)) * w + (config.mapping_layers - 1) * w * w
    total += classes * w + 2 * w * config.mapping_layers  # label embedding, biases
    channels = config.channels(4)
    total += channels * 16 + _layer_estimate(channels, channels, w, shape.generated_channels)
    resolution = 4
    while resolution < shape.size:
        resolution *= 2
        out = config.channels(resolution)
        total += _layer_estimate(channels, out, w, shape.generated_channels)
        total += 16 * out + 2 * resolution**2
        total += _layer_estimate(out, out, w, 0)
        channels = out
    resolution = shape.size  # discriminator
    total += (shape.generated_channels + 1) * config.channels(resolution)
    while resolution > 4:
        a, b = config.channels(resolution), config.channels(resolution // 2)
        total += a * a * 9 + a * b * 10 + a + b
        resolution //= 2
    c4 = config.channels(4)
    cmap = (config.cmap_dim or c4) if classes else 1
    total += (c4 + config.mbstd_channels) * c4 * 9 + c4 * 16 * c4 + c4 * cmap + classes * cmap
    return total + 4 * c4 + 2 * cmap + 2 * shape.size**2


def _layer_estimate(inputs: int, out: int, w_dim: int, image_channels: int) -> int:
    """A synthesis layer's modulated 3x3 convolution and style affine (and, with
    ``image_channels``, its ToImage 1x1 layer), biases included."""
    total = out * inputs * 9 + w_dim * inputs + inputs + out + 1
    if image_channels:
        total += image_channels * out + w_dim * out + out + image_channels
    return total


FAMILY = Family(
    name="stylegan2",
    display_name="StyleGAN2",
    kind="gan",
    summary="StyleGAN2 at small-data settings: mapping network, modulated convolutions, "
    "residual discriminator (Karras et al. 2020; StyleGAN2-ADA, Karras et al. 2020b)",
    Config=Config,
    build=build,
    parameter_estimate=parameter_estimate,
    trainer="adversarial",
    # the logistic loss with StyleGAN2's optimiser and R1 first: Karras et al. 2020, app. B
    objectives=("nonsaturating", *(o for o in ADVERSARIAL_OBJECTIVES if o != "nonsaturating")),
)
