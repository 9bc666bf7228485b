"""Grayscale image files: 8-bit PNG in and out, montages, and loading an image source.

Every image in brainsynth is a float array in [0, 1] of shape (N, 1, H, W). This module is
the one place where such arrays become PNG files and back, so real and synthetic images
always go through the same encoding path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from brainsynth.config import write_atomic
from brainsynth.errors import BrainsynthError


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Map a float image in [0, 1] to uint8 by clipping and rounding."""
    return np.clip(np.rint(np.asarray(image, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)


def save_png(path: str | os.PathLike[str] | BinaryIO, image: np.ndarray) -> None:
    """Save one image, (H, W) or (1, H, W) float in [0, 1], as an 8-bit grayscale PNG.

    The file carries no metadata beyond what PNG requires, so two files of the same size
    cannot be told apart by anything but their pixels. A path is written atomically and
    never through a link (:func:`~brainsynth.config.write_atomic`); a binary file object
    (a buffer) is written as it is.
    """
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ValueError(f"expected a (H, W) or (1, H, W) image, got shape {array.shape}")
    if array.dtype != np.uint8:
        array = to_uint8(array)
    png = Image.fromarray(array, mode="L")
    if isinstance(path, (str, os.PathLike)):
        write_atomic(path, lambda handle: png.save(handle, format="PNG", optimize=False))
    else:
        png.save(path, format="PNG", optimize=False)


def save_rgb_png(path: str | os.PathLike[str], image: np.ndarray) -> None:
    """Save a (H, W, 3) uint8 colour image (e.g. a mask overlay) as an 8-bit RGB PNG,
    atomically and never through a link, with no metadata beyond what PNG requires."""
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ValueError(f"expected a (H, W, 3) uint8 image, got {array.dtype} {array.shape}")
    png = Image.fromarray(array, mode="RGB")
    write_atomic(path, lambda handle: png.save(handle, format="PNG", optimize=False))


def load_png(path: str | os.PathLike[str]) -> np.ndarray:
    """Load a PNG as a (1, H, W) float32 array in [0, 1] (colour images are made gray)."""
    try:
        with Image.open(path) as img:
            img.load()
            gray = img.convert("L") if img.mode not in ("L", "I;16") else img
            array = np.asarray(gray)
    except (OSError, ValueError) as exc:
        raise BrainsynthError(f"{path}: not a readable image ({exc})") from exc
    scale = 65535.0 if array.dtype == np.uint16 or gray.mode == "I;16" else 255.0
    return (array.astype(np.float32) / scale)[None]


def make_grid(images: np.ndarray, ncols: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile (N, 1, H, W) images in [0, 1] into one uint8 (rows*H, cols*W) montage."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[:, None]
    n, _, h, w = images.shape
    if n == 0:
        raise ValueError("cannot make a grid of zero images")
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    grid = np.zeros((nrows * (h + pad) + pad, ncols * (w + pad) + pad), dtype=np.uint8)
    tiles = images[:, 0] if images.dtype == np.uint8 else to_uint8(images[:, 0])
    for i, tile in enumerate(tiles):
        r, c = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        grid[y : y + h, x : x + w] = tile
    return grid


def joint_panel(image: np.ndarray, pad: int = 2) -> np.ndarray:
    """A (4, H, W) joint slice in [0, 1] as one uint8 2x2 panel: T1 | T1c over T2 | FLAIR
    (the channel order of prepared folders)."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[0] != 4:
        raise ValueError(f"expected a (4, H, W) joint image, got shape {image.shape}")
    return make_grid(image[:, None], ncols=2, pad=pad)


def as_tiles(images: np.ndarray) -> np.ndarray:
    """(N, 1, H, W) images unchanged; (N, 4, H, W) joint images as (N, 1, h, w) uint8 panels."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] == 4:
        return np.stack([joint_panel(image) for image in images])[:, None]
    return images


def save_grid(
    path: str | os.PathLike[str], images: np.ndarray, ncols: int | None = None, pad: int = 2
) -> Path:
    """Save a montage of (N, 1, H, W) images in [0, 1] (or of the 2x2 panels of (N, 4, H, W)
    joint images) as a PNG (atomically, never through a link) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid = Image.fromarray(make_grid(as_tiles(images), ncols, pad), mode="L")
    write_atomic(path, lambda handle: grid.save(handle, format="PNG"))
    return path


def load_png_folder(folder: str | os.PathLike[str]) -> np.ndarray:
    """Load every ``*.png`` in ``folder`` (sorted by name) as (N, 1, H, W) float32 in [0, 1]."""
    folder = Path(folder)
    files = sorted(p for p in folder.glob("*.png") if not p.name.startswith("."))
    if not files:
        raise BrainsynthError(f"{folder}: no PNG images found")
    images = [load_png(p) for p in files]
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise BrainsynthError(f"{folder}: images differ in size {sorted(shapes)}")
    return np.stack(images)


def load_npy_images(path: str | os.PathLike[str]) -> np.ndarray:
    """Load a ``samples.npy`` of shape (N, 1, H, W), (N, 4, H, W) (joint) or (N, H, W) as
    float32 in [0, 1]."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise BrainsynthError(f"{path}: not a readable .npy file ({exc})") from exc
    if array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4 or array.shape[1] not in (1, 4):
        raise BrainsynthError(
            f"{path}: expected shape (N, 1, H, W) or (N, 4, H, W), got {array.shape}"
        )
    if array.shape[2] != array.shape[3]:
        raise BrainsynthError(f"{path}: images are {array.shape[2]}x{array.shape[3]}, not square")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.dtype.kind != "f":
        raise BrainsynthError(
            f"{path}: images of type {array.dtype}; expected uint8 (0..255) or float in [0, 1]"
        )
    array = np.asarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        raise BrainsynthError(f"{path}: contains NaN or infinite values")
    low, high = (float(array.min()), float(array.max())) if array.size else (0.0, 0.0)
    if low < 0.0 or high > 1.0:
        raise BrainsynthError(
            f"{path}: values span [{low:.4g}, {high:.4g}]; expected float images in [0, 1] "
            "(rescale them first: clipping would turn them white or black)"
        )
    return array


def is_generator_source(source: str | os.PathLike[str]) -> bool:
    """True for a training run folder (it holds ``checkpoints/``), a ``.pt`` checkpoint or an
    exported generator (a folder with ``model.safetensors``, ``brainsynth export``): a source
    whose images are generated on demand rather than read from files."""
    source = Path(source)
    return (
        source.suffix == ".pt"
        or (source / "checkpoints").is_dir()
        or (source / "model.safetensors").is_file()
    )


def load_image_source(source: str | os.PathLike[str]) -> np.ndarray:
    """Load images from a PNG folder, a ``.npy`` file or a samples folder (with samples.npy).

    Every image the source holds is returned (a caller that wants fewer draws a seeded
    random subset, never the first files by name). Returns (N, C, H, W) float32 in [0, 1].
    Training runs and checkpoints (:func:`is_generator_source`) are sampled one layer up
    (:func:`brainsynth.pipeline.load_fake_images`), not here.
    """
    source = Path(source)
    if not source.exists():
        raise BrainsynthError(f"{source}: no such file or folder")
    if is_generator_source(source):
        raise BrainsynthError(f"{source}: a generator, not images (sample it first)")
    if source.suffix == ".npy":
        images = load_npy_images(source)
    elif source.is_dir() and (source / "samples.npy").is_file():
        images = load_npy_images(source / "samples.npy")
    elif source.is_dir():
        images = load_png_folder(source)
    else:
        raise BrainsynthError(f"{source}: expected a PNG folder, a .npy file or a run folder")
    return np.ascontiguousarray(images, dtype=np.float32)
