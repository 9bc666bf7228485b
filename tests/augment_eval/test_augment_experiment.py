"""The experiment end to end on toy data: a known effect, refused runs, the files it writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from toy import toy_prepared, toy_source

from brainsynth.augment_eval.classic import ClassicAugment
from brainsynth.augment_eval.config import AugmentEvalConfig, ClassifierConfig
from brainsynth.augment_eval.experiment import run_experiment
from brainsynth.augment_eval.report import METRICS, bootstrap_metrics
from brainsynth.cli import main
from brainsynth.errors import BrainsynthError
from brainsynth.metrics.stats import percentile_interval


@pytest.fixture(scope="module")
def toy_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return toy_prepared(tmp_path_factory.mktemp("toy") / "prepared")


def toy_config(data: Path, out: Path, **changes) -> AugmentEvalConfig:
    settings = dict(
        data=str(data),
        out=str(out),
        sequence="t1",
        fractions=(0.1,),
        repeats=1,
        arms=("real", "real+synthetic"),
        synthetic_ratio=10.0,
        test_fraction=0.4,
        n_boot=500,
        classifier=ClassifierConfig(width=4, epochs=60, batch=16, lr=3e-3),
    )
    settings.update(changes)
    return AugmentEvalConfig(**settings)


@pytest.mark.slow
def test_informative_synthetic_data_beat_noise_by_a_clear_paired_margin(toy_data, tmp_path):
    """One real training patient (12 slices) plus 120 synthetic slices: toy slices drawn from
    the true distribution (informative) or uniform noise. Informative data teach the local
    spot across patient backgrounds: AUC about 0.99 against about 0.55 with noise in trial
    runs, so the paired bootstrap interval of the difference (6 test patients x 12 slices)
    must lie above 0."""
    config = toy_config(toy_data, tmp_path)
    informative = run_experiment(config, toy_source(True), tmp_path, progress=False)
    noise = run_experiment(config, toy_source(False), tmp_path, progress=False)
    assert np.array_equal(informative.test_labels, noise.test_labels)
    a = bootstrap_metrics(informative, config)[("real+synthetic", 0.1)]["auc"]
    b = bootstrap_metrics(noise, config)[("real+synthetic", 0.1)]["auc"]
    low, _ = percentile_interval(a - b)
    assert low > 0, (a.mean(), b.mean())
    assert np.array_equal(informative.scores[("real", 0.1, 0)], noise.scores[("real", 0.1, 0)])


def test_a_generator_trained_on_other_patients_is_refused(toy_data, tmp_path):
    config = toy_config(toy_data, tmp_path, classifier=ClassifierConfig(width=4, epochs=1))
    source = toy_source(True, extra_patients=("P03",))
    with pytest.raises(BrainsynthError, match="outside the 1 training patients.*P03"):
        run_experiment(config, source, tmp_path, progress=False)


def fake_run(folder: Path, data: Path | str, patients: list[str] | None) -> Path:
    folder.mkdir(parents=True)
    section = {"prepared": str(data), **({"patients": patients} if patients else {})}
    (folder / "config.yaml").write_text(yaml.safe_dump({"data": section}))
    return folder


def test_cli_refuses_runs_trained_on_patients_outside_the_fraction(toy_data, tmp_path, capsys):
    out = tmp_path / "plan"
    assert main(["augment-eval", "--data", str(toy_data), "--out", str(out), "--plan-only",
                 "--fractions", "0.5,1", "--repeats", "1"]) == 0  # fmt: skip
    splits = json.loads((out / "splits.json").read_text())
    half = splits["fractions"][0]["0.5"]
    good = fake_run(tmp_path / "good", toy_data, half)
    test_patient = fake_run(tmp_path / "leaky", toy_data, [*half, splits["test"][0]])
    everyone = fake_run(tmp_path / "all", toy_data, None)  # 0.1.0-style: the whole folder
    for bad in (test_patient, everyone):
        code = main(["augment-eval", "--data", str(toy_data), "--out", str(tmp_path / "x"),
                     "--fractions", "0.5,1", "--repeats", "1", "--no-progress",
                     "--runs", f"0.5={good}", "--runs", f"1={bad}"])  # fmt: skip
        assert code == 2
        message = capsys.readouterr().err
        assert f"--runs {bad}: trained on patient(s) outside" in message
        assert splits["test"][0] in message or splits["val"][0] in message
        assert not (tmp_path / "x" / "augment.json").exists()


def test_cli_writes_every_metric_with_its_interval(toy_data, tmp_path):
    out = tmp_path / "eval"
    code = main(["augment-eval", "--data", str(toy_data), "--out", str(out), "--sequence", "t1",
                 "--fractions", "0.5,1", "--repeats", "2", "--arms", "real,real+classic",
                 "--classifier-epochs", "2", "--classifier-width", "4", "--bootstrap", "200",
                 "--no-progress"])  # fmt: skip
    assert code == 0
    summary = json.loads((out / "augment.json").read_text())
    for arm in ("real", "real+classic"):
        for fraction in ("0.5", "1"):
            entry = summary["arms"][arm][fraction]
            for m in METRICS:
                assert 0 <= entry[m] <= 1 and entry[f"{m}_ci95"][0] <= entry[f"{m}_ci95"][1]
    assert "vs_real" in summary["arms"]["real+classic"]["1"]
    assert (out / "augment-auc.png").stat().st_size > 1000
    assert "| real+classic |" in (out / "augment.md").read_text()
    assert main(["augment-eval", "--data", str(toy_data), "--out", str(out)]) == 2


def test_classic_augmentation_keeps_the_background_black_and_repeats():
    images = torch.zeros(8, 2, 16, 16)
    images[:, :, 4:12, 3:13] = torch.linspace(0.2, 0.9, 8).view(8, 1, 1, 1)
    augment = ClassicAugment()
    first = augment(images, torch.Generator().manual_seed(0))
    again = augment(images, torch.Generator().manual_seed(0))
    assert torch.equal(first, again) and first.shape == images.shape
    assert first[:, :, 0, :].abs().max() == 0 and first.min() >= 0 and first.max() <= 1
    assert torch.equal(first[:, 0], first[:, 1])  # channels of one image move together
    assert not torch.equal(first, images)


def test_cli_end_to_end_trains_one_generator_per_fraction_on_its_patients_only(toy_data, tmp_path):
    """All four arms from the command line; each fraction's generator run records exactly
    that fraction's patients (never a validation or test patient); a run given with --runs
    and trained on the right patients is used instead of training one."""
    gen_config = tmp_path / "gen.yaml"
    gen_config.write_text(yaml.safe_dump({"model": {"options": {"width": 4}},
                                          "run": {"batch": 8, "log_every": 1}}))  # fmt: skip
    out = tmp_path / "plan"
    common = ["--data", str(toy_data), "--sequence", "t1", "--fractions", "0.3,1",
              "--repeats", "1", "--seed", "5"]  # fmt: skip
    assert main(["augment-eval", *common, "--out", str(out), "--plan-only"]) == 0
    splits = json.loads((out / "splits.json").read_text())
    small = splits["fractions"][0]["0.3"]
    given = tmp_path / "given"
    assert main(["train", "--data", str(toy_data), "--sequence", "t1", "--condition", "tumor",
                 "--out", str(given), "--iters", "2", "--batch", "8", "--width", "4",
                 "--patients", ",".join(small), "--no-progress"]) == 0  # fmt: skip
    out = tmp_path / "eval"
    code = main(["augment-eval", *common, "--out", str(out), "--gen-iters", "3",
                 "--gen-config", str(gen_config), "--classifier-epochs", "1",
                 "--classifier-width", "4", "--synthetic-ratio", "0.5", "--bootstrap", "100",
                 "--runs", f"0.3={given}", "--no-progress"])  # fmt: skip
    assert code == 0
    summary = json.loads((out / "augment.json").read_text())
    assert set(summary["arms"]) == {"real", "real+classic", "real+synthetic",
                                    "real+classic+synthetic"}  # fmt: skip
    for by_fraction in summary["arms"].values():
        for entry in by_fraction.values():
            assert all(f"{m}_ci95" in entry for m in METRICS)
    assert summary["arms"]["real+synthetic"]["1"]["synthetic_slices"] > 0
    assert not (out / "generators" / "f0.3-r0").exists()  # the given run was used
    trained = yaml.safe_load((out / "generators" / "f1-r0" / "config.yaml").read_text())
    assert sorted(trained["data"]["patients"]) == sorted(splits["train"])
    assert trained["data"]["condition"] == "tumor" and trained["run"]["iters"] == 3
    assert not set(trained["data"]["patients"]) & set(splits["test"] + splits["val"])
