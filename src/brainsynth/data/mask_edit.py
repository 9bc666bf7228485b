"""Editing a tumour mask for teaching cases: scale, move, rotate, flip, remove, grow or shrink
one sub-region, insert a tumour into a tumour-free slice (NumPy and scipy.ndimage only).

Each operation takes a (H, W) mask of labels 0..3 (:mod:`brainsynth.data.masks`) and the
slice's brain, a (H, W) bool map (the caller's ``image > 0``), and returns a new mask.
Geometry is that of the displayed image: rows down, columns right.

- ``scale=F`` (0.25 <= F <= 4): the tumour scaled by F about its centroid (areas ~ F^2);
- ``move=DX,DY`` (whole pixels, |DX|, |DY| < the image side): DX to the right, DY down;
- ``rotate=DEG`` (-360..360): counter-clockwise as displayed, about the tumour's centroid;
- ``flip=lr|ud``: the tumour mirrored left-right (or up-down) about the vertical (horizontal)
  line through its centroid, rounded to the pixel grid so that flipping twice is the identity;
- ``remove``: no tumour;
- ``grow=LABEL:PIXELS`` / ``shrink=LABEL:PIXELS``: one sub-region (1 or ``core``, 2 or
  ``oedema``, 3 or ``enhancing``) dilated or eroded by PIXELS (Euclidean distance), the
  others kept nested. Tumours are nested inside out: core (1) inside the enhancing rim (3)
  inside oedema (2) inside the brain (0). A growing label takes over only the labels further
  out that are part of the tumour (core takes enhancing and oedema, enhancing takes oedema),
  so the tumour's outline stays; only oedema grows into the brain around it (0 inside the
  brain mask). A shrinking label erodes from its outer border (the label together with
  everything nested inside it), and the pixels it gives up take the label of the nearest
  pixel further out (enhancing gives way to oedema, oedema to background). Either way only
  pixels of that label (grow: pixels becoming it) change;
- ``insert=INDEX``: the tumour of mask INDEX of the caller's masks copied into this slice,
  which must be tumour-free: where it was in its own slice if it fits inside this brain there,
  else at the nearest place where every tumour pixel lands inside the brain; refused when it
  fits nowhere.

Operations chain, separated by ``;`` (``"scale=1.5;move=4,0"``), and run left to right.
After each, the tumour is clipped to the brain; an edit that leaves no tumour (except
``remove``) is refused. Nearest-neighbour resampling keeps labels in 0..3, and every edit is
deterministic. :func:`parse_edits` validates a spec completely before any is applied; every
error is one line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from brainsynth.data.masks import MASK_LABELS, MAX_MASK_SIDE, check_labels
from brainsynth.errors import BrainsynthError

OPERATIONS: tuple[str, ...] = (
    "scale",
    "move",
    "rotate",
    "flip",
    "remove",
    "grow",
    "shrink",
    "insert",
)
SCALE_RANGE: tuple[float, float] = (0.25, 4.0)
MAX_ROTATION: float = 360.0
MAX_SPEC_CHARS: int = 2000
MAX_OPERATIONS: int = 32
NESTING: tuple[int, ...] = (1, 3, 2)
"""Tumour labels from the inside out: core inside the enhancing rim inside oedema."""
LABEL_NAMES: dict[str, int] = {
    "1": 1,
    "core": 1,
    "necrotic": 1,
    "2": 2,
    "oedema": 2,
    "edema": 2,
    "3": 3,
    "enhancing": 3,
}
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
INTEGER = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class Edit:
    """One parsed operation: its name, its validated arguments, and the text it came from."""

    op: str
    args: tuple = ()
    text: str = ""


# ---------------------------------------------------------------------------- operations


def check_inputs(mask: np.ndarray, brain: np.ndarray | None) -> np.ndarray:
    mask = check_labels(mask)
    if mask.ndim != 2:
        raise ValueError(f"an edit takes one (H, W) mask, got shape {mask.shape}")
    if brain is not None and np.shape(brain) != mask.shape:
        raise ValueError(f"brain {np.shape(brain)} does not match the mask {mask.shape}")
    return mask


def centroid(mask: np.ndarray) -> np.ndarray:
    """(row, col) of the tumour's centre of mass; refuses a mask without tumour."""
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        raise BrainsynthError("this slice has no tumour to edit")
    return np.array([rows.mean(), cols.mean()])


def inside_brain(mask: np.ndarray, brain: np.ndarray) -> np.ndarray:
    """``mask`` clipped to the brain; refuses a result without tumour."""
    out = np.where(np.asarray(brain, dtype=bool), mask, 0).astype(np.uint8)
    if not out.any():
        raise BrainsynthError("no part of the tumour would be left inside the brain")
    return out


