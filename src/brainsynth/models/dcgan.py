"""The DCGAN generator and discriminator of Han et al. (ISBI 2018, §3.2.2).

The paper uses "the same DCGAN architecture [Radford et al.] with no tanh in the generator,
ELU as the discriminator, all filters of size 4x4, and a half channel size", for both DCGAN
and WGAN training. Concretely:

- Generator: a transposed convolution maps the latent vector (size 100) to a 4x4 map, then
  stride-2 transposed convolutions double the side until the image size is reached, each
  followed by batch normalisation and ReLU (Radford et al.); the last layer has one output
  channel and **no tanh** (§3.2.2), so its output is an unbounded real number. The training
  data are scaled to [-1, 1] and :meth:`Generator.to_images` maps outputs back with
  ``clip((y + 1) / 2, 0, 1)``.
- Discriminator: stride-2 4x4 convolutions halve the side down to 4x4, batch normalisation
  on every layer but the first (Radford et al.), **ELU** activations (§3.2.2) instead of
  Radford's LeakyReLU, and a final 4x4 convolution to one **logit** per image. Sigmoids and
  other activations of the output belong to the objectives.
- Channel widths: Radford's ngf = ndf = 64, halved (§3.2.2 "a half channel size"): the
  default ``width`` is 32; the 4x4 layer has ``width * 2**(blocks - 1)`` channels.
- 64x64 has four stride-2 blocks (Radford et al.); 128x128 adds one more block, with twice
  the channels at 4x4. Other powers of two >= 16 work the same way (tests use 16x16).

Departures, each named:

- ``disc_norm="layer"`` (used by ``wgan-gp``): the critic has no batch normalisation, since
  the gradient penalty is per-sample (Gulrajani et al. 2017); layer normalisation
  (``GroupNorm`` with one group: over channels and space of each image) takes its place.
- ``disc_norm="none"``: no normalisation in the critic at all.
- Image + mask pairs (``shape.mask_channels > 0``, ``train --with-mask``; not the paper's):
  the generator's last layer outputs the mask channels after the image's and the
  discriminator reads both, so the two are learned as one multi-channel image.
- Class labels (``shape.num_classes > 0``; the paper is unconditional): the generator
  concatenates a learned class embedding of ``label_embedding`` numbers to z (conditional
  GAN, Mirza & Osindero 2014, with an embedding instead of a one-hot code); the
  discriminator adds a projection term ``<embed(y), sum-pooled features>`` to its logit
  (Miyato & Koyama 2018, eq. 3). With no labels the modules, and so the state-dict keys,
  are exactly brainsynth 0.1.0's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from brainsynth.config import check_field_types, check_int
from brainsynth.errors import BrainsynthError
from brainsynth.models.family import ADVERSARIAL_OBJECTIVES, Family
from brainsynth.models.generator import OneShotGenerator
from brainsynth.models.shape import ModelShape
from brainsynth.paper import WIDTH

DISC_NORMS: tuple[str, ...] = ("batch", "layer", "none")
MAX_WIDTH = 1024  # base width and label embedding (paper: 32 and 16)
OUTPUT_MAPPING = "x = clip((G(z) + 1) / 2, 0, 1); training images scaled to [-1, 1]; no tanh"


@dataclass
class Config:
    """The DCGAN's own settings (the image shape comes from :class:`ModelShape`).

    ``width``: base channel width (paper: 32, half of Radford's 64); ``disc_norm``:
    normalisation in the discriminator, ``batch`` (paper) | ``layer`` | ``none``;
    ``label_embedding``: size of the generator's class embedding (conditional runs only).
    Both widths are integers in 1..:data:`MAX_WIDTH`. Trained with ``wgan-gp`` the critic's
    normalisation defaults to ``layer`` (``FAMILY.objective_options``).
    """

    width: int = WIDTH
    disc_norm: str = "batch"
    label_embedding: int = 16

    def __post_init__(self) -> None:
        check_field_types(self, "dcgan")
        check_int(self.width, "width", 1, MAX_WIDTH, "dcgan")
        check_int(self.label_embedding, "label_embedding", 1, MAX_WIDTH, "dcgan")
        if self.disc_norm not in DISC_NORMS:
            raise BrainsynthError(
                f"dcgan: unknown disc_norm {self.disc_norm!r}: choose {', '.join(DISC_NORMS)}"
            )


def blocks(shape: ModelShape) -> int:
    """Number of stride-2 up/down-sampling layers: 4 at 64x64, 5 at 128x128."""
    if shape.size < 16 or shape.size & (shape.size - 1):
        raise BrainsynthError(f"dcgan: image size {shape.size} is not a power of two >= 16")
    return int(math.log2(shape.size)) - 2


def _init_weights(module: nn.Module) -> None:
    """Radford et al.'s initialisation: N(0, 0.02) weights, BN scale N(1, 0.02)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def _check_labels(labels: torch.Tensor | None, num_classes: int) -> None:
    if num_classes and labels is None:
        raise BrainsynthError(f"this model is conditional on {num_classes} classes: give labels")
    if not num_classes and labels is not None:
        raise BrainsynthError("this model is unconditional: it takes no labels")


class Generator(OneShotGenerator, nn.Module):
    """Latent (N, latent) [+ labels (N,)] -> image (N, channels, size, size), no tanh."""

    output_mapping = OUTPUT_MAPPING

    def __init__(self, config: Config, shape: ModelShape) -> None:
        super().__init__()
        self.config, self.shape = config, shape
        n_blocks = blocks(shape)
        widest = config.width * 2 ** (n_blocks - 1)
        inputs = shape.latent
        if shape.num_classes:
            self.embed = nn.Embedding(shape.num_classes, config.label_embedding)
            inputs += config.label_embedding
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(inputs, widest, 4, 1, 0, bias=False),
            nn.BatchNorm2d(widest),
            nn.ReLU(inplace=True),
        ]
        channels = widest
        for _ in range(n_blocks - 1):
            layers += [
                nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(channels // 2),
                nn.ReLU(inplace=True),
            ]
            channels //= 2
        # §3.2.2: "no tanh in the generator" -- the last layer is left linear.
        layers.append(nn.ConvTranspose2d(channels, shape.generated_channels, 4, 2, 1, bias=True))
        self.net = nn.Sequential(*layers)
        self.apply(_init_weights)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        _check_labels(labels, self.shape.num_classes)
        if labels is not None:
            z = torch.cat([z.reshape(z.shape[0], -1), self.embed(labels).to(z.dtype)], dim=1)
        return self.net(z.reshape(z.shape[0], -1, 1, 1))

    @staticmethod
    def to_images(raw: torch.Tensor) -> torch.Tensor:
        """Raw output -> float32 in [0, 1]: ``clip((y + 1) / 2, 0, 1)`` (no tanh, §3.2.2)."""
        return raw.float().add(1.0).mul_(0.5).clamp_(0.0, 1.0)


def _disc_norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    return nn.Identity()


class Discriminator(nn.Module):
    """Image (N, channels, size, size) [+ labels (N,)] -> one logit per image (N,), ELU."""

    def __init__(self, config: Config, shape: ModelShape) -> None:
        super().__init__()
        self.config, self.shape = config, shape
        use_bias = config.disc_norm == "none"
        layers: list[nn.Module] = [
            nn.Conv2d(shape.generated_channels, config.width, 4, 2, 1, bias=True),
            nn.ELU(inplace=True),  # §3.2.2: ELU; no norm on the first layer (Radford et al.)
        ]
        channels = config.width
        for _ in range(blocks(shape) - 1):
            layers += [
                nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=use_bias),
                _disc_norm(config.disc_norm, channels * 2),
                nn.ELU(inplace=True),
            ]
            channels *= 2
        layers.append(nn.Conv2d(channels, 1, 4, 1, 0, bias=True))
        self.net = nn.Sequential(*layers)
        if shape.num_classes:  # Miyato & Koyama 2018: projection of a class embedding
            self.embed = nn.Embedding(shape.num_classes, channels)
        self.apply(_init_weights)
        if shape.num_classes:
            nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        _check_labels(labels, self.shape.num_classes)
        features = self.net[:-1](x)
        logits = self.net[-1](features).reshape(-1)
        if labels is None:
            return logits
        pooled = features.sum(dim=(2, 3))  # (N, C): the 4x4 features, sum-pooled
        return logits + (self.embed(labels).to(pooled.dtype) * pooled).sum(dim=1)


