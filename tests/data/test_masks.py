"""Mask helpers: regions, one-hot encoding, the colour overlay and reading label files."""

from __future__ import annotations

import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from brainsynth.data.masks import (
    MAX_MASK_SIDE,
    PALETTE,
    REGIONS,
    decode_one_hot,
    one_hot,
    overlay,
    read_mask_file,
    region,
)
from brainsynth.errors import BrainsynthError


def sample_masks() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 4, size=(3, 9, 7), dtype=np.uint8)


def test_regions_are_the_brats_unions():
    masks = sample_masks()
    np.testing.assert_array_equal(region(masks, "whole_tumor"), masks > 0)
    np.testing.assert_array_equal(region(masks, "tumor_core"), (masks == 1) | (masks == 3))
    np.testing.assert_array_equal(region(masks, "enhancing"), masks == 3)
    assert set(REGIONS) == {"whole_tumor", "tumor_core", "enhancing"}
    with pytest.raises(BrainsynthError, match="unknown region 'core'"):
        region(masks, "core")


def test_one_hot_round_trips_and_decodes_by_the_largest_channel():
    masks = sample_masks()
    channels = one_hot(masks)
    assert channels.shape == (3, 3, 9, 7) and channels.dtype == np.float32
    assert set(np.unique(channels)) == {0.0, 1.0}
    np.testing.assert_array_equal(channels[:, 1], masks == 2)
    np.testing.assert_array_equal(channels.sum(axis=1), masks > 0)
    np.testing.assert_array_equal(decode_one_hot(channels), masks)
    soft = np.zeros((1, 3, 1, 4), dtype=np.float32)
    soft[0, :, 0, 0] = (0.2, 0.3, 0.4)  # no channel above 0.5: background
    soft[0, :, 0, 1] = (0.6, 0.9, 0.1)  # largest wins: oedema
    soft[0, :, 0, 2] = (0.7, 0.7, 0.0)  # a tie goes to the lower label
    soft[0, :, 0, 3] = (0.0, 0.0, 0.51)
    np.testing.assert_array_equal(decode_one_hot(soft), [[[0, 2, 1, 3]]])
    with pytest.raises(ValueError, match="0..3"):
        one_hot(masks + 1)


def test_overlay_colours_only_the_labelled_pixels():
    image = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)
    mask = np.zeros((4, 4), dtype=np.uint8)
    mask[0, 1], mask[1, 2], mask[2, 3] = 1, 2, 3
    rgb = overlay(image, mask)
    assert rgb.shape == (4, 4, 3) and rgb.dtype == np.uint8
    grey = np.rint(image * 255).astype(np.uint8)
    unlabelled = mask == 0
    for c in range(3):
        np.testing.assert_array_equal(rgb[..., c][unlabelled], grey[unlabelled])
    for (r, c), label in (((0, 1), 1), ((1, 2), 2), ((2, 3), 3)):
        expected = np.rint(0.5 * image[r, c] * 255 + 0.5 * np.array(PALETTE[label]))
        np.testing.assert_array_equal(rgb[r, c], expected)
    assert len({PALETTE[k] for k in (1, 2, 3)}) == 3


def test_read_mask_file_reads_png_nifti_and_npy(tmp_path):
    masks = sample_masks()
    Image.fromarray(masks[0], mode="L").save(tmp_path / "one.png")
    np.testing.assert_array_equal(read_mask_file(tmp_path / "one.png"), masks[:1])
    palette = Image.fromarray(masks[1], mode="P")
    palette.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])
    palette.save(tmp_path / "palette.png")
    np.testing.assert_array_equal(read_mask_file(tmp_path / "palette.png"), masks[1:2])
    np.save(tmp_path / "stack.npy", masks.astype(np.int64))
    out = read_mask_file(tmp_path / "stack.npy")
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, masks)
    np.save(tmp_path / "float.npy", masks[2].astype(np.float32))
    np.testing.assert_array_equal(read_mask_file(tmp_path / "float.npy"), masks[2:])
    stacked = np.moveaxis(masks, 0, -1)  # NIfTI stacks slices along the last axis
    nib.save(nib.Nifti1Image(stacked, np.eye(4)), tmp_path / "stack.nii.gz")
    np.testing.assert_array_equal(read_mask_file(tmp_path / "stack.nii.gz"), masks)
    nib.save(nib.Nifti1Image(masks[0], np.eye(4)), tmp_path / "one.nii")
    np.testing.assert_array_equal(read_mask_file(tmp_path / "one.nii"), masks[:1])


