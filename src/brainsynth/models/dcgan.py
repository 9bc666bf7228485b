"""The DCGAN generator and discriminator of Han et al. (ISBI 2018, §3.2.2).

The paper uses "the same DCGAN architecture [Radford et al.] with no tanh in the generator,
ELU as the discriminator, all filters of size 4x4, and a half channel size", for both DCGAN
and WGAN training. Concretely:

- Generator: a transposed convolution maps the latent vector (size 100) to a 4x4 map, then
  stride-2 transposed convolutions double the side until the image size is reached, each
  followed by batch normalisation and ReLU (Radford et al.); the last layer has one output
  channel and **no tanh** (§3.2.2), so its output is an unbounded real number. The training
  data are scaled to [-1, 1] and :mod:`brainsynth.sampling` maps outputs back with
  ``clip((y + 1) / 2, 0, 1)``.
- Discriminator: stride-2 4x4 convolutions halve the side down to 4x4, batch normalisation
  on every layer but the first (Radford et al.), **ELU** activations (§3.2.2) instead of
  Radford's LeakyReLU, and a final 4x4 convolution to one **logit** per image. Sigmoids and
  other activations of the output belong to the losses (:mod:`brainsynth.losses`).
- Channel widths: Radford's ngf = ndf = 64, halved (§3.2.2 "a half channel size"): the
  default ``width`` is 32; the 4x4 layer has ``width * 2**(blocks - 1)`` channels.
- 64x64 has four stride-2 blocks (Radford et al.); 128x128 adds one more block, with twice
  the channels at 4x4. Other powers of two >= 16 work the same way (tests use 16x16).

Departures, each named:

- ``disc_norm="layer"`` (used by ``wgan-gp``): the critic has no batch normalisation, since
  the gradient penalty is per-sample (Gulrajani et al. 2017); layer normalisation
  (``GroupNorm`` with one group: over channels and space of each image) takes its place.
- ``disc_norm="none"``: no normalisation in the critic at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from brainsynth.errors import BrainsynthError

DISC_NORMS: tuple[str, ...] = ("batch", "layer", "none")


@dataclass
class ModelConfig:
    """Shape of a generator/discriminator pair; stored in every checkpoint.

    ``size``: image side (power of two >= 16); ``width``: base channel width (paper: 32,
    half of Radford's 64); ``latent``: latent vector size (paper: 100); ``channels``: image
    channels (1: every image set is single-channel, concat included); ``disc_norm``:
    normalisation in the discriminator, ``batch`` (paper) | ``layer`` | ``none``.
    """

    size: int = 64
    width: int = 32
    latent: int = 100
    channels: int = 1
    disc_norm: str = "batch"

    def __post_init__(self) -> None:
        if self.size < 16 or self.size & (self.size - 1):
            raise BrainsynthError(f"image size {self.size} is not a power of two >= 16")
        if self.width < 1 or self.latent < 1 or self.channels < 1:
            raise BrainsynthError("width, latent and channels must be positive")
        if self.disc_norm not in DISC_NORMS:
            raise BrainsynthError(
                f"unknown discriminator norm {self.disc_norm!r}: choose {', '.join(DISC_NORMS)}"
            )

    @property
    def blocks(self) -> int:
        """Number of stride-2 up/down-sampling layers: 4 at 64x64, 5 at 128x128."""
        return int(math.log2(self.size)) - 2


def _init_weights(module: nn.Module) -> None:
    """Radford et al.'s initialisation: N(0, 0.02) weights, BN scale N(1, 0.02)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class Generator(nn.Module):
    """Latent (N, latent) -> image (N, channels, size, size), linear output (no tanh)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        widest = config.width * 2 ** (config.blocks - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(config.latent, widest, 4, 1, 0, bias=False),
            nn.BatchNorm2d(widest),
            nn.ReLU(inplace=True),
        ]
        channels = widest
        for _ in range(config.blocks - 1):
            layers += [
                nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(channels // 2),
                nn.ReLU(inplace=True),
            ]
            channels //= 2
        # §3.2.2: "no tanh in the generator" -- the last layer is left linear.
        layers.append(nn.ConvTranspose2d(channels, config.channels, 4, 2, 1, bias=True))
        self.net = nn.Sequential(*layers)
        self.apply(_init_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.reshape(z.shape[0], -1, 1, 1))


def _disc_norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    return nn.Identity()


class Discriminator(nn.Module):
    """Image (N, channels, size, size) -> one logit per image (N,), ELU activations."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        use_bias = config.disc_norm == "none"
        layers: list[nn.Module] = [
            nn.Conv2d(config.channels, config.width, 4, 2, 1, bias=True),
            nn.ELU(inplace=True),  # §3.2.2: ELU; no norm on the first layer (Radford et al.)
        ]
        channels = config.width
        for _ in range(config.blocks - 1):
            layers += [
                nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=use_bias),
                _disc_norm(config.disc_norm, channels * 2),
                nn.ELU(inplace=True),
            ]
            channels *= 2
        layers.append(nn.Conv2d(channels, 1, 4, 1, 0, bias=True))
        self.net = nn.Sequential(*layers)
        self.apply(_init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).reshape(-1)


def build_models(config: ModelConfig) -> tuple[Generator, Discriminator]:
    """A freshly initialised generator and discriminator for ``config``."""
    return Generator(config), Discriminator(config)