def build(config: Config, shape: ModelShape) -> tuple[Generator, Discriminator]:
    """A freshly initialised generator and discriminator."""
    return Generator(config, shape), Discriminator(config, shape)


def parameter_estimate(config: Config, shape: ModelShape) -> int:
    """The parameters and buffers :func:`build` allocates, counted without building (the
    convolution weights exactly, normalisation and bias terms bounded from above)."""
    n_blocks = blocks(shape)
    classes = shape.num_classes
    widest = config.width * 2 ** (n_blocks - 1)
    inputs = shape.latent + (config.label_embedding if classes else 0)
    total = inputs * widest * 16 + classes * config.label_embedding
    channels = widest
    for _ in range(n_blocks - 1):  # generator: halving widths
        total += channels * (channels // 2) * 16
        channels //= 2
    total += channels * shape.generated_channels * 16
    channels = config.width
    total += shape.generated_channels * channels * 16
    for _ in range(n_blocks - 1):  # discriminator: doubling widths
        total += channels * channels * 2 * 16
        channels *= 2
    total += channels * 16 + classes * channels
    return total + 8 * widest * n_blocks + 64  # normalisation, biases


FAMILY = Family(
    name="dcgan",
    display_name="DCGAN",
    kind="gan",
    summary="the paper's DCGAN: half-width, no tanh, ELU critic (Han et al. 2018, §3.2.2; "
    "Radford et al. 2016)",
    Config=Config,
    build=build,
    parameter_estimate=parameter_estimate,
    trainer="adversarial",
    objectives=ADVERSARIAL_OBJECTIVES,  # dcgan first: the paper's
    # Gulrajani et al. 2017: the gradient penalty is per image, so no batch norm in the critic
    objective_options={"wgan-gp": {"disc_norm": "layer"}},
)
