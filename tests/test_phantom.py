"""The phantom: real MNI152 anatomy, glioma labels, contrasts, BraTS grid, every layout."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from brainsynth import phantom
from brainsynth.data.dataset import load_prepared
from brainsynth.data.discovery import discover_cases
from brainsynth.data.layouts import LAYOUTS, write_case, write_manifest
from brainsynth.data.loading import load_volume
from brainsynth.data.prepare import PrepareConfig, prepare
from brainsynth.errors import BrainsynthError
from brainsynth.phantom import GRID_SHAPE, make_cohort, synthesize_patient


@pytest.fixture(scope="module")
def lgg_patient():
    """Patient index 3 of seed 0: LGG-like, so no enhancing label."""
    return synthesize_patient(0, 3)


def test_cohort_files_are_deterministic_and_labelled_phantom(phantom_cohort_6):
    manifest = json.loads((phantom_cohort_6 / "PHANTOM.json").read_text())
    assert manifest["phantom"] is True and "not patient data" in manifest["note"]
    assert manifest["grades"]["BraTS2021_00003"] == "LGG"
    assert manifest["grades"]["BraTS2021_00000"] == "HGG"
    img = nib.load(phantom_cohort_6 / "BraTS2021_00000" / "BraTS2021_00000_t1ce.nii.gz")
    assert img.shape == GRID_SHAPE
    assert nib.aff2axcodes(img.affine) == ("L", "P", "S")  # stored like real BraTS
    assert b"PHANTOM" in img.header["descrip"].tobytes()
    again = synthesize_patient(0, 0)
    np.testing.assert_array_equal(np.asarray(img.dataobj), again.volumes["t1c"])


def test_hgg_anatomy_labels_and_contrasts(phantom_cohort_6):
    folder = phantom_cohort_6 / "BraTS2021_00000"
    vols = {
        s: load_volume(folder / f"BraTS2021_00000_{s}.nii.gz")
        for s in ("t1", "t1ce", "t2", "flair")
    }
    seg = load_volume(folder / "BraTS2021_00000_seg.nii.gz")
    brain = vols["t1"] > 0
    assert 1.2e6 < brain.sum() < 2.6e6  # an adult brain's volume in mm^3
    for vol in vols.values():
        assert ((vol > 0) == brain).all()  # skull-stripped: background exactly 0 everywhere
    assert set(np.unique(seg)) == {0, 1, 2, 4}
    assert (seg[~brain] == 0).all()
    mean = {s: {lab: v[seg == lab].mean() for lab in (1, 2, 4)} for s, v in vols.items()}
    normal = {s: v[brain & (seg == 0)].mean() for s, v in vols.items()}
    assert mean["t1ce"][4] > 1.4 * normal["t1ce"]  # enhancing rim bright on T1c
    assert mean["t1ce"][4] > 1.5 * mean["t1ce"][1]  # necrotic core dark
    assert mean["flair"][2] > 1.4 * normal["flair"]  # edema bright on FLAIR
    assert mean["t2"][2] > 1.2 * normal["t2"]
    # CSF (ventricles, midline): bright on T2, dark on FLAIR -> the two disagree most there
    csf_like = brain & (seg == 0) & (vols["t2"] > np.percentile(vols["t2"][brain], 97))
    assert vols["flair"][csf_like].mean() < normal["flair"]
    # the brain is centred left-right in the 240 grid (sagittal #80-#149 cut through it)
    xs = np.flatnonzero(brain.any(axis=(1, 2)))
    assert 30 < xs[0] < 70 and 170 < xs[-1] < 210


def test_every_layout_is_discovered_and_loads_identically(tmp_path, lgg_patient):
    assert lgg_patient.grade == "LGG" and 4 not in np.unique(lgg_patient.seg)
    canonical_t2 = lgg_patient.volumes["t2"][::-1, ::-1, :].astype(np.float32)  # LPS -> RAS
    middle = int(np.flatnonzero(lgg_patient.seg[::-1].any(axis=(1, 2))).mean())  # tumour's x
    prepared = []
    for layout in LAYOUTS:
        root = tmp_path / layout
        name = write_case(root, layout, lgg_patient)
        write_manifest(root, layout, 0, {name: lgg_patient.grade})
        (case,) = discover_cases(root)
        assert (case.patient, case.layout, case.grade) == (name, layout, "LGG")
        assert not case.missing and case.seg is not None
        path, channel = case.sequences["t2"]
        np.testing.assert_array_equal(load_volume(path, channel), canonical_t2)
        config = PrepareConfig(size=32, workers=1, slices=(middle - 5, middle + 5))
        prepared.append(
            load_prepared(prepare(root, tmp_path / f"{layout}-out", config, progress=False))
        )
    for other in prepared[1:]:
        np.testing.assert_array_equal(other.images, prepared[0].images)
        np.testing.assert_array_equal(other.masks, prepared[0].masks)
        tumour = [r["tumor_pixels"] for r in other.slices]
        assert tumour == [r["tumor_pixels"] for r in prepared[0].slices]
    assert set(np.unique(prepared[0].masks)) == {0, 1, 2}  # LGG: core and oedema
    lgg_2015 = load_volume(next((tmp_path / "brats2015").rglob("VSD.Brain_3more*.mha")))
    assert set(np.unique(lgg_2015)) == {0, 2, 3}  # 2015's non-enhancing tumour is 3
    assert (tmp_path / "msd" / "imagesTr" / "BRATS_004.nii.gz").is_file()
    assert nib.aff2axcodes(
        nib.load(tmp_path / "msd" / "imagesTr" / "BRATS_004.nii.gz").affine
    ) == tuple("RAS")
    assert sorted(
        p.name for p in (tmp_path / "brats2015" / "LGG" / "brats_phantom_pat0004_1").iterdir()
    ) == [
        "VSD.Brain.XX.O.MR_Flair.54533",
        "VSD.Brain.XX.O.MR_T1.54530",
        "VSD.Brain.XX.O.MR_T1c.54531",
        "VSD.Brain.XX.O.MR_T2.54532",
        "VSD.Brain_3more.XX.O.OT.54534",
    ]


def test_make_cohort_refuses_bad_arguments(tmp_path):
    with pytest.raises(BrainsynthError, match="--layout"):
        make_cohort(tmp_path / "a", 1, layout="brats1999")
    with pytest.raises(BrainsynthError, match="--patients"):
        make_cohort(tmp_path / "b", 0)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x").write_text("x")
    with pytest.raises(BrainsynthError, match="holds files .brainsynth phantom. did not write"):
        make_cohort(tmp_path / "c", 1)


def test_interrupted_cohort_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(phantom, "_write_patient", interrupted)
    with pytest.raises(KeyboardInterrupt):
        make_cohort(tmp_path / "cohort", 1, progress=False)
    assert list(tmp_path.iterdir()) == []


def release_files_and_masks(tmp_path, patient, layouts):
    """Each layout's segmentation labels as stored, and its prepared masks."""
    stored, masks = {}, {}
    for layout in layouts:
        root = tmp_path / layout
        name = write_case(root, layout, patient)
        write_manifest(root, layout, 0, {name: patient.grade})
        (case,) = discover_cases(root)
        stored[layout] = set(np.unique(load_volume(case.seg)).astype(int))
        config = PrepareConfig(size=32, workers=1, slices=(90, 140))
        data = load_prepared(prepare(root, tmp_path / f"{layout}-out", config, progress=False))
        masks[layout] = np.asarray(data.masks)
    return stored, masks


