"""The paper's constants in one place: Han et al., "GAN-based synthetic brain MR image
generation", ISBI 2018 (/work/shared/paper).

Image sets and their names (§3.2.2, Table 1), the GAN settings of §3.2.2, the twelve
configurations of Table 1 and the one physician's Visual Turing Test results printed there.
Torch-free and dependency-free: every layer may import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SEQUENCES: tuple[str, ...] = ("t1", "t1c", "t2", "flair")
"""The four MR sequences of BraTS, in the channel order of a prepared ``images.npy``."""

SEQUENCE_LABELS: dict[str, str] = {"t1": "T1", "t1c": "T1c", "t2": "T2", "flair": "FLAIR"}

IMAGE_SETS: tuple[str, ...] = (*SEQUENCES, "concat")
"""What a GAN is trained on (§3.2.2): one sequence, or Concat (all four pooled)."""

IMAGE_SET_LABELS: dict[str, str] = {**SEQUENCE_LABELS, "concat": "Concat"}
"""How the paper names each image set (Table 1)."""

SLICES: tuple[int, int] = (80, 150)
"""Sagittal slices #80-#149 of each volume (§3.2.1), as a half-open range."""

IMAGE_SIZES: tuple[int, ...] = (64, 128)
"""Training image sides (§3.2.2)."""

BATCH = 64  # §3.2.2
LATENT = 100  # Radford et al.'s latent size, which the paper keeps
WIDTH = 32  # §3.2.2 "a half channel size": Radford's 64 halved

PAPER_GANS: tuple[str, ...] = ("dcgan", "wgan")

GAN_DEFAULTS: dict[str, dict[str, Any]] = {
    # §3.2.2: DCGAN with Adam (Radford et al.'s 2e-4, beta1 0.5).
    "dcgan": {"optimizer": "adam", "lr": 2e-4, "betas": (0.5, 0.999), "n_critic": 1,
              "clip": None, "gp_lambda": None, "r1_gamma": 0.0},
    # §3.2.2 and Arjovsky et al. 2017: RMSprop 5e-5, 5 critic steps, clipping at 0.01.
    "wgan": {"optimizer": "rmsprop", "lr": 5e-5, "betas": None, "n_critic": 5,
             "clip": 0.01, "gp_lambda": None, "r1_gamma": 0.0},
}  # fmt: skip
"""The paper's per-GAN training settings (its critic's normalisation, batch norm, is the
DCGAN family's default); departures add their own rows in training."""


@dataclass(frozen=True)
class Configuration:
    """One row of the paper's Table 1: an image set, a GAN and an image size."""

    sequence: str  # t1 | t1c | t2 | flair | concat
    gan: str  # dcgan | wgan
    size: int  # 64 | 128

    @property
    def label(self) -> str:
        """The row name as the paper prints it, e.g. ``T1 (DCGAN, 128x128)``."""
        return f"{IMAGE_SET_LABELS[self.sequence]} ({self.gan.upper()}, {self.size}x{self.size})"

    @property
    def slug(self) -> str:
        return f"{self.sequence}-{self.gan}-{self.size}"


def paper_configurations() -> list[Configuration]:
    """The twelve rows of Table 1 in the paper's order (§3.2.2, §4.2)."""
    rows = []
    for gan in PAPER_GANS:
        rows += [Configuration(s, gan, 128) for s in IMAGE_SETS]
        rows.append(Configuration("concat", gan, 64))
    return rows


PAPER_TABLE1: dict[str, tuple[int, int, int, int, int]] = {
    # label: (accuracy %, real as real, real as synt, synt as real, synt as synt)
    "T1 (DCGAN, 128x128)": (70, 26, 24, 6, 44),
    "T1c (DCGAN, 128x128)": (71, 24, 26, 3, 47),
    "T2 (DCGAN, 128x128)": (64, 22, 28, 8, 42),
    "FLAIR (DCGAN, 128x128)": (54, 12, 38, 8, 42),
    "Concat (DCGAN, 128x128)": (77, 34, 16, 7, 43),
    "Concat (DCGAN, 64x64)": (54, 13, 37, 9, 41),
    "T1 (WGAN, 128x128)": (64, 20, 30, 6, 44),
    "T1c (WGAN, 128x128)": (55, 13, 37, 8, 42),
    "T2 (WGAN, 128x128)": (58, 19, 31, 11, 39),
    "FLAIR (WGAN, 128x128)": (62, 16, 34, 4, 46),
    "Concat (WGAN, 128x128)": (66, 31, 19, 15, 35),
    "Concat (WGAN, 64x64)": (53, 18, 32, 15, 35),
}
"""The paper's Table 1 (one physician's Visual Turing Test), for comparison."""
