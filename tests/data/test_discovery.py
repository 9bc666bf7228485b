"""Cases are found recursively in the file layout of every BraTS release."""

from __future__ import annotations

import json

import pytest

from brainsynth.data.discovery import discover_cases
from brainsynth.errors import BrainsynthError


def touch(root, *names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_brats2015_metaimage_layout(tmp_path):
    case = "BRATS2015_Training/HGG/brats_2013_pat0001_1"
    touch(
        tmp_path,
        *(
            f"{case}/VSD.Brain.XX.O.MR_{seq}.{54512 + k}/VSD.Brain.XX.O.MR_{seq}.{54512 + k}.mha"
            for k, seq in enumerate(["T1", "T1c", "T2", "Flair"])
        ),
        f"{case}/VSD.Brain_3more.XX.O.OT.54517/VSD.Brain_3more.XX.O.OT.54517.mha",
        "BRATS2015_Training/LGG/brats_tcia_pat101_1/VSD.Brain.XX.O.MR_T1.1/VSD.Brain.XX.O.MR_T1.1.mha",
    )
    cases = discover_cases(tmp_path)
    assert [c.patient for c in cases] == ["brats_2013_pat0001_1", "brats_tcia_pat101_1"]
    full, partial = cases
    assert full.layout == "brats2015" and full.grade == "HGG" and not full.missing
    assert full.sequences["t1c"][0].name.startswith("VSD.Brain.XX.O.MR_T1c.")
    assert full.seg.name.startswith("VSD.Brain_3more.XX.O.OT.")
    assert partial.grade == "LGG" and partial.missing == ["t1c", "t2", "flair"]
    assert partial.seg is None


@pytest.mark.parametrize(
    ("case", "sep", "suffixes", "layout"),
    [
        ("Brats18_TCIA01_131_1", "_", ("t1", "t1ce", "t2", "flair"), "brats2018"),
        ("BraTS20_Training_001", "_", ("t1", "t1ce", "t2", "flair"), "brats2020"),
        ("BraTS2021_00000", "_", ("t1", "t1ce", "t2", "flair"), "brats2021"),
        ("BraTS-GLI-00000-000", "-", ("t1n", "t1c", "t2w", "t2f"), "brats2023"),
        ("BraTS-MEN-00004-000", "-", ("t1n", "t1c", "t2w", "t2f"), "brats2023"),
        ("BraTS-PED-00012-001", "-", ("t1n", "t1c", "t2w", "t2f"), "brats2023"),
    ],
)
def test_nifti_layouts(tmp_path, case, sep, suffixes, layout):
    names = [f"deep/er/{case}/{case}{sep}{s}.nii.gz" for s in (*suffixes, "seg")]
    touch(tmp_path, *names, f"deep/er/{case}/._{case}{sep}t1.nii.gz")
    (found,) = discover_cases(tmp_path)
    assert found.patient == case and found.layout == layout and not found.missing
    assert found.sequences["flair"][0].name == f"{case}{sep}{suffixes[3]}.nii.gz"
    assert found.sequences["t1c"][0].name == f"{case}{sep}{suffixes[1]}.nii.gz"
    assert found.seg.name == f"{case}{sep}seg.nii.gz"
    assert found.grade == "unknown"


def test_validation_case_without_segmentation_and_uncompressed(tmp_path):
    touch(tmp_path, *(f"V/BraTS2021_00001_{s}.nii" for s in ("t1", "t1ce", "t2", "flair")))
    (case,) = discover_cases(tmp_path)
    assert case.seg is None and not case.missing


def test_grades_from_folders_and_name_mapping(tmp_path):
    for grade, case in (("HGG", "Brats18_A_1_1"), ("LGG", "Brats18_B_2_1")):
        touch(
            tmp_path, *(f"{grade}/{case}/{case}_{s}.nii.gz" for s in ("t1", "t1ce", "t2", "flair"))
        )
    touch(tmp_path, "x/BraTS20_Training_007/BraTS20_Training_007_t1.nii.gz")
    (tmp_path / "x/name_mapping.csv").write_text(
        "Grade,BraTS_2017_subject_ID,BraTS_2020_subject_ID\nLGG,Brats17_x,BraTS20_Training_007\n"
    )
    grades = {c.patient: c.grade for c in discover_cases(tmp_path)}
    assert grades == {"Brats18_A_1_1": "HGG", "Brats18_B_2_1": "LGG", "BraTS20_Training_007": "LGG"}


def test_grades_from_phantom_manifest(tmp_path):
    touch(tmp_path, "BraTS2021_00003/BraTS2021_00003_t1.nii.gz")
    (tmp_path / "PHANTOM.json").write_text(json.dumps({"grades": {"BraTS2021_00003": "LGG"}}))
    assert discover_cases(tmp_path)[0].grade == "LGG"


def test_decathlon_4d_layout(tmp_path):
    touch(
        tmp_path,
        "Task01_BrainTumour/imagesTr/BRATS_001.nii.gz",
        "Task01_BrainTumour/imagesTr/._BRATS_001.nii.gz",
        "Task01_BrainTumour/labelsTr/BRATS_001.nii.gz",
        "Task01_BrainTumour/imagesTs/BRATS_485.nii.gz",
    )
    cases = discover_cases(tmp_path)
    assert [c.patient for c in cases] == ["BRATS_001", "BRATS_485"]
    train, test = cases
    assert train.layout == "msd" and not train.missing
    assert {s: ch for s, (_, ch) in train.sequences.items()} == {
        "flair": 0,
        "t1": 1,
        "t1c": 2,
        "t2": 3,
    }
    assert train.seg.parent.name == "labelsTr" and test.seg is None


def test_decathlon_channels_follow_its_dataset_json(tmp_path):
    touch(tmp_path, "T/imagesTr/BRATS_002.nii.gz")
    modality = {"0": "T1w", "1": "t1gd", "2": "T2w", "3": "FLAIR"}
    (tmp_path / "T/dataset.json").write_text(json.dumps({"modality": modality}))
    (case,) = discover_cases(tmp_path)
    assert case.sequences["t1"][1] == 0 and case.sequences["flair"][1] == 3


def test_empty_missing_and_caseless_folders_are_clear_errors(tmp_path):
    with pytest.raises(BrainsynthError, match="no such folder"):
        discover_cases(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BrainsynthError, match="empty: folder is empty"):
        discover_cases(tmp_path / "empty")
    touch(tmp_path, "other/notes.txt", "other/scan.png")
    with pytest.raises(BrainsynthError, match="other: no BraTS case found"):
        discover_cases(tmp_path / "other")
