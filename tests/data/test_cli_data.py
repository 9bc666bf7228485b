"""``brainsynth phantom`` then ``brainsynth prepare`` end to end, through the CLI entry point."""

from __future__ import annotations

import numpy as np
from PIL import Image

from brainsynth.cli import main
from brainsynth.data.dataset import load_prepared


def test_phantom_then_prepare_end_to_end(tmp_path, capsys):
    cohort, out, preview = tmp_path / "cohort", tmp_path / "prepared", tmp_path / "preview.png"
    assert (
        main(["phantom", str(cohort), "--patients", "1", "--layout", "brats2015", "--quiet"]) == 0
    )
    said = capsys.readouterr().out
    assert "PHANTOM" in said and str(cohort) in said
    assert (cohort / "HGG" / "brats_phantom_pat0001_1").is_dir()
    argv = ["prepare", str(cohort), str(out), "--size", "32", "--preview", str(preview), "--quiet"]
    assert main(argv) == 0
    said = capsys.readouterr().out
    assert "prepared 70 PHANTOM slices from 1 cases (0 skipped)" in said
    data = load_prepared(out)
    assert data.images.shape == (70, 4, 32, 32)
    assert data.meta["layouts"] == {"brats_phantom_pat0001_1": "brats2015"}
    assert data.meta["phantom"] is True and "PHANTOM" in data.meta["note"]
    assert [int(r["slice"]) for r in data.slices] == list(range(80, 150))
    assert max(int(r["tumor_pixels"]) for r in data.slices) > 0
    assert np.asarray(data.images).mean() > 10
    with Image.open(preview) as img:
        assert img.size == (1 * 34 + 2, 4 * 34 + 2)


def test_cli_errors_are_one_line_without_traceback(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["prepare", str(tmp_path / "empty"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"brainsynth: error: {tmp_path / 'empty'}: folder is empty"
    assert main(["phantom", str(tmp_path / "c"), "--patients", "0"]) == 2
    assert "--patients must be at least 1" in capsys.readouterr().err


def test_prepare_help_explains_the_defaults(capsys):
    try:
        main(["prepare", "--help"])
    except SystemExit as exc:
        assert exc.code == 0
    text = capsys.readouterr().out
    for needle in ("80:150", "sagittal", "--tumor", "--grade", "--preview", "anterior left"):
        assert needle in text