def bad_files(tmp_path):
    """(path, message) of files read_mask_file must refuse in one line."""
    cases = []
    path = tmp_path / "scaled.png"
    Image.fromarray(np.array([[0, 85], [170, 255]], dtype=np.uint8)).save(path)
    cases.append((path, r"label value\(s\) 85, 170, 255 are not mask labels 0..3"))
    path = tmp_path / "overlay.png"
    Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(path)
    cases.append((path, "a RGB colour image; a label PNG has one channel"))
    path = tmp_path / "truncated.png"
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:40])
    cases.append((path, "not a readable PNG"))
    path = tmp_path / "fake.png"
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(path, format="BMP")
    cases.append((path, r"not a PNG file \(BMP\)"))
    path = tmp_path / "huge.png"
    Image.new("L", (MAX_MASK_SIDE + 1, 2)).save(path)
    cases.append((path, f"masks of 2x{MAX_MASK_SIDE + 1} exceed {MAX_MASK_SIDE}"))
    path = tmp_path / "nan.npy"
    np.save(path, np.array([[0.0, np.nan]], dtype=np.float32))
    cases.append((path, "contains NaN or infinite values"))
    path = tmp_path / "fraction.npy"
    np.save(path, np.array([[0.0, 1.5]], dtype=np.float32))
    cases.append((path, "labels must be integers 0..3, found fractions"))
    path = tmp_path / "negative.npy"
    np.save(path, np.array([[0, -1]], dtype=np.int16))
    cases.append((path, r"label value\(s\) -1 are not mask labels"))
    path = tmp_path / "four.npy"
    np.save(path, np.zeros((1, 1, 4, 4), dtype=np.uint8))
    cases.append((path, r"expected masks of shape \(H, W\) or \(N, H, W\), got \(1, 1, 4, 4\)"))
    path = tmp_path / "empty.npy"
    np.save(path, np.zeros((0, 4, 4), dtype=np.uint8))
    cases.append((path, r"holds no mask \(shape \(0, 4, 4\)\)"))
    path = tmp_path / "pickle.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    cases.append((path, "not a readable .npy array"))
    path = tmp_path / "strings.npy"
    np.save(path, np.array([["a", "b"]]))
    cases.append((path, "labels must be integers 0..3, got <U1"))
    path = tmp_path / "big.npy"
    header = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(20000, 128, 128))
    del header  # a sparse file: the size is refused from the header, before reading
    cases.append((path, "holds more than 268435456 pixels"))
    path = tmp_path / "bad.nii.gz"
    path.write_bytes(b"not a nifti at all")
    cases.append((path, "unreadable NIfTI"))
    path = tmp_path / "masks.txt"
    path.write_text("0 1")
    cases.append((path, "expected a label PNG, NIfTI"))
    cases.append((tmp_path / "absent.npy", "file not found"))
    return cases


def test_read_mask_file_refuses_bad_inputs_in_one_line(tmp_path):
    for path, message in bad_files(tmp_path):
        with pytest.raises(BrainsynthError, match=message) as caught:
            read_mask_file(path)
        text = str(caught.value)
        assert "\n" not in text and text.startswith(str(path)), text


def test_mask_modules_work_without_torch():
    """The segmenter's helper and the CLI's --edit parser need no torch to be imported."""
    code = (
        "import sys, numpy as np; from brainsynth.data import masks, mask_edit, dataset; "
        "m = np.zeros((16, 16), np.uint8); m[5:9, 5:9] = 2; "
        "mask_edit.edit_mask(m, 'scale=1.5;rotate=20;grow=2:1', np.ones((16, 16), bool)); "
        "masks.overlay(np.zeros((16, 16)), m); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
