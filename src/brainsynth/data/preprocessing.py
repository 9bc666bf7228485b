"""From a canonical RAS+ volume to the 2D slices the GANs see (paper §3.1).

- plane and slice selection: indices count along the canonical axis (sagittal: index 0 is
  the patient's far left; coronal: posterior; axial: inferior);
- display orientation: sagittal, superior at top and anterior at left (as the paper's
  Fig. 2); coronal, superior at top and the patient's right at left; axial, anterior at top
  and the patient's right at left (radiological convention);
- intensity, per volume and sequence: clip to the 0.5-99.5 percentiles of the brain
  (non-zero) voxels, scale to [0, 1], background exactly 0;
- resize to a square: ``stretch`` (the paper's 240x155 -> 64x64 / 128x128) or ``pad``
  (zero-pad to a square first, keeping the aspect ratio); bilinear for images, nearest
  neighbour for tumour label maps (:func:`resize_labels`), on the same pixel grid.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from brainsynth.errors import BrainsynthError

PLANES: dict[str, int] = {"sagittal": 0, "coronal": 1, "axial": 2}
RESIZE_MODES: tuple[str, ...] = ("stretch", "pad")


def plane_axis(plane: str) -> int:
    if plane not in PLANES:
        raise BrainsynthError(f"--plane {plane!r}: choose one of {', '.join(PLANES)}")
    return PLANES[plane]


def display_slice(volume: np.ndarray, plane: str, index: int) -> np.ndarray:
    """Slice ``index`` of a canonical (R, A, S) volume, oriented for display (rows, cols).

    For every plane the two remaining canonical axes (a, b) become (rows, cols) = (b, a),
    both reversed: superior (or anterior) at the top, and anterior (sagittal) or the patient's
    right (coronal, axial) at the left.
    """
    section = np.take(volume, index, axis=plane_axis(plane))
    return section.T[::-1, ::-1]


def percentile_window(volume: np.ndarray, low: float = 0.5, high: float = 99.5):
    """(lo, hi) intensity window from the percentiles of the non-zero (brain) voxels."""
    brain = volume[volume != 0]
    if brain.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(brain, [low, high])
    return float(lo), float(hi)


def normalise(section: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """Clip to the window, scale to [0, 1]; background (exactly 0 in the input) stays 0."""
    lo, hi = window
    scaled = (section.astype(np.float32) - lo) / max(hi - lo, 1e-6)
    scaled = np.clip(scaled, 0.0, 1.0)
    scaled[section == 0] = 0.0
    return scaled


def pad_square(image: np.ndarray) -> np.ndarray:
    """Zero-pad a 2D array to a square, centred (the ``pad`` resize mode's first step)."""
    rows, cols = image.shape
    side = max(rows, cols)
    padded = np.zeros((side, side), dtype=image.dtype)
    top, left = (side - rows) // 2, (side - cols) // 2
    padded[top : top + rows, left : left + cols] = image
    return padded


def resize(image: np.ndarray, size: int, mode: str = "stretch") -> np.ndarray:
    """Resize a float image to ``size`` x ``size`` (bilinear, antialiased when shrinking)."""
    if mode not in RESIZE_MODES:
        raise BrainsynthError(f"--resize {mode!r}: choose one of {', '.join(RESIZE_MODES)}")
    image = np.asarray(image, dtype=np.float32)
    if mode == "pad":
        image = pad_square(image)
    out = Image.fromarray(np.ascontiguousarray(image), mode="F").resize(
        (size, size), Image.Resampling.BILINEAR
    )
    return np.clip(np.asarray(out), 0.0, 1.0)


def resize_labels(labels: np.ndarray, size: int, mode: str = "stretch") -> np.ndarray:
    """Resize a uint8 label image to ``size`` x ``size`` with nearest neighbour.

    The same geometry as :func:`resize` (pad first for ``pad``; PIL maps pixel centres to
    pixel centres for both filters), so a label lands on the pixel of its image; every output
    value is one of the input's, never a blend of two labels.
    """
    if mode not in RESIZE_MODES:
        raise BrainsynthError(f"--resize {mode!r}: choose one of {', '.join(RESIZE_MODES)}")
    labels = np.asarray(labels, dtype=np.uint8)
    if mode == "pad":
        labels = pad_square(labels)
    out = Image.fromarray(np.ascontiguousarray(labels), mode="L").resize(
        (size, size), Image.Resampling.NEAREST
    )
    return np.asarray(out, dtype=np.uint8)


def check_slices(slices: tuple[int, int], depth: int, plane: str, path: object) -> range:
    """The slice indices ``A:B``, checked against the volume's extent along ``plane``."""
    start, stop = slices
    if not 0 <= start < stop:
        raise BrainsynthError(f"--slices {start}:{stop}: need 0 <= A < B")
    if stop > depth:
        raise BrainsynthError(f"{path}: --slices {start}:{stop} exceeds its {depth} {plane} slices")
    return range(start, stop)
