"""``brainsynth vtt create / invite / results`` end to end through the CLI."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from vtt_helpers import ADMIN_TOKEN, answer_over_http, fake_images

from brainsynth.cli import main
from brainsynth.imageio import save_png
from brainsynth.vtt.app import create_app


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    assert main(["vtt", *argv]) == 0
    return capsys.readouterr().out.strip().splitlines()


@pytest.fixture
def fake_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "fake"
    folder.mkdir()
    for i, image in enumerate(fake_images(6)):
        save_png(folder / f"{i:03d}.png", image)
    return folder


def test_create_invite_answer_results(
    blob_prepared: Path, tmp_path: Path, fake_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "vtt.db")
    study = _run(
        capsys,
        "create",
        "--db",
        db,
        "--name",
        "Concat (WGAN, 16x16)",
        "--real",
        str(blob_prepared),
        "--sequence",
        "concat",
        "--fake",
        str(fake_folder),
        "--n-real",
        "4",
        "--n-fake",
        "4",
        "--seed",
        "1",
    )[-1]
    links = [
        _run(capsys, "invite", "--db", db, "--study", study, "--rater", r)[-1]
        for r in ("dr a", "dr b")
    ]
    assert all(link.startswith("/r/") and len(link) == 3 + 43 for link in links)
    client = TestClient(create_app(db, ADMIN_TOKEN))
    answer_over_http(client, links[0][3:], "real")
    answer_over_http(client, links[1][3:], "synthetic")

    table = _run(capsys, "results", "--db", db, "--format", "table")
    assert "Accuracy (%)" in table[0] and "Real as Synt" in table[0] and "Synt as Synt" in table[0]
    pooled = table[2].split()
    assert pooled[:4] == ["Concat", "(WGAN,", "16x16)", "all"]
    assert "50.0" in pooled  # one rater said all real, one all synthetic: 8 of 16 correct
    assert any("(cohen)" in line for line in table)

    result = json.loads(
        "\n".join(_run(capsys, "results", "--db", db, "--study", study, "--format", "json"))
    )
    for key in (
        "accuracy",
        "real_as_real",
        "real_as_synthetic",
        "synthetic_as_real",
        "synthetic_as_synthetic",
        "n",
        "p_value",
        "wilson_ci",
        "kappa",
        "median_response_s",
    ):
        assert key in result
    assert (result["n"], result["accuracy"]) == (16, 0.5)
    assert [r["name"] for r in result["raters"]] == ["dr a", "dr b"]
    assert result["raters"][0]["real_as_real"] == 4 and result["raters"][0]["accuracy"] == 0.5

    rows = list(
        csv.DictReader(
            io.StringIO("\n".join(_run(capsys, "results", "--db", db, "--format", "csv")))
        )
    )
    assert len(rows) == 16
    assert {r["answer"] for r in rows if r["rater"] == "dr b"} == {"synthetic"}
    assert sum(int(r["correct"]) for r in rows) == 8


def test_create_from_npy_draws_real_half_for_concat(
    blob_prepared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    np.save(tmp_path / "samples.npy", fake_images(8))
    db = str(tmp_path / "vtt.db")
    out = _run(
        capsys,
        "create",
        "--db",
        db,
        "--name",
        "T1c",
        "--real",
        str(blob_prepared),
        "--sequence",
        "t1c",
        "--fake",
        str(tmp_path / "samples.npy"),
        "--n-real",
        "3",
        "--n-fake",
        "2",
    )
    assert len(out[-1]) == 16
    listed = json.loads("\n".join(_run(capsys, "results", "--db", db, "--format", "json")))
    assert listed[0]["sequence"] == "t1c" and listed[0]["n_items"] == 5


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["invite", "--db", "{db}", "--study", "0123456789abcdef", "--rater", "x"], "no such"),
        (["results", "--db", "{tmp}/missing.db"], "no such study database"),
        (
            [
                "create",
                "--db",
                "{db}",
                "--name",
                "x",
                "--real",
                "{tmp}/nope",
                "--sequence",
                "t1",
                "--fake",
                "{tmp}/nope",
            ],
            "nope",
        ),
    ],
)
def test_errors_are_one_line(
    small_study, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv, message
) -> None:
    argv = [a.format(db=small_study.db, tmp=tmp_path) for a in argv]
    assert main(["vtt", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("brainsynth: error:") and message in err and "\n" not in err