def warp(mask: np.ndarray, matrix: np.ndarray, offset: np.ndarray, brain) -> np.ndarray:
    """Nearest-neighbour resampling: output pixel o takes the label at ``matrix @ o + offset``."""
    from scipy import ndimage

    out = ndimage.affine_transform(
        mask, matrix, offset=offset, order=0, mode="constant", cval=0, output=np.uint8
    )
    return inside_brain(out, brain)


def scale(mask: np.ndarray, factor: float, brain: np.ndarray) -> np.ndarray:
    """The tumour scaled by ``factor`` about its centroid."""
    mask = check_inputs(mask, brain)
    c = centroid(mask)
    matrix = np.eye(2) / factor
    return warp(mask, matrix, c - matrix @ c, brain)


def move(mask: np.ndarray, dx: int, dy: int, brain: np.ndarray) -> np.ndarray:
    """The tumour moved ``dx`` pixels right and ``dy`` down (exact: whole pixels)."""
    mask = check_inputs(mask, brain)
    centroid(mask)
    height, width = mask.shape
    out = np.zeros_like(mask)
    rows = slice(max(dy, 0), height + min(dy, 0))
    cols = slice(max(dx, 0), width + min(dx, 0))
    out[rows, cols] = mask[max(-dy, 0) : height - max(dy, 0), max(-dx, 0) : width - max(dx, 0)]
    return inside_brain(out, brain)


def rotate(mask: np.ndarray, degrees: float, brain: np.ndarray) -> np.ndarray:
    """The tumour rotated counter-clockwise (as displayed) by ``degrees`` about its centroid."""
    mask = check_inputs(mask, brain)
    c = centroid(mask)
    t = math.radians(degrees)
    # forward, in (row, col) with rows down: row' = row cos t - col sin t,
    # col' = row sin t + col cos t; the output samples its input through the inverse
    inverse = np.array([[math.cos(t), math.sin(t)], [-math.sin(t), math.cos(t)]])
    return warp(mask, inverse, c - inverse @ c, brain)


def flip(mask: np.ndarray, axis: str, brain: np.ndarray) -> np.ndarray:
    """The tumour mirrored about the line through its centroid: ``lr`` left-right, ``ud``
    up-down. The line lies on the pixel grid's whole or half pixels (2 * centroid, rounded),
    so the mirror is exact and its own inverse."""
    mask = check_inputs(mask, brain)
    c = centroid(mask)
    dim = {"ud": 0, "lr": 1}[axis]
    twice = int(round(2 * c[dim]))
    rows, cols = np.nonzero(mask)
    coords = [rows, cols]
    coords[dim] = twice - coords[dim]
    out = np.zeros_like(mask)
    keep = (coords[dim] >= 0) & (coords[dim] < mask.shape[dim])
    out[coords[0][keep], coords[1][keep]] = mask[rows[keep], cols[keep]]
    return inside_brain(out, brain)


def remove(mask: np.ndarray, brain: np.ndarray | None = None) -> np.ndarray:
    """No tumour."""
    return np.zeros_like(check_inputs(mask, brain))


def outer_labels(label: int) -> tuple[int, ...]:
    """The tumour labels further out than ``label`` in :data:`NESTING`."""
    return NESTING[NESTING.index(label) + 1 :]


def label_region(mask: np.ndarray, label: int, verb: str) -> np.ndarray:
    region = mask == label
    if not region.any():
        raise BrainsynthError(f"this slice has no {MASK_LABELS[label]} (label {label}) to {verb}")
    return region


def grow(mask: np.ndarray, label: int, pixels: int, brain: np.ndarray) -> np.ndarray:
    """Sub-region ``label`` dilated by ``pixels`` into the labels further out (see the module
    docstring: oedema alone takes background, inside the brain)."""
    from scipy import ndimage

    mask = check_inputs(mask, brain)
    region = label_region(mask, label, "grow")
    reach = ndimage.distance_transform_edt(~region) <= pixels
    takeable = np.isin(mask, outer_labels(label))
    if label == NESTING[-1]:
        takeable |= (mask == 0) & np.asarray(brain, dtype=bool)
    out = mask.copy()
    out[reach & takeable] = label
    return inside_brain(out, brain)


