"""The output rule (brainsynth.outputs): nothing brainsynth did not write is replaced or deleted.

Each scenario comes from issue 11: prepare deleting a user's notes and runs, sample overwriting
PNGs, tracebacks for read-only folders, folders given as files and undecodable names.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from data_volumes import write_nifti_case

from brainsynth.cli import main
from cli_run import one_line_error, read_only, run_cli, tree

MARKER = ".brainsynth-owner.json"
PREPARE = ["--slices", "4:8", "--size", "16", "--workers", "1", "--quiet"]


@pytest.fixture
def cohort(tmp_path: Path) -> Path:
    for i in range(2):
        write_nifti_case(tmp_path / "cohort", f"BraTS2021_{i:05d}", seed=i)
    return tmp_path / "cohort"


def test_second_prepare_keeps_the_users_files_byte_for_byte(cohort: Path, tmp_path: Path):
    out = tmp_path / "prepared"
    assert main(["prepare", str(cohort), str(out), *PREPARE]) == 0
    (out / "notes.txt").write_text("my notes about this cohort\n")
    (out / "runs" / "run1").mkdir(parents=True)
    (out / "runs" / "run1" / "metrics.jsonl").write_text('{"iter": 1}\n')
    mine = {k: v for k, v in tree(out).items() if k == "notes.txt" or k.startswith("runs")}
    assert main(["prepare", str(cohort), str(out), *PREPARE[:-1], "--slices", "4:6"]) == 0
    after = tree(out)
    assert {k: after[k] for k in mine} == mine
    assert np.load(out / "images.npy").shape[0] == 2 * 2
    assert json.loads((out / MARKER).read_text())["command"] == "prepare"


def test_prepare_into_a_folder_of_the_users_is_refused_before_work(cohort, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    assert main(["prepare", str(tmp_path / "no-such-cohort"), str(mine), *PREPARE]) == 2
    err = capsys.readouterr().err
    assert "mine: exists and holds files 'brainsynth prepare' did not write (thesis.tex)" in err
    assert "--overwrite" in err
    # --overwrite writes prepare's files into it and still deletes nothing else
    assert main(["prepare", str(cohort), str(mine), *PREPARE, "--overwrite"]) == 0
    assert (mine / "thesis.tex").read_text() == "precious"
    assert (mine / "images.npy").is_file()


def test_prepare_refuses_a_users_file_with_an_output_name(cohort, tmp_path, capsys):
    out = tmp_path / "prepared"
    assert main(["prepare", str(cohort), str(out), *PREPARE]) == 0
    marker = json.loads((out / MARKER).read_text())
    marker["files"].remove("config.yaml")  # as if config.yaml were the user's own file
    (out / MARKER).write_text(json.dumps(marker))
    before = tree(out)
    assert main(["prepare", str(cohort), str(out), *PREPARE]) == 2
    assert "config.yaml: exists and was not written by 'brainsynth prepare'" in (
        capsys.readouterr().err
    )
    assert tree(out) == before


def test_prepare_preview_beside_other_files_is_not_overwritten(cohort, tmp_path, capsys):
    preview = tmp_path / "figure.png"
    preview.write_bytes(b"the user's figure")
    out = tmp_path / "prepared"
    assert main(["prepare", str(cohort), str(out), *PREPARE, "--preview", str(preview)]) == 2
    assert "figure.png: exists and was not written by 'brainsynth prepare'" in (
        capsys.readouterr().err
    )
    assert preview.read_bytes() == b"the user's figure" and not out.exists()
    # inside its own folder the preview is prepare's file, replaced on the next run
    inside = ["--preview", str(out / "preview.png")]
    assert main(["prepare", str(cohort), str(out), *PREPARE, *inside]) == 0
    assert main(["prepare", str(cohort), str(out), *PREPARE, *inside]) == 0
    assert "preview.png" in json.loads((out / MARKER).read_text())["files"]


def test_phantom_reuses_its_own_folder_and_refuses_others(tmp_path, capsys):
    out = tmp_path / "cohort"
    args = ["phantom", str(out), "--patients", "1", "--quiet"]
    assert main(args) == 0
    (out / "notes.txt").write_text("keep me")
    assert main(args) == 0
    assert (out / "notes.txt").read_text() == "keep me"
    assert (out / "BraTS2021_00000").is_dir()
    assert main(["phantom", str(out / "notes.txt"), "--patients", "1", "--quiet"]) == 2
    assert "notes.txt: exists and is not a folder; choose another OUT" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["prepare", "phantom"])
def test_read_only_output_folder_is_refused_before_any_work(command, cohort, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    args = {
        "prepare": ["prepare", str(cohort), str(locked / "out"), *PREPARE],
        "phantom": ["phantom", str(locked / "out"), "--patients", "1", "--quiet"],
    }[command]
    with read_only(locked):
        result = run_cli(args, unprivileged=True)
    line = one_line_error(result)
    assert "out: folder is not writable" in line and "locked cannot be written" in line
    assert list(locked.iterdir()) == []


def test_evaluate_read_only_folder_and_folder_as_out(blob_prepared, tmp_path):
    fake = tmp_path / "fake.npy"
    np.save(fake, np.full((8, 1, 16, 16), 0.5, np.float32))
    locked = tmp_path / "locked"
    locked.mkdir()
    base = ["evaluate", "--real", str(blob_prepared), "--sequence", "t1", "--fake", str(fake)]
    with read_only(locked):
        result = run_cli([*base, "--out", str(locked / "m.json")], unprivileged=True)
    assert "m.json: folder is not writable" in one_line_error(result)
    result = run_cli([*base, "--out", str(tmp_path)])
    assert f"--out {tmp_path}: is a folder; give a file name" in one_line_error(result)


def test_evaluate_refuses_a_negative_n_fake(blob_prepared, tmp_path, capsys):
    args = ["evaluate", "--real", str(blob_prepared), "--sequence", "t1"]
    code = main([*args, "--fake", str(blob_prepared), "--n-fake", "-5", "--out", "m.json"])
    assert code == 2
    assert "--n-fake must be at least 1, got -5" in capsys.readouterr().err


def test_undecodable_output_name_is_refused_before_anything_is_written(tmp_path):
    out = bytes(tmp_path) + b"/cohort-\xff"
    result = run_cli([b"phantom", out, b"--patients", b"1", b"--quiet"])
    assert "is not valid UTF-8 text" in one_line_error(result)
    assert list(tmp_path.iterdir()) == []
