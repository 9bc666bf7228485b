"""An exported generator in a Visual Turing Test, and the test's results in its model card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from vtt_helpers import ADMIN_TOKEN, answer_over_http

from brainsynth.cli import main
from brainsynth.vtt.app import create_app
from export_helpers import tiny_conditional_run


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_conditional_run(tmp_path_factory.mktemp("vtt-export"))


def test_vtt_create_and_card_results(run: Path, tmp_path: Path, capsys) -> None:
    exported = tmp_path / "export"
    assert main(["export", str(run), str(exported)]) == 0
    real = yaml.safe_load((run / "config.yaml").read_text())["data"]["prepared"]
    db = str(tmp_path / "vtt.db")
    argv = ["vtt", "create", "--db", db, "--name", "T2 export", "--real", real, "--sequence",
            "t2", "--fake", str(exported), "--n-real", "4", "--n-fake", "4"]  # fmt: skip
    assert main(argv) == 0
    study = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["vtt", "invite", "--db", db, "--study", study, "--rater", "dr a"]) == 0
    link = capsys.readouterr().out.strip().splitlines()[-1]
    answer_over_http(TestClient(create_app(db, ADMIN_TOKEN)), link[3:], "real")
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"sequence": "t2", "image_size": 16, "n_real": 12,
                                   "n_fake": 12, "c2st_accuracy": 0.91, "c2st_ci95": [0.8, 0.97],
                                   "fid": 12.5, "fid_ci95": [10.0, 15.0], "novel_ci95": [0, 1],
                                   "novel": 0.5}))  # fmt: skip
    out = tmp_path / "with-results"
    argv = ["export", str(run), str(out), "--evaluation", str(metrics), "--vtt-db", db,
            "--study", study]  # fmt: skip
    assert main(argv) == 0
    card = (out / "README.md").read_text()
    assert "| C2ST accuracy (CNN; 0.5 = indistinguishable) | 0.91 | [0.8, 0.97] |" in card
    assert "| novel | 0.5 | [0, 1] |" in card  # metrics added later appear too
    assert "## Visual Turing Test" in card and "| Accuracy | 50.0 %" in card
    assert "| Real as real / as synthetic | 4 / 0 |" in card
