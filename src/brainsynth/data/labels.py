"""Slice labels for conditional generation and the augmentation benefit test.

Conditions (``brainsynth train --condition``): ``none`` (the paper's unconditional GAN),
``tumor`` (two classes from the segmentation, below) and ``sequence`` (with ``--sequence
concat``: each image labelled by its sequence, t1, t1c, t2, flair, so that one model
generates the sequence asked for in place of Concat's anonymous pooling). ``mask`` gives no
class labels: its images are drawn for a tumour mask (``masks.npy``), which the training
data supplies as input channels (:mod:`brainsynth.training.data`).

A slice is ``with-tumor`` when its ``tumor_pixels`` (the segmented tumour voxels of the slice
at the original resolution, any BraTS label: necrosis/non-enhancing core, edema, enhancing
tumour) exceed a threshold, else ``without-tumor``. The default threshold, 0, labels a slice by the
presence of any annotated tumour, as Han et al. (IEEE Access 2019) did for tumour detection;
a higher threshold drops the faint edges of a tumour into the negative class.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from brainsynth.data.dataset import ImageSet
from brainsynth.errors import BrainsynthError
from brainsynth.paper import SEQUENCES
from brainsynth.vocabulary import CONDITIONS, TUMOR_LABEL_NAMES

DEFAULT_TUMOR_THRESHOLD: int = 0
"""A slice is ``with-tumor`` when ``tumor_pixels > DEFAULT_TUMOR_THRESHOLD``."""


def tumor_labels(
    slices: Sequence[dict[str, str]], threshold: float = DEFAULT_TUMOR_THRESHOLD
) -> np.ndarray:
    """One int64 label per row of ``slices.csv``: 1 = with tumour, 0 = without.

    Raises BrainsynthError when a row has no ``tumor_pixels`` (its case had no segmentation):
    such a slice cannot be labelled, and guessing would corrupt both classes.
    """
    if threshold < 0:
        raise BrainsynthError(f"tumor threshold {threshold}: must be 0 or more pixels")
    counts = np.empty(len(slices), dtype=np.float64)
    for i, row in enumerate(slices):
        value = str(row.get("tumor_pixels", "") or "").strip()
        if not value:
            raise BrainsynthError(
                f"slices.csv row {i + 1} (patient {row.get('patient', '?')}) has no tumor_pixels:"
                " tumour labels need a segmentation for every case"
            )
        try:
            counts[i] = float(value)
        except ValueError as exc:
            raise BrainsynthError(
                f"slices.csv row {i + 1}: tumor_pixels {value!r} is not a number"
            ) from exc
    return (counts > threshold).astype(np.int64)


def condition_label_names(condition: str, sequence: str) -> tuple[str, ...]:
    """The class names of a condition on an image set; () for ``none`` and ``mask``."""
    if condition in ("none", "mask"):
        return ()
    if condition == "tumor":
        return TUMOR_LABEL_NAMES
    if condition == "sequence":
        if sequence != "concat":
            raise BrainsynthError(
                f"--condition sequence labels the images of --sequence concat, not {sequence}"
            )
        return SEQUENCES
    raise BrainsynthError(
        f"unknown --condition {condition!r}: choose one of {', '.join(CONDITIONS)}"
    )


def image_set_labels(
    image_set: ImageSet,
    slices: Sequence[dict[str, str]],
    condition: str,
    threshold: float = DEFAULT_TUMOR_THRESHOLD,
) -> np.ndarray | None:
    """One class id per image of ``image_set`` (None for ``none`` and ``mask``)."""
    if condition in ("none", "mask"):
        return None
    condition_label_names(condition, image_set.name)
    if condition == "tumor":
        return tumor_labels(slices, threshold)[image_set.rows]
    return image_set.channels.astype(np.int64)
