"""Volumes are reoriented to canonical RAS+ from the header, whatever the storage order."""

from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np
import pytest
from data_volumes import canonical_volume, write_mha, write_nifti

from brainsynth.data.loading import load_volume
from brainsynth.errors import BrainsynthError


@pytest.mark.parametrize("orientation", ["RAS", "LPS", "SPL"])
def test_nifti_any_storage_order_loads_canonical(tmp_path, orientation):
    vol = canonical_volume(1)
    path = write_nifti(tmp_path / "v.nii.gz", vol, orientation)
    assert nib.aff2axcodes(nib.load(path).affine) == tuple(orientation)
    np.testing.assert_array_equal(load_volume(path), vol)


@pytest.mark.parametrize("flip_x", [False, True])
def test_metaimage_loads_the_same_as_nifti(tmp_path, flip_x):
    vol = canonical_volume(2)
    mha = load_volume(write_mha(tmp_path / "v.mha", vol, flip_x=flip_x))
    nii = load_volume(write_nifti(tmp_path / "v.nii.gz", vol, "LPS"))
    np.testing.assert_array_equal(mha, vol)
    np.testing.assert_array_equal(mha, nii)


def test_4d_channel_is_selected(tmp_path):
    vols = [canonical_volume(s) for s in range(4)]
    path = tmp_path / "BRATS_001.nii.gz"
    nib.save(nib.Nifti1Image(np.stack(vols, axis=-1), np.eye(4)), path)
    np.testing.assert_array_equal(load_volume(path, channel=2), vols[2])
    with pytest.raises(BrainsynthError, match="channel 7"):
        load_volume(path, channel=7)


def test_truncated_file_is_a_clear_error(tmp_path):
    path = write_nifti(tmp_path / "v.nii.gz", canonical_volume(3))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(BrainsynthError, match=r"v\.nii\.gz: unreadable or truncated"):
        load_volume(path)


def test_garbage_and_missing_files_are_clear_errors(tmp_path):
    junk = tmp_path / "junk.nii.gz"
    junk.write_bytes(gzip.compress(b"not a nifti at all" * 10))
    with pytest.raises(BrainsynthError, match="junk.nii.gz: unreadable"):
        load_volume(junk)
    mha = tmp_path / "junk.mha"
    mha.write_text("ObjectType = Image\nNDims = 3\n")
    with pytest.raises(BrainsynthError, match="junk.mha: unreadable"):
        load_volume(mha)
    with pytest.raises(BrainsynthError, match="absent.nii.gz: file not found"):
        load_volume(tmp_path / "absent.nii.gz")


def test_nan_is_a_clear_error(tmp_path):
    vol = canonical_volume(4)
    vol[5, 5, 5] = np.nan
    with pytest.raises(BrainsynthError, match="nan.nii.gz: contains NaN"):
        load_volume(write_nifti(tmp_path / "nan.nii.gz", vol))
