"""``brainsynth sample`` under the output rule: the user's PNGs are never overwritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blobs import blob_dataset
from brainsynth.cli import main
from cli_run import one_line_error, read_only, run_cli, snapshot

MARKER = ".brainsynth-owner.json"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sample-outputs")
    data = blob_dataset(root / "prepared")
    out = root / "run"
    args = ["train", "--data", str(data), "--gan", "dcgan", "--sequence", "t1", "--out", str(out)]
    assert main([*args, "--iters", "2", "--batch", "8", "--width", "4", "--no-progress"]) == 0
    return out


def test_sample_refuses_to_overwrite_the_users_pngs(run, tmp_path, capsys):
    out = tmp_path / "figures"
    out.mkdir()
    (out / "000000.png").write_bytes(b"my own figure")
    assert main(["sample", str(run), "--n", "2", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "figures: exists and holds files 'brainsynth sample' did not write (000000.png)" in err
    assert "--overwrite" in err
    assert (out / "000000.png").read_bytes() == b"my own figure"
    assert sorted(p.name for p in out.iterdir()) == ["000000.png"]


def test_sample_reuses_its_own_folder_and_leaves_other_files(run, tmp_path):
    out = tmp_path / "samples"
    assert main(["sample", str(run), "--n", "3", "--out", str(out)]) == 0
    (out / "notes.txt").write_text("keep")
    assert main(["sample", str(run), "--n", "2", "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        MARKER,
        "000000.png",
        "000001.png",
        "notes.txt",
        "samples.npy",
        "sampling.json",
    ]
    assert json.loads((out / "sampling.json").read_text())["count"] == 2


def test_sample_into_a_file_or_a_read_only_folder_is_one_line(run, tmp_path):
    file = tmp_path / "taken.txt"
    file.write_text("x")
    result = run_cli(["sample", str(run), "--n", "1", "--out", str(file)])
    assert "taken.txt: exists and is not a folder" in one_line_error(result)
    locked = tmp_path / "locked"
    locked.mkdir()
    with read_only(locked):
        result = run_cli(
            ["sample", str(run), "--n", "1", "--out", str(locked / "s")], unprivileged=True
        )
    assert "folder is not writable" in one_line_error(result)
    assert file.read_text() == "x" and list(locked.iterdir()) == []


def test_grid_is_not_written_over_a_users_file(run, tmp_path, capsys):
    grid = tmp_path / "grid.png"
    grid.write_bytes(b"mine")
    args = ["sample", str(run), "--n", "2", "--out", str(tmp_path / "s"), "--grid", str(grid)]
    assert main(args) == 2
    assert "grid.png: exists and was not written by 'brainsynth sample'" in capsys.readouterr().err
    assert grid.read_bytes() == b"mine" and not (tmp_path / "s").exists()


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("brainsynth: error: "), err
    return lines[0]


def test_a_forged_marker_makes_sample_refuse_and_delete_nothing(run, tmp_path, capsys):
    # Issue 24, reproduction 2: the "stale" entries a marker listed were deleted unchecked,
    # absolute paths, ../ paths and whole folders included.
    out = tmp_path / "samples"
    assert main(["sample", str(run), "--n", "2", "--out", str(out)]) == 0
    (tmp_path / "victim.txt").write_text("precious")
    (tmp_path / "victim-folder").mkdir()
    (tmp_path / "victim-folder" / "data.txt").write_text("precious")
    (out / "mine").mkdir()
    (out / "mine" / "thesis.tex").write_text("precious")
    (out / "notes.txt").write_text("precious")
    (out / "000005.png").mkdir()
    (out / "000005.png" / "data.txt").write_text("precious")
    marker = json.loads((out / MARKER).read_text())
    forged = {
        str(tmp_path / "victim.txt"): "an absolute path",
        str(tmp_path / "victim-folder"): "an absolute path",
        "../victim.txt": "a path",
        "..": "a path",
        "mine/thesis.tex": "a path",
        "mine": "a name 'brainsynth sample' never writes",
        "000005.png": "a folder where 'brainsynth sample' writes a file",
        "notes.txt": "a name 'brainsynth sample' never writes",
        "": "not a file name",
    }
    for entry, reason in forged.items():
        (out / MARKER).write_text(json.dumps({**marker, "files": [*marker["files"], entry]}))
        before = snapshot(tmp_path)
        for extra in ([], ["--overwrite"]):
            assert main(["sample", str(run), "--n", "1", "--out", str(out), *extra]) == 2
            line = one_line(capsys.readouterr().err)
            assert f"{MARKER}: lists {entry!r}" in line and reason in line, line
            assert "nothing was deleted" in line
            assert snapshot(tmp_path) == before
    (out / MARKER).write_text(json.dumps({**marker, "files": "000000.png"}))
    assert main(["sample", str(run), "--n", "1", "--out", str(out)]) == 2
    assert "not a list of file names" in one_line(capsys.readouterr().err)


def test_sample_never_writes_through_a_link(run, tmp_path, capsys):
    # Issue 24, reproduction 3: 000000.png -> ../elsewhere.txt got the PNG written into the
    # file outside.
    out = tmp_path / "samples"
    assert main(["sample", str(run), "--n", "2", "--out", str(out)]) == 0
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("precious")
    (out / "000000.png").unlink()
    (out / "000000.png").symlink_to("../elsewhere.txt")
    grid = tmp_path / "grid.png"
    grid.symlink_to("elsewhere.txt")
    before = snapshot(tmp_path)
    for extra in ([], ["--overwrite"]):
        assert main(["sample", str(run), "--n", "2", "--out", str(out), *extra]) == 2
        line = one_line(capsys.readouterr().err)
        assert "000000.png: is a symbolic link" in line and "never writes through" in line
        assert snapshot(tmp_path) == before
    (out / "000000.png").unlink()
    args = ["sample", str(run), "--n", "2", "--out", str(out), "--grid", str(grid)]
    assert main([*args, "--overwrite"]) == 2
    assert "grid.png: is a symbolic link" in one_line(capsys.readouterr().err)
    assert elsewhere.read_text() == "precious"


def test_a_stale_labels_csv_never_labels_new_unconditional_samples(run, tmp_path):
    from export_helpers import tiny_conditional_run

    conditional = tiny_conditional_run(tmp_path / "conditional")
    out = tmp_path / "samples"
    assert main(["sample", str(conditional), "--n", "2", "--out", str(out)]) == 0
    assert (out / "labels.csv").is_file()
    assert main(["sample", str(run), "--n", "2", "--out", str(out)]) == 0
    assert not (out / "labels.csv").exists()  # evaluate would have read it as these labels
    (out / "labels.csv").write_text("file,label_id,label\n")  # the user's own
    assert main(["sample", str(run), "--n", "2", "--out", str(out)]) == 2
    assert (out / "labels.csv").read_text() == "file,label_id,label\n"
