"""The prepared-dataset format, read and written.

``brainsynth prepare`` writes a folder that every later step reads:

- ``images.npy``: uint8 array (N, 4, H, W), channels T1, T1c, T2, FLAIR (:data:`SEQUENCES`),
  intensities in [0, 1] stored as round(255 * x); memory-mappable.
- ``slices.csv``: one row per image with at least ``patient, grade, plane, slice,
  tumor_pixels`` (``tumor_pixels`` empty when the case has no segmentation).
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from brainsynth.errors import BrainsynthError
from brainsynth.paper import IMAGE_SETS, SEQUENCES

JOINT: str = "joint"
"""Not one of the paper's sets: the four sequences of a slice as one (4, H, W) image."""
TRAINING_SETS: tuple[str, ...] = (*IMAGE_SETS, JOINT)
SLICE_COLUMNS: tuple[str, ...] = ("patient", "grade", "plane", "slice", "tumor_pixels")


@dataclass
class ImageSet:
    """Single-channel images of one image set (four-channel for ``joint``), with where each
    came from.

    ``images`` is (M, 1, H, W), or (M, 4, H, W) for ``joint``: uint8 (0..255) when loaded
    with ``as_float=False``, else float32 in [0, 1]. ``patients[i]``, ``channels[i]`` (index
    into :data:`SEQUENCES`, -1 for ``joint``) and ``rows[i]`` (row of ``slices.csv``)
    describe image ``i``.
    """

    name: str
    images: np.ndarray
    patients: np.ndarray
    channels: np.ndarray
    rows: np.ndarray

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

    @property
    def size(self) -> int:
        """Image side length H (= W)."""
        return int(self.images.shape[-1])

    @property
    def patients(self) -> np.ndarray:
        return np.array([row["patient"] for row in self.slices])

    @property
    def has_masks(self) -> bool:
        """Whether the folder holds ``masks.npy`` (prepared folders before 0.4.0 do not)."""
        return (self.root / "masks.npy").is_file()

    @property
    def masks(self) -> np.ndarray:
        """The label maps, uint8 (N, H, W) with labels 0..3, aligned with ``images.npy``
        (memory-mapped; checked against the images before use)."""
        path = self.root / "masks.npy"
        if not path.is_file():
            raise BrainsynthError(
                f"{self.root}: no masks.npy (prepared before brainsynth 0.4.0): re-run "
                "brainsynth prepare when masks are needed"
            )
        try:
            masks = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise BrainsynthError(f"{path}: unreadable ({exc})") from exc
        n, _, h, w = self.images.shape
        if masks.dtype != np.uint8 or masks.shape != (n, h, w):
            raise BrainsynthError(
                f"{path}: expected uint8 {(n, h, w)} aligned with images.npy, got "
                f"{masks.dtype} {masks.shape}"
            )
        if len(masks) and int(masks.max()) > 3:
            raise BrainsynthError(f"{path}: labels above 3 (expected 0..3)")
        return masks

    @property
    def segmented(self) -> np.ndarray:
        """(N,) bool: whether a slice's case had a segmentation (``tumor_pixels`` filled in);
        the mask of a case without one is all zero and says nothing about its tumour."""
        return np.array([str(row["tumor_pixels"]).strip() != "" for row in self.slices])

    def image_set(self, name: str, as_float: bool = True) -> ImageSet:
        """Select one image set: ``t1``, ``t1c``, ``t2``, ``flair``, ``concat`` or ``joint``.

        ``concat`` is ordered sequence by sequence (all T1, then all T1c, ...); ``joint`` keeps
        the four co-registered sequences of each slice together, (N, 4, H, W).
        """
        name = name.lower()
        if name not in TRAINING_SETS:
            raise BrainsynthError(
                f"unknown sequence {name!r}: choose one of {', '.join(TRAINING_SETS)}"
            )
        n = len(self.slices)
        patients = self.patients
        if name == JOINT:
            images = np.array(self.images)  # in memory, writable (the file is memory-mapped)
            return ImageSet(
                name=name,
                images=images.astype(np.float32) / 255.0 if as_float else images,
                patients=patients,
                channels=np.full(n, -1, dtype=np.int64),
                rows=np.arange(n, dtype=np.int64),
            )
        channels = list(range(len(SEQUENCES))) if name == "concat" else [SEQUENCES.index(name)]
        images = np.concatenate([self.images[:, c : c + 1] for c in channels], axis=0)
        if as_float:
            images = images.astype(np.float32) / 255.0
        return ImageSet(
            name=name,
            images=images,
            patients=np.tile(patients, len(channels)),
            channels=np.repeat(np.array(channels, dtype=np.int64), n),
            rows=np.tile(np.arange(n, dtype=np.int64), len(channels)),
        )


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
) -> Path:
    """Write the three files of a prepared folder (used by tests and small tools).

    ``images`` is uint8 (N, 4, H, W) or float in [0, 1]; ``slices`` has one dict per image.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if images.dtype != np.uint8:
        images = np.clip(np.rint(np.asarray(images) * 255.0), 0, 255).astype(np.uint8)
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
