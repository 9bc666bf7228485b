"""Tumour masks through ``prepare``: aligned with the images, consistent with slices.csv, the
labels of every release mapped to 0..3, cases without segmentation, and older folders."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
from data_volumes import SHAPE, canonical_volume, write_mha, write_nifti, write_nifti_case

from brainsynth.data.dataset import load_prepared, write_prepared
from brainsynth.data.prepare import PrepareConfig, prepare
from brainsynth.errors import BrainsynthError

TINY = dict(slices=(4, 12), size=16, workers=1)


def mask_labels_volume() -> np.ndarray:
    """Canonical mask labels (0..3): oedema around enhancing around a core, sagittal 6-8."""
    seg = np.zeros(SHAPE, dtype=np.uint8)
    seg[6:9, 5:11, 4:9] = 2
    seg[6:9, 6:10, 5:8] = 3
    seg[6:9, 7:9, 6:7] = 1
    return seg


def check_consistent(data) -> None:
    """The Done-when rule: no mask where slices.csv says no tumour, no tumour row without one."""
    masks = np.asarray(data.masks)
    assert masks.dtype == np.uint8 and masks.shape == (len(data.images), *data.images.shape[2:])
    assert set(np.unique(masks)) <= {0, 1, 2, 3}
    for row, mask in zip(data.slices, masks, strict=True):
        pixels = int(row["tumor_pixels"] or 0)
        if pixels == 0:
            assert not mask.any()
        if mask.any():
            assert pixels > 0


def test_masks_are_aligned_with_images_and_consistent_with_slices(tmp_path):
    src = tmp_path / "src"
    for i in range(2):
        write_nifti_case(src, f"BraTS2021_{i:05d}", seed=i, seg=False)
        seg = np.array([0, 1, 2, 4], dtype=np.uint8)[mask_labels_volume()]
        write_nifti(src / f"BraTS2021_{i:05d}" / f"BraTS2021_{i:05d}_seg.nii.gz", seg)
    # the FLAIR of case 0 is bright exactly where it is labelled: a marker the mask must hit
    flair = canonical_volume(7)
    flair[flair > 0] = 100.0
    flair[mask_labels_volume() > 0] = 1000.0
    write_nifti(src / "BraTS2021_00000" / "BraTS2021_00000_flair.nii.gz", flair)
    write_nifti_case(src, "BraTS2021_00002", seed=2, seg=False)
    # pad to 16x16 keeps every pixel: the marker's pixels are the mask's, one for one
    out = prepare(src, tmp_path / "out", PrepareConfig(resize="pad", **TINY), progress=False)
    data = load_prepared(out)
    check_consistent(data)
    assert data.has_masks
    masks = np.asarray(data.masks)
    np.testing.assert_array_equal(masks[:8] > 0, data.images[:8, 3] == 255)
    assert [r["segmented"] for r in data.slices] == ["1"] * 16 + ["0"] * 8
    np.testing.assert_array_equal(data.segmented, [True] * 16 + [False] * 8)
    assert not masks[16:].any()  # the case without segmentation: all zero, flagged 0
    assert set(np.unique(masks[:16])) == {0, 1, 2, 3}
    tumour_rows = [int(r["slice"]) for r in data.slices[:8] if int(r["tumor_pixels"])]
    assert tumour_rows == [6, 7, 8]
    meta = data.meta
    assert meta["mask_labels"] == {
        "0": "background",
        "1": "necrotic/non-enhancing core",
        "2": "oedema",
        "3": "enhancing",
    }
    assert meta["label_mapping"] == {"brats2021": {"0": 0, "1": 1, "2": 2, "4": 3}}
    assert meta["masks"]["segmented_slices"] == 16 and meta["masks"]["tumour_slices"] == 6
    assert meta["masks"]["tumour_slices_without_mask"] == 0


def test_stretched_masks_use_nearest_neighbour_on_the_image_grid(tmp_path):
    src = tmp_path / "src"
    write_nifti_case(src, "BraTS2021_00000", seg=False)
    seg = np.array([0, 1, 2, 4], dtype=np.uint8)[mask_labels_volume()]
    write_nifti(src / "BraTS2021_00000" / "BraTS2021_00000_seg.nii.gz", seg)
    flair = canonical_volume(7)
    flair[flair > 0] = 100.0
    flair[mask_labels_volume() > 0] = 1000.0
    write_nifti(src / "BraTS2021_00000" / "BraTS2021_00000_flair.nii.gz", flair)
    config = PrepareConfig(slices=(4, 12), size=32, workers=1)  # 12x16 stretched to 32x32
    data = load_prepared(prepare(src, tmp_path / "out", config, progress=False))
    masks, flair = np.asarray(data.masks), data.images[:, 3].astype(int)
    check_consistent(data)
    assert set(np.unique(masks)) == {0, 1, 2, 3}  # no blend of two labels appears
    # nearest neighbour takes the closest source pixel along rows and along columns, so a
    # labelled pixel has at least 1/2 x 1/2 of its bilinear weight on the marker (255; the
    # rest of the brain is 25), and a pixel made of marker alone is labelled
    assert flair[masks > 0].min() >= np.floor(0.25 * 255 + 0.75 * 25)
    assert (flair[masks == 0] < 255).all()


def release_cases(root, layout: str, labels: np.ndarray) -> None:
    """One case holding ``labels`` (mask labels 0..3) in the convention of ``layout``."""
    vols = [canonical_volume(s) for s in range(4)]
    if layout == "brats2021":
        folder = root / "BraTS2021_00000"
        for seq, vol in zip(("t1", "t1ce", "t2", "flair"), vols, strict=True):
            write_nifti(folder / f"BraTS2021_00000_{seq}.nii.gz", vol)
        write_nifti(
            folder / "BraTS2021_00000_seg.nii.gz", np.array([0, 1, 2, 4], dtype=np.uint8)[labels]
        )
    elif layout == "brats2023":
        folder = root / "BraTS-GLI-00000-000"
        for seq, vol in zip(("t1n", "t1c", "t2w", "t2f"), vols, strict=True):
            write_nifti(folder / f"BraTS-GLI-00000-000-{seq}.nii.gz", vol)
        write_nifti(folder / "BraTS-GLI-00000-000-seg.nii.gz", labels.astype(np.uint8))
    elif layout == "brats2015":
        folder = root / "HGG" / "pat1"
        for k, (token, vol) in enumerate(zip(("T1", "T1c", "T2", "Flair"), vols, strict=True)):
            stem = f"VSD.Brain.XX.O.MR_{token}.{100 + k}"
            write_mha(folder / stem / f"{stem}.mha", vol)
        old = np.array([0, 1, 2, 4], dtype=np.uint8)[labels]
        old[(labels == 1) & (np.arange(SHAPE[2]) % 2 == 0)] = 3  # half the core non-enhancing
        stem = "VSD.Brain_3more.XX.O.OT.104"
        write_mha(folder / stem / f"{stem}.mha", old)
    else:  # msd, labels in an order its dataset.json names (not the Decathlon's default)
        order = {"0": "background", "1": "enhancing tumour", "2": "edema", "3": "non-enhancing"}
        stacked = np.stack(vols, axis=-1)  # t1, t1c, t2, flair, as the modalities say
        (root / "labelsTr").mkdir(parents=True)
        meta = {"modality": {"0": "T1w", "1": "t1gd", "2": "T2w", "3": "FLAIR"}, "labels": order}
        (root / "dataset.json").write_text(json.dumps(meta))
        write_nifti(root / "imagesTr" / "BRATS_001.nii.gz", stacked, "RAS")
        msd = np.array([0, 3, 2, 1], dtype=np.uint8)[labels]
        write_nifti(root / "labelsTr" / "BRATS_001.nii.gz", msd, "RAS")


def test_every_release_maps_to_the_same_masks(tmp_path):
    labels = mask_labels_volume()
    prepared = {}
    for layout in ("brats2021", "brats2023", "brats2015", "msd"):
        release_cases(tmp_path / layout, layout, labels)
        out = prepare(
            tmp_path / layout, tmp_path / f"{layout}-out", PrepareConfig(**TINY), progress=False
        )
        prepared[layout] = load_prepared(out)
    reference = prepared["brats2021"]
    assert set(np.unique(reference.masks)) == {0, 1, 2, 3}
    for layout, data in prepared.items():
        np.testing.assert_array_equal(data.masks, reference.masks, err_msg=layout)
        np.testing.assert_array_equal(data.images, reference.images, err_msg=layout)
        assert [r["tumor_pixels"] for r in data.slices] == [
            r["tumor_pixels"] for r in reference.slices
        ]
    assert prepared["brats2023"].meta["label_mapping"] == {
        "brats2023": {"0": 0, "1": 1, "2": 2, "3": 3}
    }
    assert prepared["brats2015"].meta["label_mapping"] == {
        "brats2015": {"0": 0, "1": 1, "2": 2, "3": 1, "4": 3}
    }
    assert prepared["msd"].meta["label_mapping"] == {"msd": {"0": 0, "1": 3, "2": 2, "3": 1}}


@pytest.mark.parametrize(
    ("layout", "value", "message"),
    [
        ("brats2021", 5, r"label value\(s\) 5 are not labels of this release \(0, 1, 2, 4\)"),
        ("brats2021", 255, r"label value\(s\) 255 are not labels"),
        ("brats2021", 3, r"label value\(s\) 3 are not labels of this release \(0, 1, 2, 4\)"),
        ("brats2023", 4, r"label value\(s\) 4 are not labels of this release \(0, 1, 2, 3\)"),
        ("brats2021", 1.5, "non-integer label values"),
        ("brats2021", -1, "label value -1 is not one of"),
    ],
)
def test_unknown_label_values_are_refused_naming_the_file(tmp_path, capsys, layout, value, message):
    labels = mask_labels_volume().astype(np.float32)
    release_cases(tmp_path / "src", layout, mask_labels_volume())
    seg = next((tmp_path / "src").rglob("*seg.nii.gz"))
    stored = np.asarray(nib.load(seg).dataobj).astype(np.float32)
    stored[labels.astype(bool)[::-1, ::-1, :] & (stored == stored.max())] = value
    nib.save(nib.Nifti1Image(stored, nib.load(seg).affine), seg)
    with pytest.raises(BrainsynthError, match=f"{seg.name}: {message}"):
        prepare(
            tmp_path / "src",
            tmp_path / "strict",
            PrepareConfig(strict=True, **TINY),
            progress=False,
        )
    with pytest.raises(BrainsynthError, match="every case failed"):
        prepare(tmp_path / "src", tmp_path / "out", PrepareConfig(**TINY), progress=False)
    err = capsys.readouterr().err
    assert "warning: skipping" in err and seg.name in err and len(err.strip().splitlines()) == 1


def test_decathlon_labels_it_cannot_name_are_refused(tmp_path):
    release_cases(tmp_path / "src", "msd", mask_labels_volume())
    meta = json.loads((tmp_path / "src" / "dataset.json").read_text())
    meta["labels"]["3"] = "cyst"
    (tmp_path / "src" / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(BrainsynthError, match=r"dataset.json: label name 'cyst' is none of"):
        prepare(tmp_path / "src", tmp_path / "out", PrepareConfig(strict=True, **TINY))


def test_a_folder_prepared_before_masks_says_to_prepare_again(tmp_path):
    images = np.zeros((3, 4, 8, 8), dtype=np.uint8)
    rows = [
        {"patient": "a", "grade": "HGG", "plane": "sagittal", "slice": s, "tumor_pixels": t}
        for s, t in ((80, 0), (81, 12), (82, ""))
    ]
    data = load_prepared(write_prepared(tmp_path / "old", images, rows, {"size": 8}))
    assert not data.has_masks
    expected = (
        f"{tmp_path / 'old'}: was prepared without tumour masks (an older brainsynth); "
        "run 'brainsynth prepare' again to use masks"
    )
    with pytest.raises(BrainsynthError) as caught:
        _ = data.masks
    assert str(caught.value) == expected
    with pytest.raises(BrainsynthError, match="prepared without tumour masks"):
        data.image_set("flair", with_masks=True)
    assert data.image_set("flair").masks is None  # everything else still works
    np.testing.assert_array_equal(data.segmented, [True, True, False])


@pytest.mark.parametrize(
    ("masks", "message"),
    [
        (np.zeros((2, 8, 8), dtype=np.uint8), r"expected uint8 \(3, 8, 8\) to match images.npy"),
        (np.zeros((3, 8, 8), dtype=np.int64), r"expected uint8 \(3, 8, 8\)"),
        (np.full((3, 8, 8), 7, dtype=np.uint8), "holds values above 3"),
    ],
)
def test_a_damaged_masks_file_is_refused_in_one_line(tmp_path, masks, message):
    rows = [{"patient": "a", "grade": "HGG", "plane": "sagittal", "slice": s, "tumor_pixels": 0}
            for s in range(3)]  # fmt: skip
    root = write_prepared(tmp_path / "p", np.zeros((3, 4, 8, 8), dtype=np.uint8), rows, {})
    np.save(root / "masks.npy", masks)
    data = load_prepared(root)
    assert not data.has_masks
    with pytest.raises(BrainsynthError, match=message):
        _ = data.masks


def test_image_sets_carry_aligned_masks(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 4, 8, 8), dtype=np.uint8)
    masks = rng.integers(0, 4, size=(5, 8, 8), dtype=np.uint8)
    rows = [{"patient": f"p{s % 2}", "grade": "HGG", "plane": "sagittal", "slice": s,
             "tumor_pixels": int(masks[s].astype(bool).sum()), "segmented": 1}
            for s in range(5)]  # fmt: skip
    data = load_prepared(write_prepared(tmp_path / "p", images, rows, {}, masks=masks))
    assert data.has_masks and isinstance(data.masks, np.memmap)
    concat = data.image_set("concat", as_float=False, with_masks=True)
    assert concat.masks.shape == (20, 8, 8)
    np.testing.assert_array_equal(concat.masks, masks[concat.rows])
    np.testing.assert_array_equal(concat.images[:, 0], images[concat.rows, concat.channels])
    part = concat.subset(concat.patients == "p1")
    np.testing.assert_array_equal(part.masks, masks[part.rows])
    joint = data.image_set("joint", with_masks=True)
    np.testing.assert_array_equal(joint.masks, masks)
    joint.masks[0] = 0  # in memory: editing it leaves the file alone
    assert np.array_equal(np.load(tmp_path / "p" / "masks.npy"), masks)
    assert data.image_set("t1c").masks is None
    write_prepared(tmp_path / "p", images, rows, {})  # rewritten without masks: none is left
    assert not load_prepared(tmp_path / "p").has_masks
    with pytest.raises(ValueError, match="labels 0..3"):
        write_prepared(tmp_path / "q", images, rows, {}, masks=masks + 3)
