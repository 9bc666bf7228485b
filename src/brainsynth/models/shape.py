"""What every architecture must produce and consume, whatever its own settings are."""

from __future__ import annotations

from dataclasses import dataclass

from brainsynth.config import IMAGE_SIZES, check_int
from brainsynth.paper import LATENT

MAX_SIZE = IMAGE_SIZES[-1]
"""The largest image side (1024 px), as :data:`brainsynth.config.IMAGE_SIZES`."""
MAX_CHANNELS = 16
"""The most image channels (brainsynth makes 1, or 4 for ``joint``)."""
MAX_LATENT = 4096
"""The longest latent vector (the paper's 100; StyleGAN2's 512)."""
MAX_CLASSES = 256
"""The most class labels of a conditional model (brainsynth's conditions give 2 or 4)."""
MAX_PARAMETERS = 2**28
"""The most parameters and buffers an architecture's networks may hold together (268M,
1 GiB of float32 per copy; StyleGAN2's official 1024 px generator and discriminator hold
about 60M). Each architecture's ``parameter_estimate`` is checked against it before
anything is built, so a 2 KB config cannot allocate gigabytes."""


@dataclass(frozen=True)
class ModelShape:
    """Image, latent and conditioning geometry shared by a family's networks.

    ``size``: square image side; ``channels``: image channels (1; 4 when the four MR
    sequences are generated jointly); ``latent``: latent vector size (paper: 100, Radford et
    al.), ``None`` for families without one (a denoiser starts from an image of noise);
    ``num_classes``: number of class labels (0 = unconditional, the paper's);
    ``mask_channels``: extra *generated* channels holding a one-hot tumour mask (image + mask
    pairs, ``train --with-mask``); ``condition_channels``: mask channels given as *input*
    (images drawn for a mask, ``train --condition mask``). Both hold a tumour mask in one of
    the encodings of :mod:`brainsynth.models.mask_encoding` (3 one-hot channels, or 1
    scalar channel); each field is a real integer (``64.0`` is refused) within the maxima
    above, and both are read as 0 from files that predate them.
    """

    size: int
    channels: int = 1
    latent: int | None = LATENT
    num_classes: int = 0
    mask_channels: int = 0
    condition_channels: int = 0

    def __post_init__(self) -> None:
        check_int(self.size, "size", 1, MAX_SIZE, "model shape")
        check_int(self.channels, "channels", 1, MAX_CHANNELS, "model shape")
        if self.latent is not None:
            check_int(self.latent, "latent", 1, MAX_LATENT, "model shape")
        check_int(self.num_classes, "num_classes", 0, MAX_CLASSES, "model shape")
        check_int(self.mask_channels, "mask_channels", 0, MAX_CHANNELS, "model shape")
        check_int(self.condition_channels, "condition_channels", 0, MAX_CHANNELS, "model shape")

    @property
    def generated_channels(self) -> int:
        """Channels a generator outputs (and its discriminator reads): the image's, then the
        mask's of an image + mask pair model."""
        return self.channels + self.mask_channels
