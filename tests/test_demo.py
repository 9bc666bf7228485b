"""``brainsynth demo`` at tiny scale: every section of the report, and a ready VTT study."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from blobs import tiny_eval_config
from brainsynth.cli import main
from brainsynth.demo import DemoConfig, run_demo
from brainsynth.vtt.scoring import list_studies


def test_tiny_demo_writes_a_complete_report_and_a_ready_study(
    tmp_path: Path, phantom_cohort_6: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    shutil.copytree(phantom_cohort_6, out / "phantom")  # reused: PHANTOM.json matches
    config = DemoConfig(
        out=str(out),
        minutes=0.1,
        patients=6,
        width=4,
        batch=16,
        n_samples=48,
        eval_reserve_s=0,
        min_train_s=2,
        log_every=1,
        evaluation=tiny_eval_config(),
        vtt_n=6,
    )
    report = run_demo(config)
    printed = capsys.readouterr().out
    assert "reusing the phantom cohort" in printed
    assert f"Prepared slices: {out / 'prepared64'}" in printed

    html = report.read_text()
    assert "Phantom data." in html and "not from\npatients" in html
    for section in (
        "DCGAN: Concat 64x64",
        "WGAN: Concat 64x64",
        "Realism, diversity",
        "What each number means",
        "Visual Turing Test",
    ):
        assert section in html
    assert len(re.findall(r'src="data:image/png;base64,', html)) >= 4  # real + fake per GAN
    assert html.count("<polyline") >= 4  # two loss curves per GAN
    row = re.search(r"<td class=\"name\">c2st_accuracy</td>(.*?)</tr>", html, re.S)
    assert row and len(re.findall(r"\d+\.\d \[", row.group(1))) == 2  # value [95% CI] per GAN
    assert (out / "config.yaml").is_file() and (out / "wgan" / "metrics.json").is_file()

    studies = list_studies(out / "vtt.sqlite")
    assert len(studies) == 1 and studies[0]["raters"] == 1 and studies[0]["n_items"] == 12
    assert f"brainsynth vtt serve --db {out / 'vtt.sqlite'}" in printed
    assert re.search(r"http://127\.0\.0\.1:8000/r/[\w-]{40,}", printed)


def test_demo_refuses_a_non_positive_budget(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--minutes", "0"]) == 2
    assert "--minutes must be positive" in capsys.readouterr().err
