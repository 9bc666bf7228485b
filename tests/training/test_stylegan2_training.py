"""``--arch stylegan2`` end to end: training with R1, EMA, DiffAugment and ADA, exact resume,
sampling, evaluation and a Visual Turing Test through the registry; presets; CPU budgets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from blobs import blob_dataset
from brainsynth.cli import main
from brainsynth.models.checkpoint import load_checkpoint
from brainsynth.sampling import generate
from brainsynth.training import (
    AugmentConfig,
    DataConfig,
    EmaConfig,
    ModelConfig,
    ObjectiveConfig,
    OptimizerConfig,
    RunConfig,
    TrainConfig,
    resume,
    train,
)
from state_tensors import all_tensors

TINY_OPTIONS = {"channel_base": 64, "channel_max": 8, "w_dim": 8, "mapping_layers": 2}


def sg2_config(data: Path, out: Path, sequence: str = "t1", **run) -> TrainConfig:
    """StyleGAN2 with every realism tool on: R1 every 2 steps, EMA, three DiffAugment
    policies under ADA (fast adjustment so p moves within a few steps)."""
    run = {"iters": 6, "batch": 8, "progress": False, "log_every": 2, "sample_every": 3,
           "checkpoint_every": 3, **run}  # fmt: skip
    return TrainConfig(
        data=DataConfig(str(data), sequence),
        model=ModelConfig(arch="stylegan2", latent=16, options=TINY_OPTIONS),
        objective=ObjectiveConfig(r1_gamma=1.0, r1_every=2),
        optimizer=OptimizerConfig(),
        ema=EmaConfig(half_life_kimg=0.05),
        augment=AugmentConfig(("translation", "cutout", "intensity"), ada_target=0.0, ada_kimg=0.1),
        run=RunConfig(out=str(out), **run),
    )


def test_stylegan2_resumes_exactly(blob_prepared: Path, tmp_path: Path) -> None:
    whole = train(sg2_config(blob_prepared, tmp_path / "whole", iters=7))
    part = train(sg2_config(blob_prepared, tmp_path / "part", iters=4))
    resume(part, iters=7)
    a = load_checkpoint(whole / "checkpoints" / "last.pt")
    b = load_checkpoint(part / "checkpoints" / "last.pt")
    assert a["arch"] == "stylegan2" and a["arch_config"]["channel_max"] == 8
    assert a["train"]["objective"]["name"] == "nonsaturating"  # the architecture's default
    tensors_a, tensors_b = all_tensors(a["trainer"]), all_tensors(b["trainer"])
    assert tensors_a.keys() == tensors_b.keys() and len(tensors_a) > 50
    assert "generator_ema.const" in tensors_a and "generator._extra_state.noise_rng" in tensors_a
    for key in tensors_a:
        assert torch.equal(tensors_a[key], tensors_b[key]), key
    assert a["trainer"]["ada"] == {**b["trainer"]["ada"], "rng": a["trainer"]["ada"]["rng"]}
    assert a["trainer"]["ada"]["steps"] == 7
    logs = [json.loads(x) for x in (whole / "metrics.jsonl").read_text().splitlines()]
    assert "r1" in logs[0] or "r1" in logs[1]  # R1 on every second discriminator step
    assert {"ada_p", "loss_d", "loss_g"} <= set(logs[-1])


def test_stylegan2_learns_a_black_background(tmp_path: Path) -> None:
    """On blobs on an exactly black background, the clamped output draws exact zeros there
    (real skull-stripped slices are exactly 0 outside the brain)."""
    data = blob_dataset(tmp_path / "prepared", patients=4, slices=8, size=16)
    config = sg2_config(data, tmp_path / "run", iters=200, log_every=100, sample_every=1000,
                        checkpoint_every=1000)  # fmt: skip
    config.augment = AugmentConfig()
    config.ema = EmaConfig(half_life_kimg=0.0)
    config.objective = ObjectiveConfig(r1_gamma=0.1, r1_every=4)
    images = generate(train(config), n=64, seed=1)
    real = np.load(data / "images.npy")[:, 0]
    background = (real == 0).mean(axis=0) == 1  # black in every real image
    assert background.sum() > 20
    # Measured share of exactly black pixels there: 0.09 untrained, 0.66 after 120 and 0.88
    # after 240 iterations; half is far from both ends.
    assert (images[:, 0][:, background] == 0).mean() > 0.5


@pytest.mark.parametrize("size", [16, 32])
def test_stylegan2_samples_evaluates_and_enters_a_vtt_study(size: int, tmp_path: Path, capsys):
    data = blob_dataset(tmp_path / "prepared", patients=12, slices=6, size=size)
    run = train(sg2_config(data, tmp_path / "run", sequence="concat", iters=2))
    samples = tmp_path / "samples"
    assert main(["sample", str(run), "--n", "40", "--out", str(samples), "--seed", "3"]) == 0
    record = json.loads((samples / "sampling.json").read_text())
    assert record["weights"] == "ema" and "exact black" in record["output_mapping"]
    images = np.load(samples / "samples.npy")
    assert images.shape == (40, 1, size, size) and images.min() >= 0 and images.max() <= 1
    metrics = tmp_path / "eval" / "metrics.json"
    code = main(["evaluate", "--real", str(data), "--sequence", "concat", "--fake", str(run),
                 "--n-fake", "48", "--out", str(metrics), "--metrics", "distances,prdc",
                 "--threads", "1", "--quiet"])  # fmt: skip
    assert code == 0
    assert json.loads(metrics.read_text())["n_fake"] == 48
    db = str(tmp_path / "vtt.db")
    code = main(["vtt", "create", "--db", db, "--name", "Concat (StyleGAN2)", "--real",
                 str(data), "--sequence", "concat", "--fake", str(samples), "--n-real", "4",
                 "--n-fake", "4"])  # fmt: skip
    assert code == 0
    capsys.readouterr()


def test_presets_and_flags_on_top(tmp_path: Path) -> None:
    data = blob_dataset(tmp_path / "prepared", patients=4, slices=4, size=16)
    run = tmp_path / "run"
    code = main(["train", "--preset", "recommended", "--data", str(data), "--sequence", "t1",
                 "--out", str(run), "--iters", "1", "--batch", "8", "--no-progress",
                 "--arch-option", "channel_base=64", "--arch-option", "channel_max=8",
                 "--precision", "fp32"])  # fmt: skip
    assert code == 0
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["model"]["arch"] == "stylegan2"
    assert config["model"]["options"]["channel_base"] == 64  # the flag wins
    assert config["model"]["options"]["w_dim"] == 128  # the preset's
    assert config["run"]["batch"] == 8 and config["run"]["precision"] == "fp32"
    assert config["ema"]["half_life_kimg"] > 0 and config["augment"]["policy"]
    paper = tmp_path / "paper"
    code = main(["train", "--preset", "paper-dcgan", "--data", str(data), "--sequence", "t1",
                 "--out", str(paper), "--iters", "1", "--arch-option", "width=4",
                 "--no-progress"])  # fmt: skip
    assert code == 0
    config = yaml.safe_load((paper / "config.yaml").read_text())
    assert config["model"]["arch"] == "dcgan" and config["objective"]["name"] == "dcgan"
    assert config["run"]["batch"] == 64 and config["ema"]["half_life_kimg"] == 0
    assert config["optimizer"]["lr"] == 2e-4


def test_an_option_of_another_architecture_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    data = blob_dataset(tmp_path / "prepared", patients=4, slices=4, size=16)
    code = main(["train", "--preset", "recommended", "--data", str(data), "--sequence", "t1",
                 "--out", str(tmp_path / "run"), "--width", "4"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "'stylegan2' has no setting width" in err and "channel_base" in err


def test_cpu_time_budget(blob_prepared: Path, tmp_path: Path) -> None:
    config = sg2_config(blob_prepared, tmp_path / "run", iters=10**6, max_seconds=0.0,
                        budget_clock="cpu")  # fmt: skip
    run = train(config)
    assert load_checkpoint(run / "checkpoints" / "last.pt")["iteration"] == 1
    assert yaml.safe_load((run / "config.yaml").read_text())["run"]["budget_clock"] == "cpu"


def test_ada_needs_a_policy_and_a_valid_target() -> None:
    from brainsynth.errors import BrainsynthError

    with pytest.raises(BrainsynthError, match="needs augmentations"):
        AugmentConfig((), ada_target=0.6)
    with pytest.raises(BrainsynthError, match=r"must be in \[0, 1\]"):
        AugmentConfig(("translation",), ada_target=2.0)
