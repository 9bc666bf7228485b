"""What every architecture must produce and consume, whatever its own settings are."""

from __future__ import annotations

from dataclasses import dataclass

from brainsynth.errors import BrainsynthError
from brainsynth.paper import LATENT


@dataclass(frozen=True)
class ModelShape:
    """Image and latent geometry shared by a generator and its discriminator.

    ``size``: square image side; ``channels``: image channels (1; 4 when the four MR
    sequences are generated jointly); ``latent``: latent vector size (paper: 100, Radford et
    al.); ``num_classes``: number of class labels (0 = unconditional, the paper's).
    """

    size: int
    channels: int = 1
    latent: int = LATENT
    num_classes: int = 0

    def __post_init__(self) -> None:
        if self.size < 1 or self.channels < 1 or self.latent < 1:
            raise BrainsynthError("image size, channels and latent size must be positive")
        if self.num_classes < 0:
            raise BrainsynthError("the number of classes cannot be negative")
