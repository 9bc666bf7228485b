"""Tumour masks: the four labels, the regions BraTS scores, one-hot encoding, label files and
a colour overlay. Torch-free (NumPy, Pillow; nibabel only to read NIfTI).

A mask is a uint8 (H, W) array, or a stack (N, H, W), of :data:`MASK_LABELS`: 0 background,
1 necrotic / non-enhancing tumour core, 2 peritumoral oedema, 3 enhancing tumour (each BraTS
release's labels are mapped onto these by ``prepare``, :mod:`brainsynth.data.label_maps`).
The scored regions are nested unions of labels (:data:`REGIONS`): whole tumour {1, 2, 3},
tumour core {1, 3}, enhancing tumour {3} (``../shared/conventions/segmentation.md``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from brainsynth.config import IMAGE_SIZES
from brainsynth.errors import BrainsynthError

MASK_LABELS: dict[int, str] = {
    0: "background",
    1: "necrotic/non-enhancing core",
    2: "oedema",
    3: "enhancing",
}
TUMOUR_LABELS: tuple[int, ...] = (1, 2, 3)
"""The labels one-hot channels 0, 1, 2 stand for (background is implicit)."""

REGIONS: dict[str, tuple[int, ...]] = {
    "whole_tumor": (1, 2, 3),
    "tumor_core": (1, 3),
    "enhancing": (3,),
}

PALETTE: dict[int, tuple[int, int, int]] = {
    1: (213, 94, 0),  # vermillion: necrotic / non-enhancing core
    2: (240, 228, 66),  # yellow: oedema
    3: (0, 114, 178),  # blue: enhancing tumour
}
"""Overlay colours from Okabe & Ito's colour-blind-safe set (2008): vermillion, yellow and blue
differ in hue for every common colour-vision deficiency, and in lightness (yellow light,
vermillion medium, blue dark), so the labels stay apart even printed in grey."""
OVERLAY_ALPHA: float = 0.5
"""Weight of a label's colour over the grey image where the label is (0 shows no colour)."""

MAX_MASK_SIDE: int = IMAGE_SIZES[-1]
"""Masks label images, whose sides brainsynth bounds at :data:`IMAGE_SIZES`' largest."""
MAX_MASK_PIXELS: int = 1 << 28
"""At most 268M pixels in one mask file (16,384 masks of 128x128), checked before reading."""
MASK_SUFFIXES: tuple[str, ...] = (".png", ".nii", ".nii.gz", ".npy")


def region(mask: np.ndarray, name: str) -> np.ndarray:
    """Boolean map of a scored region (``whole_tumor``, ``tumor_core``, ``enhancing``)."""
    if name not in REGIONS:
        raise BrainsynthError(f"unknown region {name!r}: choose one of {', '.join(REGIONS)}")
    return np.isin(np.asarray(mask), REGIONS[name])


def check_labels(mask: np.ndarray) -> np.ndarray:
    """``mask`` as uint8, refusing values outside 0..3 (a programming error here: every mask
    read from a file went through :func:`read_mask_file` or ``PreparedDataset.masks``)."""
    mask = np.asarray(mask)
    if mask.dtype.kind not in "biu" or (mask.size and (mask.min() < 0 or mask.max() > 3)):
        raise ValueError(f"masks hold integer labels 0..3, got {mask.dtype} values")
    return mask.astype(np.uint8, copy=False)


