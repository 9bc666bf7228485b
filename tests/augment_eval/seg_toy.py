"""A toy labelled cohort for the segmentation task, and honest test doubles of the generator
sources: pairs taken from real patients (with an intensity jitter) and images rendered from
given label maps.

Each toy slice is a disc-shaped 'brain' with a patient-specific intensity and, on most
slices, a tumour of nested discs: oedema (2) outside, an enhancing ring (3), a necrotic
core (1), whose labels differ across the four sequences as in glioma MRI (FLAIR bright on
the whole tumour, T1c bright on the enhancing ring and dark in the core). Until prepared
folders carry masks (``prepare``), ``masks.npy`` is written here beside them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainsynth.augment_eval.synthetic import GeneratorRequest
from brainsynth.data.dataset import load_prepared, write_prepared

SIZE = 32

# per label 0..3: added to the brain's level in T1, T1c, T2, FLAIR
CONTRAST = np.array(
    [
        [0.0, 0.0, 0.0, 0.0],  # brain
        [-0.15, -0.3, 0.3, 0.2],  # necrotic / non-enhancing core
        [-0.1, 0.0, 0.35, 0.4],  # oedema
        [-0.1, 0.45, 0.15, 0.35],  # enhancing
    ]
)


def toy_mask(size: int, centre: tuple[float, float], radius: float) -> np.ndarray:
    """Nested discs: oedema to ``radius``, enhancing ring to 0.6, core inside 0.35 of it."""
    yy, xx = np.mgrid[0:size, 0:size]
    r = np.hypot(yy - centre[0], xx - centre[1])
    mask = np.zeros((size, size), dtype=np.uint8)
    mask[r < radius] = 2
    mask[r < 0.6 * radius] = 3
    mask[r < 0.35 * radius] = 1
    return mask


def brain(size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    return np.hypot(yy - (size - 1) / 2, xx - (size - 1) / 2) < 0.45 * size


def render(masks: np.ndarray, rng: np.random.Generator, levels: np.ndarray) -> np.ndarray:
    """Float32 (N, 4, H, W) images of label maps (N, H, W), brain level per image."""
    n, size = len(masks), masks.shape[-1]
    inside = brain(size)
    images = levels.reshape(n, 1, 1, 1) + CONTRAST[masks].transpose(0, 3, 1, 2)
    images = images + 0.03 * rng.standard_normal(images.shape)
    return np.where(inside, np.clip(images, 0.05, 1), 0).astype(np.float32)


def seg_prepared(
    root: Path,
    patients: int = 8,
    slices: int = 6,
    size: int = SIZE,
    seed: int = 0,
    unsegmented: tuple[int, ...] = (),
    with_masks: bool = True,
) -> Path:
    """A prepared folder with ``masks.npy``: the first and last slice of each patient are
    tumour-free, the tumour grows towards the middle; patients in ``unsegmented`` have no
    segmentation (empty ``tumor_pixels``, all-zero masks)."""
    rng = np.random.default_rng(seed)
    masks, images, rows = [], [], []
    for p in range(patients):
        centre = tuple(rng.uniform(0.35 * size, 0.65 * size, size=2))
        radius = rng.uniform(0.12, 0.22) * size
        level = rng.uniform(0.3, 0.5)
        for s in range(slices):
            scale = np.sin(np.pi * s / (slices - 1))
            mask = toy_mask(size, centre, radius * scale) if 0 < s < slices - 1 else None
            mask = np.zeros((size, size), np.uint8) if mask is None else mask
            images.append(render(mask[None], rng, np.array([level]))[0])
            if p in unsegmented:
                mask = np.zeros_like(mask)
            masks.append(mask)
            rows.append(
                {
                    "patient": f"P{p:02d}",
                    "grade": "HGG",
                    "plane": "sagittal",
                    "slice": 80 + s,
                    "tumor_pixels": "" if p in unsegmented else int((mask > 0).sum()),
                }
            )
    folder = write_prepared(root, np.stack(images), rows, {"source": "seg_toy", "size": size})
    if with_masks:
        np.save(folder / "masks.npy", np.stack(masks))
    return folder


class RealPairs:
    """Pairs of the given patients' real slices with a small intensity jitter: a pair
    'generator' that has seen exactly those patients."""

    def __init__(self, data: Path, patients: tuple[str, ...], channels: list[int]) -> None:
        prepared = load_prepared(data)
        keep = np.isin(prepared.patients, patients)
        self.images = prepared.images[keep][:, channels].astype(np.float32) / 255
        self.masks = np.asarray(prepared.masks[keep])
        self.patients = frozenset(patients)

    def sample_pairs(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        pick = rng.integers(0, len(self.images), size=n)
        jitter = 1 + 0.05 * rng.standard_normal((n, 1, 1, 1))
        return np.clip(self.images[pick] * jitter, 0, 1), self.masks[pick]


def pair_source(data: Path, channels: list[int], patients: tuple[str, ...] | None = None):
    """Pairs of the request's own patients, or of fixed ``patients`` (e.g. test patients:
    the guard must refuse those)."""

    def source(request: GeneratorRequest) -> RealPairs:
        return RealPairs(data, patients or request.patients, channels)

    return source


class RenderedFromMasks:
    """Images drawn for given label maps with the toy cohort's contrasts."""

    def __init__(self, patients: frozenset[str], channels: list[int]) -> None:
        self.patients, self.channels = patients, channels

    def sample_from_masks(self, masks: np.ndarray, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        levels = rng.uniform(0.3, 0.5, size=len(masks))
        return render(masks, rng, levels)[:, self.channels]


def mask_source(channels: list[int], extra: tuple[str, ...] = ()):
    def source(request: GeneratorRequest) -> RenderedFromMasks:
        return RenderedFromMasks(frozenset(request.patients) | set(extra), channels)

    return source


def flip_masks(masks: np.ndarray, rng: np.random.Generator, brains: np.ndarray) -> np.ndarray:
    """A mask edit: mirror the label maps left-right (the toy brains are symmetric discs)."""
    return masks[:, :, ::-1].copy()
