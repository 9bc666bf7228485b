"""Settings of the reference segmenter (:mod:`.segmenter`); torch-free, written to YAML."""

from __future__ import annotations

from dataclasses import dataclass

from brainsynth.errors import BrainsynthError

MIN_SEGMENTER_SIZE = 32
"""Smallest image side the U-Net reads: it halves the image four times, and instance norm
needs more than one pixel at the bottom."""


@dataclass
class SegmenterConfig:
    """A small 2D U-Net (MONAI ``BasicUNet``) and its training.

    ``width`` w gives the encoder widths (w, w, 2w, 4w, 8w) and the last decoder width w;
    MONAI's default (32, 32, 64, 128, 256, 32) is w = 32, and 8 keeps a CPU run short
    (125k parameters with four input channels). ``epochs`` are passes over the REAL training
    slices: arms with extra (synthetic) slices take as many optimiser steps. ``patience``:
    stop after that many epochs without a better validation Dice (0: train every epoch; the
    weights of the best validation epoch are kept either way).
    """

    width: int = 8
    epochs: int = 10
    batch: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-5
    patience: int = 0

    def __post_init__(self) -> None:
        for name in ("width", "epochs", "batch"):
            if getattr(self, name) < 1:
                raise BrainsynthError(f"segmenter {name} {getattr(self, name)}: must be >= 1")
        if not self.lr > 0:
            raise BrainsynthError(f"segmenter lr {self.lr}: must be > 0")
        if not self.weight_decay >= 0:
            raise BrainsynthError(f"segmenter weight_decay {self.weight_decay}: must be >= 0")
        if self.patience < 0:
            raise BrainsynthError(f"segmenter patience {self.patience}: must be >= 0")
