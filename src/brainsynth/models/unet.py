"""The UNet the denoising families share: MONAI's diffusion UNet, its widths and their checks.

``monai.networks.nets.DiffusionModelUNet`` (Ho et al. 2020 §4 and appendix B: a UNet of
residual blocks with group normalisation, an embedding of the noise level added in every
residual block, self-attention at low resolution). :class:`UNetSettings` holds its widths, a
family's Config inherits them: ``base_channels`` x ``channel_mult`` per level (the side
halves from level to level), ``res_blocks`` per level, attention at the sides in
``attention_resolutions``, ``norm_groups`` groups, ``head_channels`` per attention head.

The defaults (8 channels, multipliers 1, 2, 4, 8, attention at 8 px, one residual block per
level, 4 normalisation groups) make a 64x64 model train and sample on one CPU thread;
MONAI's own defaults (32-64 channels, two blocks, attention from 16 px) are closer to the GPU
widths.

**Noise-level features** (``time_features``, a named departure from MONAI). The network
sees the time (a timestep, or 1000 t of a flow) through the sinusoidal embedding of Ho et
al. 2020 (their appendix B, after the Transformer's): sin and cos of t at frequencies
10000^(-i/h), i < h, then a two-layer MLP. MONAI sizes it by the first width: with 8
channels the network sees t through four frequencies, 1, 0.1, 0.01 and 0.001 rad per step,
of which the first two wrap hundreds of times over 1,000 steps and carry no usable
information, leaving a width-2 description of where in the process an image is (Ho et al.
use 128 features at 128 channels). ``time_features = F > 0`` gives the embedding F
features whatever the widths (:class:`_TimeFeaturesUNet`); 0 is MONAI's (brainsynth 0.3's,
so its checkpoints build the same network).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from brainsynth.config import check_int
from brainsynth.errors import BrainsynthError
from brainsynth.models.shape import MAX_SIZE

MAX_LEVELS = 8  # UNet levels (channel_mult entries); a 256 px image halves to 2 px in 8
MAX_MULT = 64  # a level's width multiplier
LIMITS: dict[str, tuple[int, int]] = {
    "base_channels": (1, 1024),
    "res_blocks": (1, 8),
    "norm_groups": (1, 1024),
    "head_channels": (1, 4096),
    "time_features": (0, 4096),
}
"""The integer widths' ranges, so that a config read from a file cannot ask for gigabytes (a
widths' product is bounded by :func:`parameter_estimate`)."""


@dataclass
class UNetSettings:
    """The UNet's widths (see the module docstring); a family's Config inherits them and
    calls :meth:`check_unet` from its ``__post_init__``, after its types are checked."""

    family_name: ClassVar[str] = "unet"  # how messages name the family

    base_channels: int = 8
    channel_mult: tuple[int, ...] = (1, 2, 4, 8)
    attention_resolutions: tuple[int, ...] = (8,)
    res_blocks: int = 1
    norm_groups: int = 4
    head_channels: int = 16
    time_features: int = 0  # sinusoidal features of the noise level; 0: the first width (MONAI)

    def check_unet(self) -> None:
        """One-line errors for widths out of bounds or that do not fit together."""
        name = self.family_name
        self.channel_mult = tuple(self.channel_mult)
        self.attention_resolutions = tuple(self.attention_resolutions)
        if not 1 <= len(self.channel_mult) <= MAX_LEVELS:
            raise BrainsynthError(f"{name}: channel_mult needs 1 to {MAX_LEVELS} multipliers")
        if len(self.attention_resolutions) > MAX_LEVELS:
            raise BrainsynthError(f"{name}: at most {MAX_LEVELS} attention_resolutions")
        for key, (low, high) in LIMITS.items():
            check_int(getattr(self, key), key, low, high, name)
        for m in self.channel_mult:
            check_int(m, "each channel_mult", 1, MAX_MULT, name)
        for r in self.attention_resolutions:
            check_int(r, "each attention resolution", 1, MAX_SIZE, name)
        if self.time_features % 2:
            raise BrainsynthError(f"{name}: time_features must be even (sines and cosines)")
        bad = [c for c in self.widths if c % self.norm_groups]
        if bad:
            raise BrainsynthError(
                f"{name}: norm_groups {self.norm_groups} must divide every width {self.widths}"
            )

    @property
    def widths(self) -> tuple[int, ...]:
        """Channels of each UNet level."""
        return tuple(self.base_channels * m for m in self.channel_mult)


