"""brainsynth.outputs on its own: markers, owned files, shared folders, names from data, links."""

from __future__ import annotations

import numpy as np
import pytest

from brainsynth.config import write_text_atomic
from brainsynth.errors import BrainsynthError
from brainsynth.imageio import save_grid, save_png
from brainsynth.outputs import (
    MARKER,
    Vocabulary,
    claim_file,
    claim_files,
    claim_folder,
    distinct_names,
    inside,
)

PNGS = Vocabulary(file_pattern=r".+\.png")


def test_claims_in_a_marked_folder_replace_only_listed_files(tmp_path):
    folder = tmp_path / "samples"
    claim = claim_folder(folder, "sample", "--out", ["a.png"], vocabulary=PNGS)
    claim.begin(["a.png", "b.png"])
    (folder / "a.png").write_bytes(b"a")
    (folder / "b.png").write_bytes(b"b")
    (folder / "mine.txt").write_text("mine")
    claim.finish(["a.png", "b.png"])
    again = claim_folder(folder, "sample", "--out", ["a.png"], vocabulary=PNGS)
    again.finish(["a.png"])  # its own stale b.png goes, the user's file stays
    assert sorted(p.name for p in folder.iterdir()) == [MARKER, "a.png", "mine.txt"]
    with pytest.raises(BrainsynthError, match="mine.txt: exists and was not written"):
        claim_folder(folder, "sample", "--out", ["mine.txt"], vocabulary=PNGS)
    with pytest.raises(BrainsynthError, match="was made by 'brainsynth sample', not 'prepare'"):
        claim_folder(folder, "prepare", "OUT")


def test_single_files_in_shared_folders(tmp_path):
    (tmp_path / "metrics.json").write_text("{}")
    with pytest.raises(BrainsynthError, match="metrics.json: exists and was not written"):
        claim_file(tmp_path / "metrics.json", "evaluate", "--out")
    assert claim_file(tmp_path / "metrics.json", "evaluate", "--out", overwrite=True)
    claim = claim_files(tmp_path / "new", ["metrics.json"], "evaluate", "--out")
    claim.begin(["metrics.json"])
    (tmp_path / "new" / "metrics.json").write_text("{}")
    claim_files(tmp_path / "new", ["metrics.json"], "evaluate", "--out")  # its own: fine


@pytest.mark.parametrize(
    ("name", "problem"),
    [("../../x", "a path"), ("/tmp/y", "an absolute path"), ("a/b", "a path"),
     ("a\\b", "a path"), ("", "empty"), (".", "a path"), ("..", "a path"),
     ("nul\0x", "NUL"), ("x" * 65, "longer than 64"), (".hidden", "starts with '.'"),
     ("with space", "other characters"), ("t1.", "other characters"), (3, "not text")],
)  # fmt: skip
def test_a_name_from_data_becomes_a_path_only_when_it_is_a_safe_slug(tmp_path, name, problem):
    with pytest.raises(BrainsynthError, match=f"class name .* cannot name an output .*{problem}"):
        inside(tmp_path, name, "class name")
    assert list(tmp_path.iterdir()) == []


def test_safe_names_stay_inside_and_never_collide(tmp_path):
    assert inside(tmp_path, "with-tumor", "class name") == tmp_path / "with-tumor"
    assert inside(tmp_path, "T1_v2.0", "class name") == tmp_path / "T1_v2.0"
    assert distinct_names(["t2", "t1", "t2"], "class name") == ["t2", "t1"]
    with pytest.raises(BrainsynthError, match="'t1' and 'T1' would name the same output"):
        distinct_names(["t1", "T1"], "class name")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "t2").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(BrainsynthError, match="t2: is a symbolic link"):
        inside(tmp_path / "out", "t2", "class name")


def test_stale_entries_are_deleted_only_when_of_the_kind_the_command_writes(tmp_path):
    folder = tmp_path / "run"
    vocabulary = Vocabulary(files=("a.txt",), folders=("logs",), file_pattern=r"[0-9]+\.png")
    claim = claim_folder(folder, "train", "--out", ["a.txt", "logs"], vocabulary=vocabulary)
    claim.begin(["a.txt", "logs", "1.png", "2.png"])
    (folder / "logs").mkdir()
    (folder / "logs" / "x").write_text("x")
    (folder / "1.png").write_bytes(b"png")
    (folder / "2.png").mkdir()  # a folder where train writes a file: refused when claimed
    with pytest.raises(BrainsynthError, match="lists '2.png', a folder where 'brainsynth"):
        claim_folder(folder, "train", "--out", ["a.txt"], vocabulary=vocabulary)
    (folder / "2.png").rmdir()
    again = claim_folder(folder, "train", "--out", ["a.txt"], vocabulary=vocabulary)
    (folder / "2.png").symlink_to(tmp_path / "target.png")  # a link appearing after the claim
    (tmp_path / "target.png").write_bytes(b"precious")
    again.finish(["a.txt"])
    assert sorted(p.name for p in folder.iterdir()) == [MARKER, "2.png"]  # the link stays
    assert (tmp_path / "target.png").read_bytes() == b"precious"


def test_atomic_writes_replace_a_link_and_never_write_through_it(tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("precious")
    for write in (
        lambda path: write_text_atomic(path, "new"),
        lambda path: save_png(path, np.zeros((4, 4), np.float32)),
        lambda path: save_grid(path, np.zeros((2, 1, 4, 4), np.float32)),
    ):
        link = tmp_path / "out"
        link.symlink_to(target)
        write(link)
        assert not link.is_symlink() and target.read_text() == "precious"
        link.unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target.txt"]  # no temporary left
