"""The prepared-dataset format, read and written.

``brainsynth prepare`` writes a folder that every later step reads:

- ``images.npy``: uint8 array (N, 4, H, W), channels T1, T1c, T2, FLAIR (:data:`SEQUENCES`),
  intensities in [0, 1] stored as round(255 * x); memory-mappable.
- ``masks.npy`` (absent from folders of brainsynth 0.3.0 and earlier): uint8 array (N, H, W)
  of tumour labels 0..3 (0 background, 1 necrotic / non-enhancing core, 2 oedema,
  3 enhancing; :mod:`brainsynth.data.masks`), row for row with ``images.npy``; all zero for
  a case without segmentation.
- ``slices.csv``: one row per image with at least ``patient, grade, plane, slice,
  tumor_pixels`` (``tumor_pixels``: tumour voxels of the slice at the original resolution,
  empty when the case has no segmentation) and, with masks, ``segmented`` (1 or 0).
- ``dataset.json``: provenance (source, layouts, each case's folder and what it resolves to
  through symbolic links, plane, slice range, size, normalisation, counts, skipped cases,
  brainsynth version).

An *image set* (paper §3.2.2) is one sequence's channel, or ``concat``: all four channels
pooled as single-channel images (4N images from N slices, as the paper's 61,600 from 15,400).
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from brainsynth.errors import BrainsynthError
from brainsynth.paper import SEQUENCES
from brainsynth.vocabulary import JOINT, TRAINING_SETS

SLICE_COLUMNS: tuple[str, ...] = ("patient", "grade", "plane", "slice", "tumor_pixels")
"""Columns every prepared folder's ``slices.csv`` has (``segmented`` came with the masks)."""


@dataclass
class ImageSet:
    """Single-channel images of one image set (four-channel for ``joint``), with where each
    came from.

    ``images`` is (M, 1, H, W), or (M, 4, H, W) for ``joint``: uint8 (0..255) when loaded
    with ``as_float=False``, else float32 in [0, 1]. ``patients[i]``, ``channels[i]`` (index
    into :data:`SEQUENCES`, -1 for ``joint``) and ``rows[i]`` (row of ``slices.csv``)
    describe image ``i``; ``masks[i]`` (uint8 (M, H, W), labels 0..3, when asked for) is the
    tumour mask of image ``i``, so ``concat`` repeats each slice's mask once per channel.
    """

    name: str
    images: np.ndarray
    patients: np.ndarray
    channels: np.ndarray
    rows: np.ndarray
    masks: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index: np.ndarray) -> ImageSet:
        """The images at ``index`` (a boolean mask or indices), with their provenance."""
        return ImageSet(
            name=self.name,
            images=self.images[index],
            patients=self.patients[index],
            channels=self.channels[index],
            rows=self.rows[index],
            masks=None if self.masks is None else self.masks[index],
        )

    def float_images(self, index: np.ndarray | None = None) -> np.ndarray:
        """The images (or only those at ``index``) as float32 in [0, 1], whatever they were
        loaded as; selecting first keeps a large uint8 set from being converted whole."""
        images = self.images if index is None else self.images[index]
        if images.dtype == np.uint8:
            return images.astype(np.float32) / 255.0
        return np.asarray(images, dtype=np.float32)


