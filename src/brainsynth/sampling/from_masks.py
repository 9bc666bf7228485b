"""Masks to draw images for (``sample --from-masks``), teaching-case edits and their grid.

**Where masks come from** (:func:`read_mask_cases`), every one validated before any image is
drawn (labels 0..3, sizes bounded before anything is read; :mod:`brainsynth.data.masks`):

- a ``.npy`` of (N, H, W) labels, or one label PNG / NIfTI file;
- a folder of label files (PNG, NIfTI, ``.npy``), read in name order, each (H, W) or
  (N, H, W), all of one size;
- a prepared folder (``brainsynth prepare``): its ``masks.npy``, optionally restricted to
  ``--patients`` and a slice range (``--slices 70:90``: slice numbers 70 to 89 of
  ``slices.csv``), in its row order. Slices of cases without a segmentation are left out
  (their all-zero mask is unknown, not tumour-free), and the real images come along.

**Edits** (``--edit SPEC``, :mod:`brainsynth.data.mask_edit`'s spec: scale, move, rotate,
flip, remove, grow / shrink a sub-region, insert) apply to every given mask. ``insert=K``
copies the tumour of given mask K. The edits need each slice's brain, to keep a tumour inside
it: for a prepared folder it is the real slice's (any sequence above 0, holes filled); for
masks without images it is the brain of the image the model draws for the *unedited* mask
with the same seed (above :data:`BRAIN_LEVEL`, holes filled), which the grid then shows as
the original image. The edited images are drawn with that same seed, so the teaching case
is "the same brain" with the edited tumour as far as the model keeps its noise-to-anatomy
mapping when the mask changes.

**The grid** (:func:`teaching_grid`): one row per case, up to :data:`GRID_CASES`: original
image, original mask over it, edited mask over the generated image, generated image: a
montage of images (``brainsynth.data.masks.overlay``'s colours), no drawn text.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from brainsynth.data.dataset import load_prepared
from brainsynth.data.mask_edit import apply_edits, parse_edits
from brainsynth.data.masks import MASK_SUFFIXES, MAX_MASK_PIXELS, overlay, read_mask_file
from brainsynth.errors import BrainsynthError
from brainsynth.imageio import save_rgb_png, to_uint8
from brainsynth.outputs import shown
from brainsynth.paper import SEQUENCES
from brainsynth.sampling.config import MAX_SAMPLES
from brainsynth.sampling.files import shown_channel

BRAIN_LEVEL = 0.02
"""A generated pixel above this (in [0, 1]) is brain, for edits of masks without images."""
GRID_CASES = 32
"""Rows of a teaching grid at most (the first cases)."""
GAP = 2


@dataclass
class MaskCases:
    """Masks to draw images for: ``masks`` uint8 (N, H, W); ``images`` the real slices of a
    prepared folder, uint8 (N, 4, H, W) (None for mask files); ``source`` in words."""

    masks: np.ndarray
    source: str
    images: np.ndarray | None = None
    rows: np.ndarray | None = None  # rows of the prepared folder's slices.csv


def is_prepared(path: Path) -> bool:
    return path.is_dir() and (path / "images.npy").is_file() and (path / "dataset.json").is_file()


def parse_slice_range(text: str) -> tuple[int, int]:
    """``--slices``: ``A:B`` (slice numbers A..B-1) or ``A`` (that slice alone)."""
    first, sep, last = text.partition(":")
    try:
        low = int(first)
        high = int(last) if sep else low + 1
    except ValueError:
        raise BrainsynthError(
            f"--slices {text!r:.40}: expected FIRST:END or one slice number"
        ) from None
    if high <= low:
        raise BrainsynthError(f"--slices {text!r:.40}: END must be greater than FIRST")
    return low, high


def read_mask_cases(
    source: str | os.PathLike[str],
    patients: tuple[str, ...] = (),
    slices: tuple[int, int] | None = None,
) -> MaskCases:
    """The masks of ``source`` (see the module docstring), checked; one-line errors."""
    path = Path(source)
    if not path.exists():
        raise BrainsynthError(f"--from-masks {shown(path)}: no such file or folder")
    if is_prepared(path):
        return prepared_cases(path, patients, slices)
    if patients or slices is not None:
        raise BrainsynthError("--patients and --slices select masks of a prepared folder; "
                              f"{shown(path)} is not one")  # fmt: skip
    if path.is_dir():
        return folder_cases(path)
    masks = read_mask_file(path)
    return MaskCases(bounded(masks, path), f"{path.name} ({len(masks)} masks)")


def bounded(masks: np.ndarray, path: Path) -> np.ndarray:
    if len(masks) > MAX_SAMPLES:
        raise BrainsynthError(f"--from-masks {shown(path)}: {len(masks):,} masks; at most "
                              f"{MAX_SAMPLES:,} images are drawn at once")  # fmt: skip
    return masks


def folder_cases(folder: Path) -> MaskCases:
    """Every label file in ``folder`` (not its subfolders), in name order, stacked."""
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and p.name.lower().endswith(MASK_SUFFIXES))  # fmt: skip
    if not files:
        raise BrainsynthError(f"--from-masks {shown(folder)}: no label PNG, NIfTI or .npy file")
    parts, pixels, side = [], 0, None
    for path in files:
        masks = read_mask_file(path)
        if side is None:
            side = masks.shape[1:]
        elif masks.shape[1:] != side:
            raise BrainsynthError(f"{shown(path)}: {masks.shape[1]}x{masks.shape[2]} masks, but "
                                  f"{files[0].name} holds {side[0]}x{side[1]}")  # fmt: skip
        pixels += masks.size
        if pixels > MAX_MASK_PIXELS:
            raise BrainsynthError(f"--from-masks {shown(folder)}: more than {MAX_MASK_PIXELS} "
                                  "mask pixels in all")  # fmt: skip
        parts.append(masks)
    masks = bounded(np.concatenate(parts), folder)
    return MaskCases(masks, f"{folder.name}/ ({len(files)} files, {len(masks)} masks)")


def prepared_cases(
    folder: Path, patients: tuple[str, ...], slices: tuple[int, int] | None
) -> MaskCases:
    """The segmented slices of a prepared folder (of ``patients``, in ``slices``)."""
    prepared = load_prepared(folder)
    keep = prepared.segmented.copy()
    if patients:
        unknown = sorted(set(patients) - set(prepared.patients))
        if unknown:
            raise BrainsynthError(f"--patients: no patient(s) {', '.join(unknown[:5])} in "
                                  f"{shown(folder)}")  # fmt: skip
        keep &= np.isin(prepared.patients, patients)
    if slices is not None:
        numbers = np.array([int(row["slice"]) for row in prepared.slices])
        keep &= (numbers >= slices[0]) & (numbers < slices[1])
    rows = np.flatnonzero(keep)
    if not len(rows):
        raise BrainsynthError(f"--from-masks {shown(folder)}: no segmented slice is selected")
    rows = rows[:MAX_SAMPLES]
    masks = np.asarray(prepared.masks[rows])
    images = np.asarray(prepared.images[rows])
    return MaskCases(masks, f"{folder.name} (prepared; {len(rows)} segmented slices)", images,
                     rows)  # fmt: skip


def brains_of(images: np.ndarray, level: float) -> np.ndarray:
    """(N, H, W) bool: pixels of any channel above ``level`` with the holes filled (a
    ventricle or a dark necrotic core is still brain)."""
    from scipy.ndimage import binary_fill_holes

    above = np.asarray(images).max(axis=1) > level
    return np.stack([binary_fill_holes(b) for b in above])


def real_brains(cases: MaskCases) -> np.ndarray | None:
    """The brains of a prepared folder's real slices (None for masks without images)."""
    return None if cases.images is None else brains_of(cases.images, 0)


