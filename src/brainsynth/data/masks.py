"""Tumour label maps of prepared data: labels 0..3 and the regions scored from them.

``masks.npy`` holds one uint8 map per slice: 0 background, 1 necrotic / non-enhancing core,
2 oedema, 3 enhancing tumour (BraTS label 4 up to 2021, 3 from 2023). Segmentations are
scored per region, not per label (BraTS conventions, ``shared/conventions/segmentation.md``):
whole tumour {1, 2, 3}, tumour core {1, 3}, enhancing tumour {3}.
"""

from __future__ import annotations

import numpy as np

from brainsynth.errors import BrainsynthError

REGIONS: dict[str, tuple[int, ...]] = {
    "whole_tumor": (1, 2, 3),
    "tumor_core": (1, 3),
    "enhancing": (3,),
}
"""The scored regions of BraTS, each the union of its labels."""


def region(mask: np.ndarray, name: str) -> np.ndarray:
    """The boolean map of region ``name`` (a key of :data:`REGIONS`) in a label map of any
    shape."""
    if name not in REGIONS:
        raise BrainsynthError(f"unknown region {name!r}: choose one of {', '.join(REGIONS)}")
    return np.isin(mask, REGIONS[name])
