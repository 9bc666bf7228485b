"""Slice selection, display orientation, percentile normalisation and resizing."""

from __future__ import annotations

import numpy as np
import pytest

from brainsynth.data.preprocessing import (
    check_slices,
    display_slice,
    normalise,
    percentile_window,
    resize,
)
from brainsynth.errors import BrainsynthError

X, Y, Z = 6, 7, 8  # canonical: x left->right, y posterior->anterior, z inferior->superior


def coded_volume() -> np.ndarray:
    """Each voxel holds its own canonical index as x*100 + y*10 + z."""
    x, y, z = np.meshgrid(np.arange(X), np.arange(Y), np.arange(Z), indexing="ij")
    return (x * 100 + y * 10 + z).astype(np.float32)


def code(x: int, y: int, z: int) -> float:
    return x * 100 + y * 10 + z


def test_sagittal_superior_up_anterior_left():
    image = display_slice(coded_volume(), "sagittal", 2)
    assert image.shape == (Z, Y)
    assert image[0, 0] == code(2, Y - 1, Z - 1)  # top-left: anterior superior
    assert image[-1, -1] == code(2, 0, 0)  # bottom-right: posterior inferior
    assert image[0, -1] == code(2, 0, Z - 1)  # top-right: posterior superior


def test_coronal_superior_up_patient_right_left():
    image = display_slice(coded_volume(), "coronal", 3)
    assert image.shape == (Z, X)
    assert image[0, 0] == code(X - 1, 3, Z - 1)  # top-left: patient's right, superior
    assert image[-1, -1] == code(0, 3, 0)


def test_axial_anterior_up_patient_right_left():
    image = display_slice(coded_volume(), "axial", 4)
    assert image.shape == (Y, X)
    assert image[0, 0] == code(X - 1, Y - 1, 4)  # top-left: patient's right, anterior
    assert image[-1, -1] == code(0, 0, 4)


def test_sagittal_index_counts_from_patients_left():
    volume = coded_volume()
    assert display_slice(volume, "sagittal", 0).min() == code(0, 0, 0)
    assert display_slice(volume, "sagittal", X - 1).min() == code(X - 1, 0, 0)


def test_percentile_normalisation_clips_scales_and_keeps_background():
    rng = np.random.default_rng(0)
    volume = np.zeros((40, 40, 40), dtype=np.float32)
    volume[5:35, 5:35, 5:35] = rng.uniform(100, 1100, size=(30, 30, 30))
    volume[20, 20, 20] = 1e6  # an outlier that must not set the scale
    lo, hi = percentile_window(volume)
    brain = volume[volume != 0]
    assert lo == pytest.approx(np.percentile(brain, 0.5))
    assert hi == pytest.approx(np.percentile(brain, 99.5))
    assert hi < 1200  # the outlier is clipped away
    section = normalise(volume[20], (lo, hi))
    assert section.min() == 0.0 and section.max() == 1.0
    assert (section[volume[20] == 0] == 0).all()
    inside = section[5:35, 5:35]
    assert 0.4 < inside.mean() < 0.6  # uniform intensities map to a ~uniform [0, 1]
    assert (inside == 1.0).mean() < 0.02


def test_empty_volume_window_is_harmless():
    volume = np.zeros((4, 4, 4), dtype=np.float32)
    assert (normalise(volume[0], percentile_window(volume)) == 0).all()


def test_resize_stretch_and_pad():
    image = np.zeros((10, 20), dtype=np.float32)
    image[:, :] = 1.0
    stretched = resize(image, 8, "stretch")
    assert stretched.shape == (8, 8) and np.allclose(stretched, 1.0)
    padded = resize(image, 8, "pad")
    assert padded.shape == (8, 8)
    assert padded[0].max() == 0.0 and padded[-1].max() == 0.0  # zero rows above and below
    assert np.allclose(padded[3:5], 1.0)
    with pytest.raises(BrainsynthError, match="--resize"):
        resize(image, 8, "crop")


def test_resize_same_size_is_identity():
    image = np.random.default_rng(1).uniform(0, 1, size=(12, 12)).astype(np.float32)
    np.testing.assert_allclose(resize(image, 12), image, atol=1e-6)


def test_slice_range_checked_against_volume():
    assert check_slices((2, 5), 10, "sagittal", "v.nii") == range(2, 5)
    with pytest.raises(BrainsynthError, match="v.nii: --slices 80:150 exceeds its 20 sagittal"):
        check_slices((80, 150), 20, "sagittal", "v.nii")
    with pytest.raises(BrainsynthError, match="--plane"):
        display_slice(np.zeros((2, 2, 2)), "oblique", 0)
