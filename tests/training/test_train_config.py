"""The nested training config: YAML round trip, defaults, flags over --config, old configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from brainsynth.cli import main
from brainsynth.config import config_to_dict, load_config, save_config
from brainsynth.errors import BrainsynthError
from brainsynth.models.upgrade import nest_flat_config
from brainsynth.training import (
    AugmentConfig,
    DataConfig,
    EmaConfig,
    ModelConfig,
    ObjectiveConfig,
    RunConfig,
    TrainConfig,
)
from brainsynth.training.launch import complete, load_run_config


def test_yaml_round_trip_with_absolute_paths(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = TrainConfig(
        DataConfig("prepared", "FLAIR"),
        RunConfig("runs/a", iters=7, seed=3),
        ModelConfig(latent=16, options={"width": 8}),
        ObjectiveConfig(name="hinge", r1_gamma=1.0, r1_every=4),
        ema=EmaConfig(half_life_kimg=10),
        augment=AugmentConfig("translation,cutout"),
    )
    assert config.data.prepared == str(tmp_path / "prepared") and config.data.sequence == "flair"
    assert config.run.out == str(tmp_path / "runs" / "a")
    assert config.augment.policy == ("translation", "cutout")
    path = save_config(config, tmp_path / "config.yaml")
    assert load_config(TrainConfig, path) == config
    resolved = complete(config)
    assert resolved.optimizer.kind == "adam" and resolved.optimizer.lr == 2e-4
    assert resolved.objective.n_critic == 1 and resolved.objective.r1_gamma == 1.0
    assert resolved.model.options == {"width": 8, "disc_norm": "batch", "label_embedding": 16}
    # an objective the family does not have is refused when the run is completed
    lsgan = TrainConfig(config.data, config.run, objective=ObjectiveConfig(name="lsgan"))
    with pytest.raises(BrainsynthError, match="unknown --objective 'lsgan': --arch dcgan trains"):
        complete(lsgan)


@pytest.mark.parametrize(
    ("section", "value", "message"),
    [
        (AugmentConfig, {"policy": ("color",)}, "unknown --augment policy 'color'"),
        (ObjectiveConfig, {"name": "LS GAN"}, "unknown --objective 'LS GAN'"),
        (ModelConfig, {"arch": "biggan"}, "unknown architecture 'biggan'"),
        (EmaConfig, {"half_life_kimg": -1}, "--ema-half-life must be at least 0"),
    ],
)
def test_bad_values_are_one_line_errors(section, value, message) -> None:
    with pytest.raises(BrainsynthError, match=message):
        section(**value)


def test_flags_override_the_config_file(blob_prepared, tmp_path: Path) -> None:
    base = TrainConfig(
        DataConfig(str(blob_prepared), "t2"),
        RunConfig(str(tmp_path / "ignored"), iters=2, batch=8, progress=False, log_every=1),
        ModelConfig(options={"width": 4}),
        ObjectiveConfig(name="wgan", n_critic=2),
    )
    file = save_config(base, tmp_path / "base.yaml")
    run = tmp_path / "run"
    argv = ["train", "--config", str(file), "--out", str(run), "--gan", "hinge", "--r1", "0.5",
            "--r1-every", "2", "--iters", "3", "--arch-option", "disc_norm=none",
            "--ema-half-life", "0.01", "--augment", "intensity",
            "--background-floor", "0.1"]  # fmt: skip
    assert main(argv) == 0
    written = yaml.safe_load((run / "config.yaml").read_text())
    assert written["data"]["sequence"] == "t2" and written["run"]["batch"] == 8
    assert written["run"]["iters"] == 3 and written["run"]["out"] == str(run)
    assert written["objective"] == {"name": "hinge", "n_critic": 2, "clip": None,
                                    "gp_lambda": None, "r1_gamma": 0.5, "r1_every": 2}  # fmt: skip
    assert written["model"]["options"] == {"width": 4, "disc_norm": "none", "label_embedding": 16}
    assert written["ema"]["half_life_kimg"] == 0.01 and written["augment"]["policy"] == [
        "intensity"
    ]
    assert yaml.safe_load((run / "sampling.yaml").read_text())["background_floor"] == 0.1
    # The run's own config.yaml trains the same run again.
    again = tmp_path / "again"
    assert main(["train", "--config", str(run / "config.yaml"), "--out", str(again)]) == 0
    rewritten = yaml.safe_load((again / "config.yaml").read_text())
    assert {**rewritten, "run": None} == {**written, "run": None}


def test_resume_refuses_flags_it_would_ignore(tmp_path: Path, capsys) -> None:
    assert main(["train", "--resume", str(tmp_path), "--lr", "0.1"]) == 2
    assert "only --iters, --max-minutes and --no-progress apply (got --lr)" in (
        capsys.readouterr().err
    )


def test_a_0_1_0_flat_config_reads_as_nested(tmp_path: Path) -> None:
    flat = {"data": "/d", "gan": "wgan-gp", "sequence": "t1", "out": "/o", "iters": 5,
            "batch": 8, "seed": 1, "width": 4, "latent": 7, "precision": "fp32",
            "device": "cpu", "lr": 1e-4, "betas": [0.0, 0.9], "n_critic": 5, "clip": None,
            "gp_lambda": 10.0, "disc_norm": "layer", "max_seconds": None,
            "checkpoint_every": 3, "sample_every": 3, "log_every": 2,
            "background_floor": 0.2, "progress": False}  # fmt: skip
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(flat))
    config = load_run_config(tmp_path)
    assert config.objective.name == "wgan-gp" and config.objective.gp_lambda == 10.0
    assert config.model.options == {"width": 4, "disc_norm": "layer"} and config.model.latent == 7
    assert config.optimizer.betas == (0.0, 0.9) and config.run.iters == 5
    assert "background_floor" not in str(config_to_dict(config))
    assert nest_flat_config(flat)["data"] == {"prepared": "/d", "sequence": "t1"}
