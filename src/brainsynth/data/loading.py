"""Read one volume and put it in canonical RAS+ orientation, from its header.

Orientation always comes from the header, never from storage order: a case stored LPS (as
BraTS is) or RAS (as the Decathlon is) gives the same canonical array, whose axis 0 runs from
the patient's far left to the right, axis 1 from posterior to anterior and axis 2 from
inferior to superior. NIfTI is read with nibabel; MetaImage/NRRD with SimpleITK, whose
direction cosines are in LPS world coordinates and are converted to a RAS affine here.

Every failure is a one-line :class:`~brainsynth.errors.BrainsynthError` naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainsynth.errors import BrainsynthError

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def read_nifti(path: Path, channel: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The (x, y, z) float32 array and RAS affine of a NIfTI file (one channel if 4D)."""
    import nibabel as nib

    img = nib.load(path)
    shape = img.shape
    if channel is not None:
        if len(shape) != 4 or channel >= shape[3]:
            raise BrainsynthError(
                f"{path}: expected a 4D image with channel {channel}, got {shape}"
            )
        data = np.asarray(img.dataobj[..., channel], dtype=np.float32)
    else:
        data = np.asarray(img.dataobj, dtype=np.float32)
        if data.ndim == 4 and data.shape[3] == 1:
            data = data[..., 0]
    return data, img.affine


def read_itk(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The (x, y, z) float32 array and RAS affine of a MetaImage/NRRD file (SimpleITK)."""
    import SimpleITK as sitk

    image = sitk.ReadImage(str(path))
    if image.GetDimension() != 3:
        raise BrainsynthError(f"{path}: expected a 3D image, got {image.GetDimension()}D")
    data = sitk.GetArrayFromImage(image).astype(np.float32).transpose(2, 1, 0)
    direction = np.array(image.GetDirection(), dtype=np.float64).reshape(3, 3)
    lps = np.eye(4)
    lps[:3, :3] = direction * np.array(image.GetSpacing())
    lps[:3, 3] = image.GetOrigin()
    return data, LPS_TO_RAS @ lps


def to_canonical(data: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Flip/transpose a 3D array so its axes run toward R, A, S (nibabel's orientation maths)."""
    import nibabel as nib

    ornt = nib.orientations.io_orientation(affine)
    return np.ascontiguousarray(nib.orientations.apply_orientation(data, ornt))


def load_volume(path: str | Path, channel: int | None = None) -> np.ndarray:
    """A 3D volume as a float32 canonical RAS+ array; clear errors for bad files."""
    path = Path(path)
    if not path.is_file():
        raise BrainsynthError(f"{path}: file not found")
    try:
        if path.name.lower().endswith((".mha", ".mhd", ".nrrd")):
            data, affine = read_itk(path)
        else:
            data, affine = read_nifti(path, channel)
    except BrainsynthError:
        raise
    except Exception as exc:  # nibabel/SimpleITK/zlib raise many kinds for bad files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BrainsynthError(f"{path}: unreadable or truncated ({reason[:160]})") from exc
    if data.ndim != 3:
        raise BrainsynthError(f"{path}: expected a 3D volume, got shape {data.shape}")
    if not np.isfinite(data).all():
        raise BrainsynthError(f"{path}: contains NaN or infinite values")
    return to_canonical(data, affine)