def one_hot(masks: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """(N, H, W) labels -> (N, 3, H, W) in {0, 1}: channels for labels 1, 2, 3.

    Background is the absence of the three (all channels 0), so the channels are exactly the
    labels, not a probability simplex. Any leading shape works: (..., H, W) -> (..., 3, H, W).
    """
    masks = check_labels(masks)
    return np.stack([masks == label for label in TUMOUR_LABELS], axis=-3).astype(dtype)


def decode_one_hot(channels: np.ndarray) -> np.ndarray:
    """(N, 3, H, W) channel values -> (N, H, W) uint8 labels.

    A pixel gets the label of its largest channel when that channel exceeds 0.5, else 0
    (ties go to the lower label). Inverse of :func:`one_hot`; on a generator's output it
    reads each pixel as its most confident tumour label, or background when none is.
    """
    channels = np.asarray(channels, dtype=np.float32)
    if channels.ndim < 3 or channels.shape[-3] != len(TUMOUR_LABELS):
        raise ValueError(f"expected (..., 3, H, W) channels, got shape {channels.shape}")
    best = np.argmax(channels, axis=-3)
    peak = np.take_along_axis(channels, best[..., None, :, :], axis=-3)[..., 0, :, :]
    return np.where(peak > 0.5, best + 1, 0).astype(np.uint8)


def overlay(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A grey (H, W) image in [0, 1] with ``mask``'s labels blended in :data:`PALETTE`.

    Returns (H, W, 3) uint8: the grey image where the mask is 0, elsewhere
    ``(1 - OVERLAY_ALPHA) * grey + OVERLAY_ALPHA * colour``. Used for pair PNGs (image and
    overlay side by side).
    """
    image = np.asarray(image, dtype=np.float32)
    mask = check_labels(mask)
    if image.ndim != 2 or mask.shape != image.shape:
        raise ValueError(f"overlay needs (H, W) image and mask, got {image.shape}, {mask.shape}")
    grey = np.repeat(np.clip(np.nan_to_num(image), 0.0, 1.0)[..., None] * 255.0, 3, axis=-1)
    colours = np.zeros((len(MASK_LABELS), 3), dtype=np.float32)
    for label, colour in PALETTE.items():
        colours[label] = colour
    alpha = np.where(mask > 0, np.float32(OVERLAY_ALPHA), np.float32(0.0))[..., None]
    blended = (1.0 - alpha) * grey + alpha * colours[mask]
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def read_mask_file(path: str | os.PathLike[str]) -> np.ndarray:
    """Masks from a label PNG, a NIfTI file or a ``.npy``, as (N, H, W) uint8 in 0..3.

    - PNG: one channel (greyscale or palette indices) holding the labels themselves; a colour
      image (an overlay) or a PNG scaled to 0..255 is refused, not guessed at;
    - NIfTI (``.nii``, ``.nii.gz``): the array as stored, (H, W) or (H, W, N), slices along
      the last axis as NIfTI stacks them; no reorientation (a label map has only rows and
      columns);
    - ``.npy``: (H, W) or (N, H, W), integer (or integral float) values, no pickles.

    Sizes are checked from the header before anything is read (sides at most
    :data:`MAX_MASK_SIDE`, :data:`MAX_MASK_PIXELS` in all). Every problem is one
    BrainsynthError line naming the file.
    """
    path = Path(path)
    name = path.name.lower()
    if not name.endswith(MASK_SUFFIXES):
        raise BrainsynthError(
            f"{path}: expected a label PNG, NIfTI (.nii, .nii.gz) or .npy file of masks"
        )
    if not path.is_file():
        raise BrainsynthError(f"{path}: file not found")
    if name.endswith(".png"):
        array = read_png_labels(path)
    elif name.endswith(".npy"):
        array = read_npy_labels(path)
    else:
        array = read_nifti_labels(path)
    return labels_from_array(array, path)


def check_shape(shape: tuple[int, ...], path: Path) -> None:
    """Refuse a mask shape that is not (H, W) or (N, H, W), is empty, or is too large."""
    if len(shape) not in (2, 3):
        raise BrainsynthError(f"{path}: expected masks of shape (H, W) or (N, H, W), got {shape}")
    if min(shape) < 1:
        raise BrainsynthError(f"{path}: holds no mask (shape {shape})")
    if max(shape[-2:]) > MAX_MASK_SIDE:
        raise BrainsynthError(f"{path}: masks of {shape[-2]}x{shape[-1]} exceed {MAX_MASK_SIDE}")
    if int(np.prod(shape, dtype=np.int64)) > MAX_MASK_PIXELS:
        raise BrainsynthError(f"{path}: {shape} holds more than {MAX_MASK_PIXELS} pixels")


def read_png_labels(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as img:
            if img.format != "PNG":
                raise BrainsynthError(f"{path}: not a PNG file ({img.format})")
            check_shape((img.height, img.width), path)
            if img.mode not in ("L", "P", "1", "I", "I;16"):
                raise BrainsynthError(
                    f"{path}: a {img.mode} colour image; a label PNG has one channel holding "
                    "the labels 0..3"
                )
            img.load()
            return np.asarray(img)
    except BrainsynthError:
        raise
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise BrainsynthError(f"{path}: not a readable PNG ({exc})") from exc


def read_npy_labels(path: Path) -> np.ndarray:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BrainsynthError(f"{path}: not a readable .npy array ({reason[:160]})") from exc
    if not isinstance(array, np.ndarray):
        raise BrainsynthError(f"{path}: expected one array, not an archive")
    check_shape(array.shape, path)
    return array


def read_nifti_labels(path: Path) -> np.ndarray:
    import nibabel as nib

    try:
        img = nib.load(path)
        shape = tuple(int(s) for s in img.shape)
        while len(shape) > 3 and shape[-1] == 1:
            shape = shape[:-1]
        stacked = (shape[-1], *shape[:2]) if len(shape) == 3 else shape
        check_shape(stacked, path)
        data = np.asanyarray(img.dataobj).reshape(shape)
    except BrainsynthError:
        raise
    except Exception as exc:  # nibabel and zlib raise many kinds for bad files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BrainsynthError(f"{path}: unreadable NIfTI ({reason[:160]})") from exc
    return np.moveaxis(data, -1, 0) if data.ndim == 3 else data


def labels_from_array(array: np.ndarray, path: Path, block: int = 256) -> np.ndarray:
    """Validate label values block by block (a memory-mapped int64 file stays on disk) into
    a fresh (N, H, W) uint8 array."""
    if array.dtype.kind not in "biuf":
        raise BrainsynthError(f"{path}: labels must be integers 0..3, got {array.dtype}")
    stack = array[None] if array.ndim == 2 else array
    out = np.empty(stack.shape, dtype=np.uint8)
    for start in range(0, len(stack), block):
        part = np.asarray(stack[start : start + block])
        if part.dtype.kind == "f":
            if not np.isfinite(part).all():
                raise BrainsynthError(f"{path}: contains NaN or infinite values")
            if not np.array_equal(part, np.floor(part)):
                raise BrainsynthError(f"{path}: labels must be integers 0..3, found fractions")
        bad = (part < 0) | (part > 3)
        if bad.any():
            values = ", ".join(f"{v:g}" for v in np.unique(part[bad])[:5])
            raise BrainsynthError(
                f"{path}: label value(s) {values} are not mask labels 0..3 "
                "(0 background, 1 core, 2 oedema, 3 enhancing)"
            )
        out[start : start + block] = part
    return out
