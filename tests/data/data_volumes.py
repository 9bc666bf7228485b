"""Tiny volumes written directly with nibabel / SimpleITK, so data tests stay fast.

A tiny "case" is a canonical (RAS) block of shape ``SHAPE`` with a non-zero brain, stored in
whatever orientation a test asks for.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import SimpleITK as sitk

SHAPE = (20, 16, 12)  # x (L->R), y (P->A), z (I->S)
SEQS = ("t1", "t1ce", "t2", "flair")
LPS_FLIP = np.diag([-1.0, -1.0, 1.0, 1.0])


def canonical_volume(seed: int, shape=SHAPE) -> np.ndarray:
    """Random positive 'brain' with a zero border (background), float32, RAS order."""
    rng = np.random.default_rng(seed)
    vol = np.zeros(shape, dtype=np.float32)
    vol[3:-3, 3:-3, 3:-3] = rng.uniform(50, 500, size=tuple(s - 6 for s in shape))
    return vol


def canonical_seg(shape=SHAPE, slices=(6, 9)) -> np.ndarray:
    """Labels in sagittal slices ``slices`` only (x index, canonical)."""
    seg = np.zeros(shape, dtype=np.uint8)
    seg[slices[0] : slices[1], 5:9, 4:7] = 2
    seg[slices[0] : slices[1], 6:8, 5:6] = 4
    return seg


def ras_affine(shape=SHAPE) -> np.ndarray:
    affine = np.eye(4)
    affine[:3, 3] = [-shape[0] / 2, -shape[1] / 2, -shape[2] / 2]
    return affine


def store(data: np.ndarray, orientation: str) -> tuple[np.ndarray, np.ndarray]:
    """A canonical array and its affine as stored ``RAS``, ``LPS`` or ``SPL`` (transposed)."""
    affine = ras_affine(data.shape)
    if orientation == "RAS":
        return data, affine
    flipped = data[::-1, ::-1, :]
    flip = np.eye(4)
    flip[0, 0] = flip[1, 1] = -1
    flip[0, 3], flip[1, 3] = data.shape[0] - 1, data.shape[1] - 1
    lps_affine = affine @ flip
    if orientation == "LPS":
        return np.ascontiguousarray(flipped), lps_affine
    if orientation == "SPL":  # axes stored z, y, x and flipped: still the same anatomy
        perm = np.zeros((4, 4))
        perm[0, 2] = perm[1, 1] = perm[2, 0] = perm[3, 3] = 1
        return np.ascontiguousarray(flipped.transpose(2, 1, 0)), lps_affine @ perm
    raise ValueError(orientation)


def write_nifti(path: Path, data: np.ndarray, orientation: str = "LPS") -> Path:
    stored, affine = store(data, orientation)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(stored, affine), path)
    return path


def write_mha(path: Path, data: np.ndarray, flip_x: bool = False) -> Path:
    """Write canonical ``data`` as MetaImage: LPS with identity direction, or x flipped."""
    lps = data[::-1, ::-1, :]  # axis 0 toward L, axis 1 toward P
    direction = np.eye(3)
    if flip_x:  # store axis 0 toward R instead, saying so in the direction cosines
        lps = lps[::-1]
        direction[0, 0] = -1
    image = sitk.GetImageFromArray(np.ascontiguousarray(lps.transpose(2, 1, 0)))
    image.SetDirection(tuple(direction.ravel()))
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path))
    return path


def write_nifti_case(
    root: Path,
    name: str,
    seed: int = 0,
    orientation: str = "LPS",
    seg: bool = True,
    seqs=SEQS,
    sep: str = "_",
) -> Path:
    """A BraTS 2017-2021 style case folder ``root/name`` of tiny volumes."""
    folder = root / name
    for k, seq in enumerate(seqs):
        write_nifti(
            folder / f"{name}{sep}{seq}.nii.gz", canonical_volume(seed * 10 + k), orientation
        )
    if seg:
        write_nifti(folder / f"{name}{sep}seg.nii.gz", canonical_seg(), orientation)
    return folder
