"""brainsynth.outputs on its own: markers, owned files, shared folders."""

from __future__ import annotations

import pytest

from brainsynth.errors import BrainsynthError
from brainsynth.outputs import MARKER, claim_file, claim_files, claim_folder


def test_claims_in_a_marked_folder_replace_only_listed_files(tmp_path):
    folder = tmp_path / "samples"
    claim = claim_folder(folder, "sample", "--out", ["a.png"])
    claim.begin(["a.png", "b.png"])
    (folder / "a.png").write_bytes(b"a")
    (folder / "b.png").write_bytes(b"b")
    (folder / "mine.txt").write_text("mine")
    claim.finish(["a.png", "b.png"])
    again = claim_folder(folder, "sample", "--out", ["a.png"])
    again.finish(["a.png"])  # its own stale b.png goes, the user's file stays
    assert sorted(p.name for p in folder.iterdir()) == [MARKER, "a.png", "mine.txt"]
    with pytest.raises(BrainsynthError, match="mine.txt: exists and was not written"):
        claim_folder(folder, "sample", "--out", ["mine.txt"])
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
