"""Table 1 files from per-configuration metrics: shape, order and the findings line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from brainsynth.paper import PAPER_TABLE1, paper_configurations
from brainsynth.report.table1 import write_table1
from brainsynth.reproduce import ReproduceConfig


def fake_metrics(accuracy: float, ms_ssim_fake: float = 0.3) -> dict:
    return {
        "c2st_accuracy": accuracy,
        "c2st_ci95": [accuracy - 0.05, accuracy + 0.05],
        "c2st_control_accuracy": 0.6,
        "c2st_gap": accuracy - 0.6,
        "c2st_knn_accuracy": 0.7,
        "fid": 12.5,
        "kid": 0.01,
        "precision": 0.8,
        "recall": 0.7,
        "ms_ssim_real": 0.3,
        "ms_ssim_fake": ms_ssim_fake,
        "memorized_fraction": 0.0,
        "n_real": 100,
        "n_fake": 100,
    }


def write_all(out: Path, dcgan_acc: float, wgan_acc: float, collapse: bool) -> None:
    for c in paper_configurations():
        folder = out / c.slug
        folder.mkdir(parents=True)
        acc = dcgan_acc if c.gan == "dcgan" else wgan_acc
        ms = 0.9 if (collapse and c.slug == "concat-dcgan-64") else 0.3
        (folder / "metrics.json").write_text(json.dumps(fake_metrics(acc, ms)))


def config(out: Path) -> ReproduceConfig:
    return ReproduceConfig(data64="p64", data128="p128", out=str(out))


def test_twelve_rows_in_the_papers_order(tmp_path: Path) -> None:
    write_all(tmp_path, 0.9, 0.7, collapse=True)
    write_table1(config(tmp_path), paper_configurations())
    with (tmp_path / "table1.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["configuration"] for r in rows] == list(PAPER_TABLE1)
    assert len((tmp_path / "table1.csv").read_text().strip().splitlines()) == 13
    assert float(rows[0]["c2st_accuracy"]) == 0.9
    assert float(rows[0]["c2st_accuracy_ci95_low"]) == 0.9 - 0.05
    md = (tmp_path / "table1.md").read_text()
    assert "| T1 (DCGAN, 128x128) | 90.0 [85.0, 95.0]" in md
    assert "on 6 of 6 image sets: the paper's finding holds" in md
    assert "Concat 64x64 (synthetic far less diverse than real): the paper's finding holds" in md
    assert '<td class="name">Concat (WGAN, 64x64)</td>' in (tmp_path / "table1.html").read_text()


def test_findings_that_do_not_hold_are_reported(tmp_path: Path) -> None:
    write_all(tmp_path, 0.6, 0.95, collapse=False)
    write_table1(config(tmp_path), paper_configurations())
    md = (tmp_path / "table1.md").read_text()
    assert "on 0 of 6 image sets: the paper's finding does not hold" in md
    assert "Concat 64x64 (synthetic far less diverse than real): the paper's finding does not" in md


def test_ties_are_not_wins_and_are_counted(tmp_path: Path) -> None:
    write_all(tmp_path, 1.0, 1.0, collapse=False)
    write_table1(config(tmp_path), paper_configurations())
    assert (
        "on 0 of 6 image sets (6 tied): the paper's finding does not hold"
        in (tmp_path / "table1.md").read_text()
    )


def test_partial_results_leave_pending_rows(tmp_path: Path) -> None:
    first = paper_configurations()[0]
    (tmp_path / first.slug).mkdir()
    (tmp_path / first.slug / "metrics.json").write_text(json.dumps(fake_metrics(0.8)))
    write_table1(config(tmp_path), paper_configurations())
    with (tmp_path / "table1.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["status"] for r in rows].count("done") == 1
    assert "Findings pending: 1 of 12" in (tmp_path / "table1.md").read_text()