@dataclass
class PreparedDataset:
    """A prepared folder: the (memory-mapped) image array, its slice table and metadata."""

    root: Path
    images: np.ndarray
    slices: list[dict[str, str]]
    meta: dict[str, Any]
    _masks: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def size(self) -> int:
        """Image side length H (= W)."""
        return int(self.images.shape[-1])

    @property
    def patients(self) -> np.ndarray:
        return np.array([row["patient"] for row in self.slices])

    @property
    def masks(self) -> np.ndarray:
        """The tumour masks, (N, H, W) uint8 in 0..3, memory-mapped from ``masks.npy``.

        Checked once, on first use: shape against ``images.npy``, dtype, and every value in
        0..3. A folder prepared before masks existed raises a one-line BrainsynthError that
        says to prepare it again.
        """
        if self._masks is None:
            self._masks = load_masks(self.root, self.images.shape)
        return self._masks

    @property
    def has_masks(self) -> bool:
        """Whether ``masks.npy`` is present and valid (:attr:`masks` would load)."""
        try:
            _ = self.masks
        except BrainsynthError:
            return False
        return True

    @property
    def segmented(self) -> np.ndarray:
        """(N,) bool: whether each slice's case had a segmentation (its mask means something:
        an all-zero mask of an unsegmented case is unknown, not tumour-free).

        From ``slices.csv``'s ``segmented`` column; folders prepared before it existed: True
        where ``tumor_pixels`` is filled in.
        """
        flags = np.empty(len(self.slices), dtype=bool)
        for i, row in enumerate(self.slices):
            value = row.get("segmented")
            if value is None:
                flags[i] = bool(str(row.get("tumor_pixels", "") or "").strip())
            elif value.strip() in ("0", "1"):
                flags[i] = value.strip() == "1"
            else:
                raise BrainsynthError(
                    f"{self.root / 'slices.csv'}: row {i + 1}: segmented {value[:20]!r} is "
                    "not 0 or 1"
                )
        return flags

    def image_set(self, name: str, as_float: bool = True, with_masks: bool = False) -> ImageSet:
        """Select one image set: ``t1``, ``t1c``, ``t2``, ``flair``, ``concat`` or ``joint``.

        ``concat`` is ordered sequence by sequence (all T1, then all T1c, ...); ``joint`` keeps
        the four co-registered sequences of each slice together, (N, 4, H, W). With
        ``with_masks`` the set carries each image's tumour mask (in memory), aligned with
        ``rows``; a folder without masks raises :attr:`masks`' one-line error.
        """
        name = name.lower()
        if name not in TRAINING_SETS:
            raise BrainsynthError(
                f"unknown sequence {name!r}: choose one of {', '.join(TRAINING_SETS)}"
            )
        n = len(self.slices)
        patients = self.patients
        masks = np.array(self.masks) if with_masks else None  # in memory, writable
        if name == JOINT:
            images = np.array(self.images)  # in memory, writable (the file is memory-mapped)
            return ImageSet(
                name=name,
                images=images.astype(np.float32) / 255.0 if as_float else images,
                patients=patients,
                channels=np.full(n, -1, dtype=np.int64),
                rows=np.arange(n, dtype=np.int64),
                masks=masks,
            )
        channels = list(range(len(SEQUENCES))) if name == "concat" else [SEQUENCES.index(name)]
        images = np.concatenate([self.images[:, c : c + 1] for c in channels], axis=0)
        if as_float:
            images = images.astype(np.float32) / 255.0
        rows = np.tile(np.arange(n, dtype=np.int64), len(channels))
        return ImageSet(
            name=name,
            images=images,
            patients=np.tile(patients, len(channels)),
            channels=np.repeat(np.array(channels, dtype=np.int64), n),
            rows=rows,
            masks=None if masks is None else masks[rows],
        )


def load_masks(root: Path, image_shape: tuple[int, ...]) -> np.ndarray:
    """``root/masks.npy`` memory-mapped and checked against images of ``image_shape``."""
    path = root / "masks.npy"
    if not path.is_file():
        raise BrainsynthError(
            f"{root}: was prepared without tumour masks (an older brainsynth); run "
            "'brainsynth prepare' again to use masks"
        )
    try:
        masks = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise BrainsynthError(f"{path}: unreadable ({exc})") from exc
    expected = (image_shape[0], *image_shape[2:])
    if masks.dtype != np.uint8 or masks.shape != expected:
        raise BrainsynthError(
            f"{path}: expected uint8 {expected} to match images.npy, got {masks.dtype} "
            f"{masks.shape}; run 'brainsynth prepare' again"
        )
    for start in range(0, len(masks), 1024):  # in blocks: the map stays on disk
        if masks[start : start + 1024].max(initial=0) > 3:
            raise BrainsynthError(
                f"{path}: holds values above 3 (labels are 0..3); run 'brainsynth prepare' again"
            )
    return masks


