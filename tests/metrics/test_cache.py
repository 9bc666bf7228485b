"""The prepared set's evaluate-cache/: entries from several evaluations accumulate (up to its
limit), and a marker it did not write is never trusted (issue 27)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from brainsynth.metrics import cache as cache_module
from brainsynth.metrics.cache import open_cache


def prepared(tmp_path: Path) -> Path:
    (tmp_path / "dataset.json").write_text("{}")
    return tmp_path


def entry_names(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "evaluate-cache").iterdir() if not p.name.startswith("."))


def test_each_evaluation_adds_its_entries_and_the_oldest_go_beyond_the_limit(tmp_path, monkeypatch):
    root = prepared(tmp_path)
    for rows in (2, 3):  # two evaluations, each opening the cache anew
        cache, _ = open_cache(root)
        values = cache.array("features", np.zeros((rows, 4)), lambda x, r=rows: x + r)
        assert values.shape == (rows, 4)
    assert len(entry_names(root)) == 2
    again, _ = open_cache(root)  # read back, not computed
    assert again.array("features", np.zeros((3, 4)), lambda x: x * np.nan)[0, 0] == 3

    monkeypatch.setattr(cache_module, "MAX_ENTRIES", 3)
    for rows in (4, 5, 6):
        cache, _ = open_cache(root)
        cache.array("features", np.zeros((rows, 4)), lambda x: x)
    kept = {np.load(root / "evaluate-cache" / name).shape[0] for name in entry_names(root)}
    assert kept == {4, 5, 6}  # the three newest


def test_a_marker_listing_names_the_cache_never_writes_is_not_trusted(tmp_path):
    root = prepared(tmp_path)
    cache, _ = open_cache(root)
    cache.array("features", np.zeros((2, 4)), lambda x: x)
    folder = root / "evaluate-cache"
    marker = json.loads((folder / ".brainsynth-owner.json").read_text())
    (tmp_path / "precious.txt").write_text("mine")
    marker["files"] += ["../precious.txt"]
    (folder / ".brainsynth-owner.json").write_text(json.dumps(marker))
    cache, _ = open_cache(root)
    values = cache.array("features", np.zeros((3, 4)), lambda x: x + 1)  # computed, not cached
    assert values[0, 0] == 1 and len(entry_names(root)) == 1
    assert (tmp_path / "precious.txt").read_text() == "mine"
