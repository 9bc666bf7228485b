"""A SPADE-DCGAN: images drawn for a tumour mask, the paper's DCGAN with spatially adaptive
normalisation (Park et al. 2019).

References: Park et al. 2019, "Semantic Image Synthesis with Spatially-Adaptive
Normalization" (SPADE); Isola et al. 2017, "Image-to-Image Translation with Conditional
Adversarial Networks" (pix2pix: a discriminator that sees the label map with the image);
Han et al. 2018 §3.2.2 (the DCGAN it is built on); Fernandez et al. 2022 (brainSPADE: SPADE
for brain MR from label maps).

- **Generator**: the paper's DCGAN generator (:mod:`brainsynth.models.dcgan`: a transposed
  convolution from the latent z to 4x4, stride-2 transposed convolutions doubling the side,
  ReLU, half width, **no tanh**, §3.2.2) with every batch normalisation replaced by a SPADE
  block (Park et al. §3, eq. 1): the activations are normalised without affine parameters
  (batch statistics, as their synchronised batch norm) and then scaled and shifted per pixel
  by gamma(m) and beta(m), two 3x3 convolutions of a shared 3x3 convolution (``spade_hidden``
  channels, leaky ReLU) of the mask m resized to that level with nearest neighbour. The mask
  therefore enters at every resolution and cannot be "washed away" by the normalisation
  (their §3, Fig. 3). The blocks are MONAI's ``monai.networks.blocks.SPADE``. Park et al.'s
  generator uses residual SPADE blocks and nearest upsampling; keeping DCGAN's layers makes
  this the paper's generator with one named change.
- **Discriminator**: the paper's DCGAN discriminator (ELU, 4x4 stride-2 convolutions, §3.2.2)
  reading the image and its mask concatenated as channels (pix2pix §3.2; SPADE §4 likewise
  concatenates the label map), so it judges whether an image fits its mask, not only whether
  it looks real. The trainer concatenates the masks after augmentation has moved both alike.
- **Objective**: hinge by default (Park et al. §4, after Miyato et al. 2018 and Lim & Ye
  2017); every adversarial objective works.
- The masks (``ModelShape.condition_channels``: one-hot, 3 channels, or a scalar channel,
  :mod:`brainsynth.models.mask_encoding`) are in the training range [-1, 1].

Departures, each named: DCGAN's layers instead of SPADE residual blocks; a single-scale DCGAN
discriminator instead of Park et al.'s multi-scale PatchGAN with spectral norm (no perceptual
or feature-matching loss: no pretrained weights are downloaded); no image encoder (their VAE
variant). ``spade_hidden`` defaults to 32 (theirs: 128) at the CPU width.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from brainsynth.config import check_field_types, check_int
from brainsynth.errors import BrainsynthError
from brainsynth.models import dcgan
from brainsynth.models.family import ADVERSARIAL_OBJECTIVES, Family
from brainsynth.models.generator import OneShotGenerator, check_masks
from brainsynth.models.shape import ModelShape
from brainsynth.paper import WIDTH

MAX_WIDTH = dcgan.MAX_WIDTH
OUTPUT_MAPPING = "x = clip((G(z, m) + 1) / 2, 0, 1) for the mask m; images in [-1, 1]; no tanh"


@dataclass
class Config:
    """The SPADE-DCGAN's settings (the image and mask shapes come from :class:`ModelShape`).

    ``width``: base channel width (the paper's DCGAN: 32); ``spade_hidden``: channels of each
    SPADE block's shared convolution of the mask (Park et al.: 128); ``disc_norm``: the
    discriminator's normalisation, ``batch`` | ``layer`` | ``none`` (as the DCGAN's; ``layer``
    under wgan-gp). Integers in 1..:data:`MAX_WIDTH`.
    """

    width: int = WIDTH
    spade_hidden: int = 32
    disc_norm: str = "batch"

    def __post_init__(self) -> None:
        check_field_types(self, "spade")
        check_int(self.width, "width", 1, MAX_WIDTH, "spade")
        check_int(self.spade_hidden, "spade_hidden", 1, MAX_WIDTH, "spade")
        if self.disc_norm not in dcgan.DISC_NORMS:
            raise BrainsynthError(f"spade: unknown disc_norm {self.disc_norm!r}: choose "
                                  f"{', '.join(dcgan.DISC_NORMS)}")  # fmt: skip


def check_shape(shape: ModelShape) -> int:
    """The number of up-sampling blocks, after one-line errors for shapes it cannot have."""
    if not shape.condition_channels:
        raise BrainsynthError("spade draws images for given tumour masks: train it with "
                              "--condition mask")  # fmt: skip
    if shape.num_classes or shape.mask_channels:
        raise BrainsynthError("spade is conditioned on a tumour mask only (no class labels, "
                              "no generated mask)")  # fmt: skip
    return dcgan.blocks(shape)


def spade_block(config: Config, shape: ModelShape, channels: int) -> nn.Module:
    """MONAI's SPADE block: batch norm without affine parameters, modulated by the mask."""
    from monai.networks.blocks import SPADE

    return SPADE(
        label_nc=shape.condition_channels,
        norm_nc=channels,
        kernel_size=3,
        spatial_dims=2,
        hidden_channels=config.spade_hidden,
        norm=("BATCH", {"affine": False}),
    )


