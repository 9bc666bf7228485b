"""The tumour masks ``prepare`` writes beside the images, one case at a time.

Each case's segmentation is mapped from its release's labels to 0..3
(:mod:`brainsynth.data.label_maps`), cut into the same slices through the same reorientation,
and resized with nearest neighbour on the images' pixel grid, so ``masks[i]`` labels
``images[i]``. A case without a segmentation gets all-zero masks and ``segmented`` 0 in
``slices.csv``. ``tumor_pixels`` counts the segmented voxels of a slice at the *original*
resolution, as it always has (a ``--tumor-threshold`` means the same in folders of every
version); a mask is therefore non-zero only where ``tumor_pixels > 0``, while a tumour
smaller than a prepared pixel can miss every sample of the nearest-neighbour grid and leave
an empty mask (``dataset.json``'s ``masks.tumour_slices_without_mask`` counts those slices).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from brainsynth.data.discovery import Case
from brainsynth.data.label_maps import case_mapping, map_labels, mapping_record
from brainsynth.data.loading import load_volume
from brainsynth.data.masks import MASK_LABELS
from brainsynth.data.preprocessing import display_slice, plane_axis, resize_labels
from brainsynth.errors import BrainsynthError


def segmentation(case: Case, shape: list) -> np.ndarray | None:
    """The case's canonical label volume mapped to mask labels 0..3, or None without one."""
    if case.seg is None:
        return None
    seg = load_volume(case.seg)
    if seg.shape != shape[0]:
        raise BrainsynthError(f"{case.seg}: shape {seg.shape} differs from {shape[1]} {shape[0]}")
    return map_labels(seg, case_mapping(case), case.seg)


def tumor_counts(labels: np.ndarray, plane: str, slices: tuple[int, int]) -> list[int]:
    """Voxels with a tumour label in each selected slice, at the original resolution."""
    axis = plane_axis(plane)
    other = tuple(a for a in range(3) if a != axis)
    per_slice = (labels > 0).sum(axis=other)
    return [int(per_slice[i]) for i in range(*slices)]


def mask_slices(
    labels: np.ndarray | None, plane: str, slices: tuple[int, int], size: int, mode: str
) -> np.ndarray:
    """(S, size, size) uint8 masks of ``slices``: display orientation, then nearest neighbour
    with the images' resize ``mode`` (all zero without a segmentation)."""
    out = np.zeros((len(range(*slices)), size, size), dtype=np.uint8)
    if labels is not None:
        for k, index in enumerate(range(*slices)):
            out[k] = resize_labels(display_slice(labels, plane, index), size, mode)
    return out


def mask_part(target: Path) -> Path:
    """Where the masks of the case whose images go to ``target`` are written."""
    return target.with_name(f"{target.stem}-masks.npy")


def record_mapping(mappings: dict[str, dict[str, int]], case: Case) -> None:
    """Note the label mapping of ``case`` under its layout (and its folder, should two
    Decathlon tasks of one cohort order their labels differently)."""
    record = mapping_record(case_mapping(case))
    key = case.layout
    if mappings.get(key, record) != record:
        key = f"{case.layout} ({case.folder.parent})"
    mappings[key] = record


def mask_summary(path: Path, rows: list[dict[str, Any]], mappings: dict) -> dict[str, Any]:
    """What ``dataset.json`` says about ``masks.npy``: labels, mapping, and tumour slices whose
    tumour was too small to reach any pixel of the prepared grid."""
    masks = np.load(path, mmap_mode="r")
    tumour = np.array([int(row["tumor_pixels"] or 0) > 0 for row in rows], dtype=bool)
    empty = np.array([not masks[i].any() for i in range(len(rows))], dtype=bool)
    return {
        "mask_labels": {str(k): v for k, v in MASK_LABELS.items()},
        "label_mapping": dict(sorted(mappings.items())),
        "masks": {
            "file": "masks.npy",
            "dtype": "uint8",
            "resize": "nearest neighbour, on the images' pixel grid",
            "tumor_pixels": "segmented voxels of the slice at the original resolution",
            "segmented_slices": sum(int(row["segmented"]) for row in rows),
            "tumour_slices": int(tumour.sum()),
            "tumour_slices_without_mask": int((tumour & empty).sum()),
        },
    }