def load_prepared(root: str | os.PathLike[str]) -> PreparedDataset:
    """Open a prepared folder, checking that its three files agree."""
    root = Path(root)
    paths = {name: root / name for name in ("images.npy", "slices.csv", "dataset.json")}
    if not root.is_dir():
        raise BrainsynthError(f"{root}: no such prepared dataset folder")
    for name, path in paths.items():
        if not path.is_file():
            raise BrainsynthError(f"{root}: not a prepared dataset ({name} is missing)")
    try:
        images = np.load(paths["images.npy"], mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise BrainsynthError(f"{paths['images.npy']}: unreadable ({exc})") from exc
    if images.ndim != 4 or images.shape[1] != len(SEQUENCES) or images.dtype != np.uint8:
        raise BrainsynthError(
            f"{paths['images.npy']}: expected uint8 (N, 4, H, W), got {images.dtype} {images.shape}"
        )
    if images.shape[2] != images.shape[3]:
        raise BrainsynthError(
            f"{paths['images.npy']}: images are {images.shape[2]}x{images.shape[3]}, not square; "
            "prepare them again with brainsynth prepare"
        )
    slices = read_slices_csv(paths["slices.csv"])
    if len(slices) != len(images):
        raise BrainsynthError(
            f"{root}: slices.csv has {len(slices)} rows but images.npy has {len(images)} images"
        )
    try:
        meta = json.loads(paths["dataset.json"].read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BrainsynthError(f"{paths['dataset.json']}: not valid JSON ({exc})") from exc
    if not isinstance(meta, dict):
        raise BrainsynthError(f"{paths['dataset.json']}: expected a JSON object")
    return PreparedDataset(root=root, images=images, slices=slices, meta=meta)


def read_slices_csv(path: Path) -> list[dict[str, str]]:
    """The rows of ``slices.csv``, refusing a file without the columns every step reads."""
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            slices = list(reader)
            columns = reader.fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BrainsynthError(f"{path}: unreadable ({exc})") from exc
    missing = [c for c in SLICE_COLUMNS if c not in columns]
    if missing:
        raise BrainsynthError(
            f"{path}: missing column(s) {', '.join(missing)} (expected {', '.join(SLICE_COLUMNS)})"
        )
    return slices


def write_prepared(
    root: str | os.PathLike[str],
    images: np.ndarray,
    slices: list[dict[str, Any]],
    meta: dict[str, Any],
    masks: np.ndarray | None = None,
) -> Path:
    """Write the files of a prepared folder (used by tests and small tools).

    ``images`` is uint8 (N, 4, H, W) or float in [0, 1]; ``slices`` has one dict per image;
    ``masks`` (N, H, W) labels 0..3, when given, become ``masks.npy`` (else none is left).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if images.dtype != np.uint8:
        images = np.clip(np.rint(np.asarray(images) * 255.0), 0, 255).astype(np.uint8)
    if masks is not None:
        masks = np.asarray(masks)
        if masks.shape != (images.shape[0], *images.shape[2:]):
            raise ValueError(f"masks {masks.shape} do not match images {images.shape}")
        if masks.size and (masks.min() < 0 or masks.max() > 3):
            raise ValueError("masks hold labels 0..3")
        np.save(root / "masks.npy", masks.astype(np.uint8))
    elif (root / "masks.npy").is_file():
        (root / "masks.npy").unlink()  # a stale one would not match the new images
    np.save(root / "images.npy", images)
    write_slices_csv(root / "slices.csv", slices)
    (root / "dataset.json").write_text(json.dumps(meta, indent=2, default=str))
    return root


def write_slices_csv(path: Path, slices: list[dict[str, Any]]) -> None:
    """Write ``slices.csv`` with :data:`SLICE_COLUMNS` first, then any extra columns."""
    extra = sorted({k for row in slices for k in row} - set(SLICE_COLUMNS))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*SLICE_COLUMNS, *extra])
        writer.writeheader()
        for row in slices:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
