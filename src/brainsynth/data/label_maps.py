"""Tumour labels of each BraTS release, mapped onto brainsynth's four mask labels.

``masks.npy`` holds :data:`brainsynth.data.masks.MASK_LABELS`: 0 background, 1 necrotic /
non-enhancing tumour core, 2 peritumoral oedema, 3 enhancing tumour. The files say the same
things with other numbers (``../shared/conventions/segmentation.md``):

===========================  =============================================================
release (discovery layout)   file label -> mask label
===========================  =============================================================
BRATS 2015-2016 (.mha)       0 -> 0, 1 necrosis -> 1, 2 -> 2, 3 non-enhancing -> 1, 4 -> 3
BraTS 2017-2021 (NIfTI)      0 -> 0, 1 -> 1, 2 -> 2, 4 enhancing -> 3
BraTS 2023+ (NIfTI)          0 -> 0, 1 -> 1, 2 -> 2, 3 enhancing -> 3
Decathlon Task01 (``msd``)   from the task's ``dataset.json`` labels by name; without one,
                             the Decathlon's own 1 oedema -> 2, 2 non-enhancing -> 1,
                             3 enhancing -> 3
===========================  =============================================================

NIfTI cases whose names say no release (``brats-nifti``: ``<case>_t1.nii.gz``) follow
2017-2021, the layout those names come from. Any other value in a segmentation (a 3 in a 2021
file, a 5, a 255, a fraction) is refused with one line naming the file: kept silently it would
become a fifth class, or be counted as tumour that is none. The mapping used for each layout is
recorded in the prepared ``dataset.json`` (``label_mapping``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from brainsynth.data.discovery import Case
from brainsynth.errors import BrainsynthError

BRATS_2015: dict[int, int] = {0: 0, 1: 1, 2: 2, 3: 1, 4: 3}
BRATS_2017: dict[int, int] = {0: 0, 1: 1, 2: 2, 4: 3}
BRATS_2023: dict[int, int] = {0: 0, 1: 1, 2: 2, 3: 3}
MSD_TASK01: dict[int, int] = {0: 0, 1: 2, 2: 1, 3: 3}
"""The Decathlon's Task01 order (1 edema, 2 non-enhancing tumour, 3 enhancing tumour)."""

LAYOUT_LABELS: dict[str, dict[int, int]] = {
    "brats2015": BRATS_2015,
    "brats2017": BRATS_2017,
    "brats2018": BRATS_2017,
    "brats2019": BRATS_2017,
    "brats2020": BRATS_2017,
    "brats2021": BRATS_2017,
    "brats-nifti": BRATS_2017,
    "brats2023": BRATS_2023,
}
MAX_DATASET_JSON_BYTES = 1 << 20
"""A Decathlon ``dataset.json`` lists a few hundred cases; anything far larger is refused."""


def msd_label(name: object, path: Path) -> int:
    """The mask label of one Decathlon label name (``edema``, ``non-enhancing tumor``, ...)."""
    text = str(name).lower().replace("tumour", "tumor").replace("oedema", "edema")
    text = " ".join(text.replace("-", " ").replace("_", " ").split())
    if text.startswith("background"):
        return 0
    if "non enhancing" in text or "necro" in text:
        return 1
    if "enhancing" in text:
        return 3
    if "edema" in text:
        return 2
    raise BrainsynthError(
        f"{path}: label name {str(name)[:60]!r} is none of background, edema, "
        "non-enhancing tumor, enhancing tumor"
    )


def msd_mapping(task_json: Path) -> dict[int, int]:
    """File label -> mask label from a Decathlon task's ``dataset.json`` ``labels``.

    Without the file (or without ``labels`` in it) the Task01 order :data:`MSD_TASK01`;
    a file that names labels brainsynth does not know is refused rather than guessed.
    """
    if not task_json.is_file():
        return dict(MSD_TASK01)
    if task_json.stat().st_size > MAX_DATASET_JSON_BYTES:
        raise BrainsynthError(f"{task_json}: larger than {MAX_DATASET_JSON_BYTES} bytes")
    try:
        labels = json.loads(task_json.read_text()).get("labels")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError) as exc:
        raise BrainsynthError(f"{task_json}: not a readable dataset.json ({exc})") from exc
    if labels is None:
        return dict(MSD_TASK01)
    if not isinstance(labels, dict) or not labels:
        raise BrainsynthError(f"{task_json}: 'labels' must map label values to names")
    mapping: dict[int, int] = {}
    for key, name in labels.items():
        if not str(key).isdigit() or int(key) > 255:
            raise BrainsynthError(f"{task_json}: label value {str(key)[:20]!r} is not 0..255")
        mapping[int(key)] = msd_label(name, task_json)
    if mapping.get(0, 0) != 0:
        raise BrainsynthError(f"{task_json}: label 0 must be the background")
    mapping[0] = 0
    return dict(sorted(mapping.items()))


def case_mapping(case: Case) -> dict[int, int]:
    """File label -> mask label for the segmentation of ``case`` (see the module docstring)."""
    if case.layout == "msd":
        return msd_mapping(case.folder.parent / "dataset.json")
    if case.layout not in LAYOUT_LABELS:
        raise BrainsynthError(f"{case.folder}: no label convention known for {case.layout}")
    return dict(LAYOUT_LABELS[case.layout])


def map_labels(seg: np.ndarray, mapping: dict[int, int], path: object) -> np.ndarray:
    """``seg`` (any numeric array of file labels) as uint8 mask labels 0..3.

    Raises a one-line BrainsynthError naming ``path`` for a value the mapping does not hold.
    """
    seg = np.asarray(seg)
    expected = ", ".join(map(str, sorted(mapping)))
    if seg.size == 0:
        return np.zeros(seg.shape, dtype=np.uint8)
    low, high = seg.min(), seg.max()
    if low < 0 or high > 255:
        value = low if low < 0 else high
        raise BrainsynthError(f"{path}: label value {value:g} is not one of {expected}")
    if seg.dtype.kind == "f" and not np.array_equal(seg, np.floor(seg)):
        raise BrainsynthError(f"{path}: non-integer label values (labels are {expected})")
    codes = seg.astype(np.uint8)
    lookup = np.full(256, 255, dtype=np.uint8)
    lookup[list(mapping)] = list(mapping.values())
    labels = lookup[codes]
    unknown = labels == 255
    if unknown.any():
        values = ", ".join(str(v) for v in np.unique(codes[unknown])[:5])
        raise BrainsynthError(
            f"{path}: label value(s) {values} are not labels of this release ({expected})"
        )
    return labels


def mapping_record(mapping: dict[int, int]) -> dict[str, int]:
    """A mapping as JSON: ``{"4": 3, ...}`` (file label -> mask label)."""
    return {str(k): int(v) for k, v in sorted(mapping.items())}
