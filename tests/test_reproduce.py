"""``brainsynth reproduce`` at tiny scale: a complete 12-row table, and an exact resume."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from blobs import blob_dataset, tiny_eval_config
from brainsynth.cli import main
from brainsynth.config import save_config
from brainsynth.paper import PAPER_TABLE1, Configuration, paper_configurations
from brainsynth.reproduce import ReproduceConfig, run_reproduce
from brainsynth.reproduce import run as reproduce


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("reproduce-data")
    return (
        blob_dataset(root / "p64", patients=6, slices=2, size=64),
        blob_dataset(root / "p128", patients=6, slices=2, size=128, seed=1),
    )


def tiny_config(datasets: tuple[Path, Path], out: Path) -> ReproduceConfig:
    return ReproduceConfig(
        data64=str(datasets[0]),
        data128=str(datasets[1]),
        out=str(out),
        iters=2,
        width=4,
        batch=8,
        n_samples=48,
        precision="fp32",
        device="cpu",
        evaluation=tiny_eval_config(),
    )


def test_tiny_reproduction_resumes_without_redoing_finished_configurations(
    datasets: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tiny_config(datasets, tmp_path / "table")
    real_run = reproduce.run_configuration
    calls: list[str] = []

    def interrupted(cfg: ReproduceConfig, configuration: Configuration) -> dict:
        if len(calls) == 2:
            raise KeyboardInterrupt  # the user pressed Ctrl-C during the third configuration
        calls.append(configuration.slug)
        return real_run(cfg, configuration)

    monkeypatch.setattr(reproduce, "run_configuration", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_reproduce(config)
    finished = {
        slug: (tmp_path / "table" / slug / "metrics.json").stat().st_mtime_ns for slug in calls
    }
    checkpoints = {
        slug: (tmp_path / "table" / slug / "run" / "checkpoints" / "last.pt").stat().st_mtime_ns
        for slug in calls
    }

    monkeypatch.setattr(reproduce, "run_configuration", real_run)
    eval_yaml = save_config(config.evaluation, tmp_path / "eval.yaml")
    argv = [
        "reproduce",
        "--data64",
        config.data64,
        "--data128",
        config.data128,
        "--out",
        config.out,
        "--iters",
        "2",
        "--width",
        "4",
        "--batch",
        "8",
        "--n-samples",
        "24",
        "--precision",
        "fp32",
        "--device",
        "cpu",
        "--eval-config",
        str(eval_yaml),
    ]
    assert main(argv) == 0  # the resumed run, through the command line
    assert "| Concat (WGAN, 64x64) |" in capsys.readouterr().out

    for slug in calls:  # neither retrained nor re-evaluated
        assert (tmp_path / "table" / slug / "metrics.json").stat().st_mtime_ns == finished[slug]
        checkpoint = tmp_path / "table" / slug / "run" / "checkpoints" / "last.pt"
        assert checkpoint.stat().st_mtime_ns == checkpoints[slug]
    for configuration in paper_configurations():  # the paper's setting: no EMA, no DiffAugment
        run = yaml.safe_load(
            (tmp_path / "table" / configuration.slug / "run" / "config.yaml").read_text()
        )
        assert run["ema"]["half_life_kimg"] == 0 and run["augment"]["policy"] == []
        assert run["objective"]["name"] == configuration.gan and run["objective"]["r1_gamma"] == 0
    with (tmp_path / "table" / "table1.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["configuration"] for r in rows] == list(PAPER_TABLE1)
    assert all(r["status"] == "done" for r in rows)
    assert all(0.0 <= float(r["c2st_accuracy"]) <= 1.0 for r in rows)
    markdown = (tmp_path / "table" / "table1.md").read_text()
    assert markdown.count("\n| ") == 12  # header + separator + 12 rows, one per configuration
    assert "the paper's finding" in markdown and "pending" not in markdown
    html = (tmp_path / "table" / "table1.html").read_text()
    assert html.count("<tr>") == 13


def test_swapped_datasets_are_refused_before_any_training(
    datasets: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "reproduce",
        "--data64",
        str(datasets[1]),
        "--data128",
        str(datasets[0]),
        "--out",
        str(tmp_path / "table"),
    ]
    assert main(argv) == 2
    assert "images are 128x128, expected 64x64" in capsys.readouterr().err
    assert not (tmp_path / "table").exists()