def edit_cases(masks: np.ndarray, spec: str, brains: np.ndarray) -> np.ndarray:
    """Every mask edited by ``spec`` within its brain; ``insert=K`` takes given mask K."""
    edits = parse_edits(spec, masks.shape[-1], len(masks))
    out = np.empty_like(masks)
    for i, (mask, brain) in enumerate(zip(masks, brains, strict=True)):
        try:
            out[i] = apply_edits(mask, edits, brain, masks)
        except BrainsynthError as exc:
            raise BrainsynthError(f"mask {i}: {exc}") from None
    return out


def check_spec(spec: str, cases: MaskCases) -> None:
    """Parse ``--edit`` before any work (values, bounds by image side and mask count)."""
    parse_edits(spec, cases.masks.shape[-1], len(cases.masks))


def original_images(cases: MaskCases, image_set: str) -> np.ndarray | None:
    """The real images the grid shows as originals, (N, 1, H, W) float in [0, 1]: the
    model's sequence (FLAIR for ``concat`` and ``joint``); None without a prepared folder."""
    if cases.images is None:
        return None
    channel = SEQUENCES.index(image_set) if image_set in SEQUENCES else SEQUENCES.index("flair")
    return cases.images[:, channel : channel + 1].astype(np.float32) / 255.0


def teaching_grid(
    path: str | os.PathLike[str],
    originals: np.ndarray,
    masks: np.ndarray,
    edited: np.ndarray,
    generated: np.ndarray,
) -> Path:
    """Save the montage: per case (row) the original image, the original mask over it, the
    edited mask over the generated image, and the generated image (RGB PNG)."""
    rows = []
    for k in range(min(len(masks), GRID_CASES)):
        before, after = shown_channel(originals[k]), shown_channel(generated[k])
        tiles = [grey(before), overlay(before, masks[k]), overlay(after, edited[k]), grey(after)]
        rows.append(join(tiles, axis=1))
    grid = join(rows, axis=0)
    border = np.zeros((grid.shape[0] + 2 * GAP, grid.shape[1] + 2 * GAP, 3), np.uint8)
    border[GAP:-GAP, GAP:-GAP] = grid
    save_rgb_png(path, border)
    return Path(path)


def grey(image: np.ndarray) -> np.ndarray:
    return np.repeat(to_uint8(image)[..., None], 3, axis=-1)


def join(tiles: list[np.ndarray], axis: int) -> np.ndarray:
    """Tiles side by side (axis 1) or stacked (axis 0) with black gaps between them."""
    shape = list(tiles[0].shape)
    shape[axis] = GAP
    gap = np.zeros(shape, np.uint8)
    parts = [part for tile in tiles for part in (tile, gap)][:-1]
    return np.concatenate(parts, axis=axis)


def with_edits(cases: MaskCases, edited: np.ndarray) -> MaskCases:
    return replace(cases, masks=edited)