def _init_weights(module: nn.Module) -> None:
    """Radford et al.'s N(0, 0.02) for every convolution, the SPADE blocks' included (their
    gamma and beta then start near 0: the block starts as plain normalisation)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class Generator(OneShotGenerator, nn.Module):
    """Latent (N, latent) and masks (N, condition_channels, H, W) -> image (N, C, H, W)."""

    output_mapping = OUTPUT_MAPPING

    def __init__(self, config: Config, shape: ModelShape) -> None:
        super().__init__()
        self.config, self.shape = config, shape
        n_blocks = check_shape(shape)
        channels = config.width * 2 ** (n_blocks - 1)
        self.ups = nn.ModuleList([nn.ConvTranspose2d(shape.latent, channels, 4, 1, 0, bias=False)])
        self.norms = nn.ModuleList([spade_block(config, shape, channels)])
        for _ in range(n_blocks - 1):
            self.ups.append(nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False))
            self.norms.append(spade_block(config, shape, channels // 2))
            channels //= 2
        # §3.2.2: "no tanh in the generator" -- the last layer is left linear.
        self.last = nn.ConvTranspose2d(channels, shape.channels, 4, 2, 1, bias=True)
        self.apply(_init_weights)

    def forward(
        self, z: torch.Tensor, labels: torch.Tensor | None = None, masks: torch.Tensor | None = None
    ) -> torch.Tensor:
        if labels is not None:
            raise BrainsynthError("spade is conditioned on tumour masks, not class labels")
        check_masks(masks, self.shape, len(z))
        x = z.reshape(z.shape[0], -1, 1, 1)
        for up, norm in zip(self.ups, self.norms, strict=True):
            x = torch.relu(norm(up(x), masks.to(x.dtype)))
        return self.last(x)

    @staticmethod
    def to_images(raw: torch.Tensor) -> torch.Tensor:
        """Raw output -> float32 in [0, 1]: ``clip((y + 1) / 2, 0, 1)`` (no tanh, §3.2.2)."""
        return raw.float().add(1.0).mul_(0.5).clamp_(0.0, 1.0)


def critic_shape(shape: ModelShape) -> ModelShape:
    """What the discriminator reads: the image and its mask as one multi-channel image."""
    return replace(shape, channels=shape.channels + shape.condition_channels, condition_channels=0)


def build(config: Config, shape: ModelShape) -> tuple[Generator, dcgan.Discriminator]:
    """A freshly initialised generator and discriminator (images + masks)."""
    generator = Generator(config, shape)
    critic = dcgan.Config(width=config.width, disc_norm=config.disc_norm)
    return generator, dcgan.Discriminator(critic, critic_shape(shape))


def parameter_estimate(config: Config, shape: ModelShape) -> int:
    """The parameters and buffers :func:`build` allocates, bounded from above without
    building: the DCGAN's (the discriminator reading the mask's channels too) and per SPADE
    block its three convolutions."""
    n_blocks = check_shape(shape)
    critic = dcgan.Config(width=config.width, disc_norm=config.disc_norm)
    total = dcgan.parameter_estimate(critic, critic_shape(shape))
    hidden, channels = config.spade_hidden, config.width * 2 ** (n_blocks - 1)
    for _ in range(n_blocks):
        total += 9 * hidden * (shape.condition_channels + 2 * channels) + hidden + 4 * channels
        channels //= 2
    return total


FAMILY = Family(
    name="spade",
    display_name="SPADE-DCGAN",
    kind="gan",
    summary="images drawn for a tumour mask: the paper's DCGAN with SPADE normalisation and a "
    "discriminator that sees the mask (Park et al. 2019; Han et al. 2018, §3.2.2)",
    Config=Config,
    build=build,
    parameter_estimate=parameter_estimate,
    trainer="adversarial",
    objectives=("hinge", *(o for o in ADVERSARIAL_OBJECTIVES if o != "hinge")),  # Park et al.
    objective_options={"wgan-gp": {"disc_norm": "layer"}},
    conditioning=frozenset({"mask"}),
    requires=frozenset({"mask"}),
)
