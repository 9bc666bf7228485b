"""``brainsynth sample`` under the output rule: the user's PNGs are never overwritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blobs import blob_dataset
from brainsynth.cli import main
from cli_run import one_line_error, read_only, run_cli

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