def check_unet_shape(settings: UNetSettings, shape: Any) -> None:
    """One-line errors, before MONAI's own, for widths that do not fit ``shape``: size a
    power of two in 16..256 divisible by 2 ** (levels - 1), attention at sides of its levels,
    heads that divide the widths with attention (and the last: MONAI's middle block always
    has attention)."""
    name = settings.family_name
    size, levels = int(shape.size), len(settings.channel_mult)
    if size < 16 or size > 256 or size & (size - 1):
        raise BrainsynthError(f"{name}: image size {size} is not a power of two in 16..256")
    sides = [size // 2**i for i in range(levels)]
    if sides[-1] < 2:
        raise BrainsynthError(f"{name}: {levels} levels halve {size} px below 2 px; use fewer "
                              "channel_mult entries")  # fmt: skip
    unknown = [r for r in settings.attention_resolutions if r not in sides]
    if unknown:
        raise BrainsynthError(
            f"{name}: attention_resolutions {unknown} are not sides of this UNet's levels "
            f"({', '.join(map(str, sides))} px)"
        )
    attention_widths = [w for w, s in zip(settings.widths, sides, strict=True)
                        if s in settings.attention_resolutions]  # fmt: skip
    if any(w % settings.head_channels for w in attention_widths):
        raise BrainsynthError(f"{name}: head_channels {settings.head_channels} must divide the "
                              f"widths with attention {attention_widths}")  # fmt: skip
    if settings.widths[-1] % settings.head_channels:
        raise BrainsynthError(
            f"{name}: head_channels {settings.head_channels} must divide the last width "
            f"{settings.widths[-1]} (base_channels x the last channel_mult): the UNet's middle "
            "block always uses attention"
        )


def build_unet(settings: UNetSettings, shape: Any) -> nn.Module:
    """MONAI's diffusion UNet of these widths for ``shape`` (the generated channels, image
    then mask, in and out, with the condition mask's channels concatenated to the input; a
    class embedding of K + 1 entries, the last the null class of classifier-free guidance,
    when the shape has K classes), with ``time_features`` noise-level features when set."""
    from monai.networks.nets import DiffusionModelUNet

    sides = [shape.size // 2**i for i in range(len(settings.channel_mult))]
    arguments = dict(
        spatial_dims=2,
        in_channels=shape.generated_channels + shape.condition_channels,
        out_channels=shape.generated_channels,
        num_res_blocks=settings.res_blocks,
        channels=settings.widths,
        attention_levels=[side in settings.attention_resolutions for side in sides],
        norm_num_groups=settings.norm_groups,
        num_head_channels=settings.head_channels,
        num_class_embeds=shape.num_classes + 1 if shape.num_classes else None,
    )
    if not settings.time_features:
        return DiffusionModelUNet(**arguments)
    return _time_features_unet()(settings.time_features, **arguments)


@functools.cache
def _time_features_unet() -> type:
    """:class:`_TimeFeaturesUNet`, defined on first use (MONAI loads when a UNet is built)."""
    from monai.networks.nets import DiffusionModelUNet
    from monai.networks.nets.diffusion_model_unet import get_timestep_embedding

    class _TimeFeaturesUNet(DiffusionModelUNet):
        """MONAI's UNet with ``features`` sinusoidal features of the noise level, its time
        MLP's first layer taking them; the rest, state-dict keys included, is MONAI's."""

        def __init__(self, features: int, **arguments: Any) -> None:
            super().__init__(**arguments)
            self.time_features = features
            self.time_embed[0] = nn.Linear(features, self.time_embed[0].out_features)

        def forward(  # MONAI 1.6's forward, but for the width of the time embedding
            self,
            x: torch.Tensor,
            timesteps: torch.Tensor,
            context: torch.Tensor | None = None,
            class_labels: torch.Tensor | None = None,
        ) -> torch.Tensor:
            emb = self.time_embed(get_timestep_embedding(timesteps, self.time_features).to(x.dtype))
            if self.num_class_embeds is not None:
                if class_labels is None:
                    raise ValueError("class_labels should be provided when num_class_embeds > 0")
                emb = emb + self.class_embedding(class_labels).to(dtype=x.dtype)
            h = self.conv_in(x)
            skips = [h]
            for block in self.down_blocks:
                h, outputs = block(hidden_states=h, temb=emb, context=context)
                skips.extend(outputs)
            h = self.middle_block(hidden_states=h, temb=emb, context=context)
            for block in self.up_blocks:
                split = len(skips) - len(block.resnets)
                h = block(hidden_states=h, res_hidden_states_list=skips[split:], temb=emb,
                          context=context)  # fmt: skip
                skips = skips[:split]
            return self.out(h)

    return _TimeFeaturesUNet


def parameter_estimate(settings: UNetSettings, shape: Any) -> int:
    """An upper bound of the parameters and buffers :func:`build_unet` allocates, counted
    without building: MONAI's UNet level by level (residual blocks, attention, resampling
    convolutions; normalisation and bias terms bounded from above)."""
    widths = settings.widths
    channels = shape.generated_channels + shape.condition_channels
    sides = [shape.size // 2**i for i in range(len(widths))]
    attention = [side in settings.attention_resolutions for side in sides]
    embed = 4 * widths[0]  # MONAI's time embedding: 4 x the first width
    features = settings.time_features or widths[0]

    def resnet(a: int, b: int) -> int:
        return 9 * a * b + 9 * b * b + (a * b if a != b else 0) + embed * b + 2 * a + 8 * b

    def attend(c: int) -> int:
        return 4 * c * c + 8 * c

    total = 10 * channels * widths[0] + features * embed + embed * embed + 2 * embed
    total += (shape.num_classes + 1) * embed if shape.num_classes else 0
    previous = widths[0]
    for i, width in enumerate(widths):  # down path
        for j in range(settings.res_blocks):
            total += resnet(previous if j == 0 else width, width)
            total += attend(width) if attention[i] else 0
        total += 10 * width * width if i + 1 < len(widths) else 0
        previous = width
    total += 2 * resnet(widths[-1], widths[-1]) + attend(widths[-1])  # middle
    ups, up_attention = widths[::-1], attention[::-1]
    previous = ups[0]
    for i, width in enumerate(ups):  # up path: inputs concatenated with the skips
        skip = ups[min(i + 1, len(ups) - 1)]
        for j in range(settings.res_blocks + 1):
            inputs = (previous if j == 0 else width) + (skip if j == settings.res_blocks else width)
            total += resnet(inputs, width) + (attend(width) if up_attention[i] else 0)
        total += 10 * width * width if i + 1 < len(ups) else 0
        previous = width
    return total + 2 * widths[0] + 10 * widths[0] * channels