def shrink(mask: np.ndarray, label: int, pixels: int, brain: np.ndarray) -> np.ndarray:
    """Sub-region ``label`` eroded by ``pixels`` from its outer border; what it gives up takes
    the label of the nearest pixel further out."""
    from scipy import ndimage

    mask = check_inputs(mask, brain)
    region = label_region(mask, label, "shrink")
    nested = np.pad(np.isin(mask, NESTING[: NESTING.index(label) + 1]), 1)
    kept = (ndimage.distance_transform_edt(nested) > pixels)[1:-1, 1:-1]
    vacated = region & ~kept
    further_out = np.isin(mask, (0, *outer_labels(label)))
    _, (rows, cols) = ndimage.distance_transform_edt(~further_out, return_indices=True)
    out = mask.copy()
    out[vacated] = mask[rows[vacated], cols[vacated]]
    return inside_brain(out, brain)


def fitting_offsets(outside: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """For every top-left position (r, c) of ``footprint`` inside the image, whether it
    covers no ``outside`` pixel: a cross-correlation by FFT (exact counts after rounding)."""
    height, width = outside.shape
    h, w = footprint.shape
    kernel = np.zeros((height, width))
    kernel[:h, :w] = footprint
    spectrum = np.fft.rfft2(outside.astype(np.float64)) * np.conj(np.fft.rfft2(kernel))
    overlap = np.fft.irfft2(spectrum, s=(height, width))
    return overlap[: height - h + 1, : width - w + 1] < 0.5


def insert(mask: np.ndarray, donor: np.ndarray, brain: np.ndarray) -> np.ndarray:
    """The tumour of ``donor`` placed in the tumour-free ``mask``, every pixel inside the brain:
    at its own position when it fits there, else at the nearest position that fits."""
    mask = check_inputs(mask, brain)
    donor = check_inputs(donor, brain)
    if mask.any():
        raise BrainsynthError(
            "this slice already has a tumour; insert goes into a tumour-free slice "
            "(start with remove)"
        )
    rows, cols = np.nonzero(donor)
    if rows.size == 0:
        raise BrainsynthError("that mask has no tumour to insert")
    r0, c0 = rows.min(), cols.min()
    patch = donor[r0 : rows.max() + 1, c0 : cols.max() + 1]
    fits = fitting_offsets(~np.asarray(brain, dtype=bool), patch > 0)
    if not fits.any():
        raise BrainsynthError(
            f"the tumour ({rows.size} pixels, {patch.shape[0]}x{patch.shape[1]}) does not fit "
            "inside this slice's brain"
        )
    r, c = np.nonzero(fits)
    best = int(np.argmin((r - r0) ** 2 + (c - c0) ** 2))  # ties: the first in raster order
    out = np.zeros_like(mask)
    h, w = patch.shape
    out[r[best] : r[best] + h, c[best] : c[best] + w] = patch
    return inside_brain(out, brain)


# -------------------------------------------------------------------------------- specs


def fail(text: str, reason: str) -> BrainsynthError:
    return BrainsynthError(f"--edit {text[:80]!r}: {reason}")


def number(text: str, value: str, what: str) -> float:
    if not NUMBER.fullmatch(value.strip()):
        raise fail(text, f"{what} must be a finite number, got {value.strip()[:20]!r}")
    result = float(value)
    if not math.isfinite(result):
        raise fail(text, f"{what} must be a finite number")
    return result


def integer(text: str, value: str, what: str) -> int:
    if not INTEGER.fullmatch(value.strip()):
        raise fail(text, f"{what} must be a whole number, got {value.strip()[:20]!r}")
    return int(value)


def parse_one(text: str, size: int | None, sources: int | None) -> Edit:
    """One ``name[=value]`` item of a spec, validated."""
    op, has_value, value = (part.strip() for part in text.partition("="))
    op = op.lower()
    if op not in OPERATIONS:
        raise fail(text, f"unknown operation {op[:20]!r}: choose one of {', '.join(OPERATIONS)}")
    if op == "remove":
        if has_value:
            raise fail(text, "remove takes no value")
        return Edit(op, (), text)
    if not value:
        raise fail(text, f"{op} needs a value ({op}=...)")
    side = size or MAX_MASK_SIDE
    if op == "scale":
        factor = number(text, value, "the scale")
        if not SCALE_RANGE[0] <= factor <= SCALE_RANGE[1]:
            raise fail(text, f"scale must be in [{SCALE_RANGE[0]:g}, {SCALE_RANGE[1]:g}]")
        return Edit(op, (factor,), text)
    if op == "move":
        parts = value.split(",")
        if len(parts) != 2:
            raise fail(text, "move takes DX,DY in pixels (e.g. move=4,-2)")
        dx, dy = (integer(text, p, "DX and DY") for p in parts)
        if max(abs(dx), abs(dy)) >= side:
            raise fail(text, f"|DX| and |DY| must be below the image side {side}")
        return Edit(op, (dx, dy), text)
    if op == "rotate":
        degrees = number(text, value, "the angle")
        if abs(degrees) > MAX_ROTATION:
            raise fail(text, f"rotate takes degrees in [-{MAX_ROTATION:g}, {MAX_ROTATION:g}]")
        return Edit(op, (degrees,), text)
    if op == "flip":
        if value.lower() not in ("lr", "ud"):
            raise fail(text, "flip takes lr (left-right) or ud (up-down)")
        return Edit(op, (value.lower(),), text)
    if op in ("grow", "shrink"):
        label, colon, pixels = value.partition(":")
        if not colon or label.strip().lower() not in LABEL_NAMES:
            raise fail(text, f"{op} takes LABEL:PIXELS, LABEL 1/core, 2/oedema, 3/enhancing")
        amount = integer(text, pixels, "PIXELS")
        if not 1 <= amount < side:
            raise fail(text, f"PIXELS must be from 1 to {side - 1}")
        return Edit(op, (LABEL_NAMES[label.strip().lower()], amount), text)
    index = integer(text, value, "INDEX")  # insert
    if index < 0 or (sources is not None and index >= sources):
        limit = "" if sources is None else f" below {sources}"
        raise fail(text, f"INDEX must be a mask index from 0{limit}")
    return Edit(op, (index,), text)


def parse_edits(spec: str, size: int | None = None, sources: int | None = None) -> list[Edit]:
    """Parse ``"scale=1.5;move=4,0"`` into :class:`Edit` s, validating every value.

    ``size`` (the image side) bounds moves and grow/shrink distances, ``sources`` (how many
    masks ``insert=INDEX`` may name) bounds INDEX; without them only the general limits apply
    and :func:`apply_edits` checks the rest.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise BrainsynthError("--edit: empty; give operations such as 'scale=1.5;move=4,0'")
    if len(spec) > MAX_SPEC_CHARS:
        raise BrainsynthError(f"--edit: longer than {MAX_SPEC_CHARS} characters")
    if not spec.isprintable():
        raise BrainsynthError("--edit: holds control characters")
    items = [item.strip() for item in spec.split(";")]
    if items and not items[-1]:
        items.pop()  # a trailing ';'
    if any(not item for item in items):
        raise BrainsynthError("--edit: an empty operation between ';'")
    if len(items) > MAX_OPERATIONS:
        raise BrainsynthError(f"--edit: more than {MAX_OPERATIONS} operations")
    return [parse_one(item, size, sources) for item in items]


def apply_edits(
    mask: np.ndarray,
    edits: Sequence[Edit],
    brain: np.ndarray,
    sources: Sequence[np.ndarray] | np.ndarray | None = None,
) -> np.ndarray:
    """Run ``edits`` on ``mask`` left to right; ``sources`` are the masks ``insert`` indexes.

    Each step's one-line error names the operation (``--edit 'scale=3': ...``).
    """
    mask = check_inputs(mask, brain)
    brain = np.asarray(brain, dtype=bool)
    count = None if sources is None else len(sources)
    for edit in edits:
        if edit.text:  # bounds that need the image side or the number of sources
            edit = parse_one(edit.text, min(mask.shape), count)
        try:
            mask = run(edit, mask, brain, sources)
        except BrainsynthError as exc:
            raise fail(edit.text or edit.op, str(exc)) from exc
    return mask


def run(edit: Edit, mask: np.ndarray, brain: np.ndarray, sources) -> np.ndarray:
    """One operation on ``mask``."""
    if edit.op == "scale":
        return scale(mask, *edit.args, brain)
    if edit.op == "move":
        return move(mask, *edit.args, brain)
    if edit.op == "rotate":
        return rotate(mask, *edit.args, brain)
    if edit.op == "flip":
        return flip(mask, *edit.args, brain)
    if edit.op == "remove":
        return remove(mask, brain)
    if edit.op == "grow":
        return grow(mask, *edit.args, brain)
    if edit.op == "shrink":
        return shrink(mask, *edit.args, brain)
    if edit.op == "insert":
        (index,) = edit.args
        if sources is None or not 0 <= index < len(sources):
            raise BrainsynthError(f"no mask {index} to insert from")
        return insert(mask, np.asarray(sources[index]), brain)
    raise BrainsynthError(f"unknown operation {edit.op!r}")


def edit_mask(
    mask: np.ndarray,
    spec: str,
    brain: np.ndarray,
    sources: Sequence[np.ndarray] | np.ndarray | None = None,
) -> np.ndarray:
    """Parse ``spec`` and apply it to ``mask`` (see the module docstring)."""
    count = None if sources is None else len(sources)
    return apply_edits(mask, parse_edits(spec, min(np.shape(mask)), count), brain, sources)
