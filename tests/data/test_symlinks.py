"""``prepare`` follows symbolic links to case folders and files (issue 9): a cohort is often
a folder of links into shared storage. Broken links are one-line warnings, not crashes."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from data_volumes import write_nifti_case

from brainsynth.data.dataset import load_prepared
from brainsynth.data.discovery import discover_cases
from brainsynth.data.prepare import PrepareConfig, prepare
from brainsynth.errors import BrainsynthError

TINY = dict(slices=(4, 12), size=16, workers=1)
NAMES = [f"BraTS2021_{i:05d}" for i in range(3)]


@pytest.fixture
def storage(tmp_path):
    """Three cases on 'shared storage', the way a cohort's sources usually sit."""
    for i, name in enumerate(NAMES):
        write_nifti_case(tmp_path / "storage", name, seed=i, seg=i != 2)
    return tmp_path / "storage"


def test_a_cohort_of_symlinks_prepares_like_a_copied_one(storage, tmp_path):
    copied = tmp_path / "copied"
    shutil.copytree(storage, copied / "HGG")
    linked = tmp_path / "linked"
    (linked / "HGG").mkdir(parents=True)
    for name in NAMES[:2]:  # links to case folders
        (linked / "HGG" / name).symlink_to(storage / name, target_is_directory=True)
    folder = linked / "HGG" / NAMES[2]  # a real folder of links to each file
    folder.mkdir()
    for file in sorted((storage / NAMES[2]).iterdir()):
        (folder / file.name).symlink_to(file)

    a = load_prepared(prepare(copied, tmp_path / "a", PrepareConfig(**TINY), progress=False))
    b = load_prepared(prepare(linked, tmp_path / "b", PrepareConfig(**TINY), progress=False))
    np.testing.assert_array_equal(a.images, b.images)
    assert a.slices == b.slices and len(a.images) == 3 * 8
    for key in ("layouts", "grades", "counts", "skipped"):
        assert a.meta[key] == b.meta[key], key
    assert set(b.meta["grades"].values()) == {"HGG"}  # the HGG folder on the link's path
    sources = b.meta["case_sources"]
    assert sources[NAMES[0]]["folder"] == str(linked / "HGG" / NAMES[0])
    assert sources[NAMES[0]]["resolved"] == os.path.realpath(storage / NAMES[0])
    assert "files" not in sources[NAMES[0]]
    linked_files = sources[NAMES[2]]["files"]
    assert linked_files[f"{NAMES[2]}_t1.nii.gz"] == os.path.realpath(
        storage / NAMES[2] / f"{NAMES[2]}_t1.nii.gz"
    )
    assert a.meta["case_sources"][NAMES[0]]["resolved"] == os.path.realpath(
        copied / "HGG" / NAMES[0]
    )


def test_dangling_and_looping_links_are_one_line_warnings(storage, tmp_path, capsys):
    linked = tmp_path / "linked"
    linked.mkdir()
    for name in NAMES:
        (linked / name).symlink_to(storage / name, target_is_directory=True)
    (linked / "BraTS2021_00009").symlink_to(tmp_path / "unmounted" / "BraTS2021_00009")
    (storage / NAMES[0] / "back").symlink_to(linked, target_is_directory=True)  # a loop
    (linked / "twice").symlink_to(storage / NAMES[1], target_is_directory=True)  # counted once
    t2 = storage / NAMES[2] / f"{NAMES[2]}_t2.nii.gz"
    t2.unlink()
    t2.symlink_to(tmp_path / "moved.nii.gz")  # one file of a case leads nowhere

    out = prepare(linked, tmp_path / "out", PrepareConfig(**TINY), progress=False)
    meta = load_prepared(out).meta
    assert meta["counts"]["cases"] == 2 and meta["counts"]["images"] == 16
    warnings = capsys.readouterr().err.strip().splitlines()
    assert len(warnings) == 3 and all(w.startswith("brainsynth: warning: ") for w in warnings)
    reasons = {entry["case"]: entry["reason"] for entry in meta["skipped"]}
    assert reasons["BraTS2021_00009"].startswith("dangling symlink to ")
    assert reasons["back"].startswith("symlink loop back to ")
    assert f"{NAMES[2]}_t2.nii.gz: dangling symlink to " in reasons[NAMES[2]]
    assert any(NAMES[2] in w and "dangling symlink" in w for w in warnings)
    with pytest.raises(BrainsynthError, match="dangling symlink"):
        prepare(linked, tmp_path / "strict", PrepareConfig(strict=True, **TINY), progress=False)


def test_links_that_go_in_circles_end_the_walk(tmp_path, capsys):
    root = tmp_path / "cohort"
    (root / "a").mkdir(parents=True)
    (root / "a" / "up").symlink_to(root, target_is_directory=True)
    (root / "P_t1.nii.gz").symlink_to(root / "P_t2.nii.gz")
    (root / "P_t2.nii.gz").symlink_to(root / "P_t1.nii.gz")
    (case,) = discover_cases(root)  # a case whose two files point at each other
    assert case.patient == "P" and not case.sequences
    assert case.broken == [
        f"P_t1.nii.gz: symlink loop ({root / 'P_t2.nii.gz'})",
        f"P_t2.nii.gz: symlink loop ({root / 'P_t1.nii.gz'})",
    ]
    (warning,) = capsys.readouterr().err.strip().splitlines()
    assert (
        warning == f"brainsynth: warning: skipping {root / 'a' / 'up'}: symlink loop back to {root}"
    )


def test_dataset_json_names_each_case_source(storage, tmp_path):
    out = prepare(storage, tmp_path / "out", PrepareConfig(**TINY), progress=False)
    sources = json.loads((out / "dataset.json").read_text())["case_sources"]
    assert sorted(sources) == NAMES
    assert sources[NAMES[1]] == {
        "folder": str(storage / NAMES[1]),
        "resolved": os.path.realpath(storage / NAMES[1]),
    }