def test_each_release_stores_its_own_labels_and_prepares_to_the_same_masks(tmp_path):
    """An HGG patient (enhancing rim, necrotic core) in the four label conventions."""
    patient = synthesize_patient(0, 0)
    stored, masks = release_files_and_masks(
        tmp_path, patient, ("brats2021", "brats2023", "brats2015", "msd")
    )
    assert stored == {
        "brats2021": {0, 1, 2, 4},
        "brats2023": {0, 1, 2, 3},
        "brats2015": {0, 1, 2, 4},  # an HGG core is necrosis (1); enhancing stays 4
        "msd": {0, 1, 2, 3},
    }
    assert set(np.unique(masks["brats2021"])) == {0, 1, 2, 3}
    for layout, mask in masks.items():
        np.testing.assert_array_equal(mask, masks["brats2021"], err_msg=layout)


def test_phantom_masks_match_slices_and_lie_where_the_flair_is_bright(phantom_prepared_64):
    data = load_prepared(phantom_prepared_64)
    masks = np.asarray(data.masks)
    assert masks.shape == (420, 64, 64) and set(np.unique(masks)) == {0, 1, 2, 3}
    pixels = np.array([int(r["tumor_pixels"]) for r in data.slices])
    assert not masks[pixels == 0].any()  # no mask where there is no tumour
    assert (pixels[masks.reshape(len(masks), -1).any(axis=1)] > 0).all()
    assert data.segmented.all() and {r["segmented"] for r in data.slices} == {"1"}
    assert data.meta["label_mapping"] == {"brats2021": {"0": 0, "1": 1, "2": 2, "4": 3}}
    flair = data.images[:, 3].astype(np.float32)
    brain = (flair > 0) & (masks == 0)
    # the phantom's oedema is bright on FLAIR (1.0 against 0.5-0.62 for tissue): the masks
    # lie on it, not beside it
    assert flair[masks == 2].mean() > 1.3 * flair[brain].mean()
    assert (flair[masks > 0] > 0).mean() > 0.99  # tumour labels sit inside the brain
    lost = data.meta["masks"]["tumour_slices_without_mask"]
    assert lost == int(((pixels > 0) & ~masks.reshape(len(masks), -1).any(axis=1)).sum())
