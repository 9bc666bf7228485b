"""Issue 11 for training: no foreign folder becomes a run, a failing --resume changes nothing,
and the CLI, YAML configs and the Python API refuse the same nonsense."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from blobs import blob_dataset
from brainsynth.cli import main
from brainsynth.errors import BrainsynthError
from brainsynth.training.config import ObjectiveConfig, OptimizerConfig, RunConfig
from cli_run import one_line_error, read_only, run_cli, tree

TINY = ["--iters", "2", "--batch", "8", "--width", "4", "--no-progress", "--log-every", "1"]


def train_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--data", str(data), "--sequence", "t1", "--out", str(out), *TINY, *extra]


def test_train_refuses_the_prepared_folder_and_a_users_folder(blob_prepared, tmp_path, capsys):
    before = tree(blob_prepared)
    assert main(train_args(blob_prepared, blob_prepared)) == 2
    err = capsys.readouterr().err
    assert "prepared: exists and holds files 'brainsynth train' did not write" in err
    assert "--overwrite" in err
    assert tree(blob_prepared) == before
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "metrics.jsonl").write_text('{"iter": 1, "my": "numbers"}\n')
    assert main(train_args(blob_prepared, mine)) == 2
    assert "mine: exists and holds files 'brainsynth train' did not write (metrics.jsonl)" in (
        capsys.readouterr().err
    )
    assert (mine / "metrics.jsonl").read_text() == '{"iter": 1, "my": "numbers"}\n'
    assert sorted(p.name for p in mine.iterdir()) == ["metrics.jsonl"]


def test_train_into_read_only_or_undecodable_out_is_one_line(blob_prepared, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    with read_only(locked):
        result = run_cli(train_args(blob_prepared, locked / "run"), unprivileged=True)
    assert "folder is not writable" in one_line_error(result)
    weird = bytes(tmp_path) + b"/run-\xff"
    args = [a.encode() for a in train_args(blob_prepared, tmp_path / "x")]
    args[args.index(b"--out") + 1] = weird
    assert "is not valid UTF-8 text" in one_line_error(run_cli(args))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["locked", "prepared"]


@pytest.fixture
def finished_run(blob_prepared: Path, tmp_path: Path) -> Path:
    run = tmp_path / "runs" / "r1"
    assert main(train_args(blob_prepared, run)) == 0
    assert (run / "done.json").is_file()
    return run


def failed_resume_changes_nothing(run: Path, capsys, message: str) -> None:
    before = tree(run)
    assert main(["train", "--resume", str(run), "--iters", "4", "--no-progress"]) == 2
    assert message in capsys.readouterr().err
    assert tree(run) == before  # done.json, config.yaml, metrics.jsonl: byte for byte


def test_resume_with_data_prepared_again_at_another_size(finished_run, blob_prepared, capsys):
    blob_dataset(blob_prepared, size=32)
    failed_resume_changes_nothing(
        finished_run,
        capsys,
        "trained on 1-channel 16 px images, but the data now gives 1-channel 32 px",
    )


def test_resume_with_a_checkpoint_of_renamed_keys(finished_run, capsys):
    last = finished_run / "checkpoints" / "last.pt"
    state = torch.load(last, weights_only=True)
    generator = state["trainer"]["generator"]
    state["trainer"]["generator"] = {f"renamed.{k}": v for k, v in generator.items()}
    torch.save(state, last)
    failed_resume_changes_nothing(finished_run, capsys, "does not match the model")


def test_resume_with_the_data_moved_away(finished_run, blob_prepared, tmp_path, capsys):
    blob_prepared.rename(tmp_path / "elsewhere")
    failed_resume_changes_nothing(finished_run, capsys, "no such prepared dataset folder")


def test_config_stores_absolute_paths_and_resume_works_from_anywhere(
    blob_prepared, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    assert main(train_args(Path("prepared"), Path("runs/r2"))) == 0
    config = yaml.safe_load((tmp_path / "runs" / "r2" / "config.yaml").read_text())
    assert config["data"]["prepared"] == str(blob_prepared)
    assert config["run"]["out"] == str(tmp_path / "runs" / "r2")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["train", "--resume", str(tmp_path / "runs" / "r2"), "--iters", "3",
                 "--no-progress"]) == 0  # fmt: skip
    assert "finished at iteration 3" in capsys.readouterr().out


BAD = [
    (["--lr", "-1"], {"optimizer": {"lr": -1}}, lambda: OptimizerConfig(lr=-1), "--lr must be"),
    (["--lr", "nan"], {"optimizer": {"lr": math.nan}}, lambda: OptimizerConfig(lr=math.nan),
     "--lr must be"),
    (["--n-critic", "0"], {"objective": {"n_critic": 0}}, lambda: ObjectiveConfig(n_critic=0),
     "--n-critic must be at least 1"),
    (["--clip", "-1"], {"objective": {"clip": -1}}, lambda: ObjectiveConfig(clip=-1),
     "--clip must be"),
    (["--gp-lambda", "-5"], {"objective": {"gp_lambda": -5}},
     lambda: ObjectiveConfig(gp_lambda=-5), "--gp-lambda must be at least 0"),
    (["--max-minutes", "-1"], {"run": {"max_seconds": -60}},
     lambda: RunConfig(out="x", max_seconds=-60), "--max-minutes (run.max_seconds) must be"),
]  # fmt: skip


@pytest.mark.parametrize(("flags", "section", "api", "message"), BAD)
def test_cli_yaml_and_api_refuse_the_same(blob_prepared, tmp_path, capsys, flags, section, api,
                                          message):  # fmt: skip
    out = tmp_path / "run"
    assert main([*train_args(blob_prepared, out), *flags]) == 2
    assert message in capsys.readouterr().err
    config = {"data": {"prepared": str(blob_prepared), "sequence": "t1"},
              "run": {"out": str(out)}}  # fmt: skip
    for key, values in section.items():
        config.setdefault(key, {}).update(values)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["train", "--config", str(path), "--no-progress"]) == 2
    assert message in capsys.readouterr().err
    with pytest.raises(BrainsynthError, match=message.replace("(", r"\(").replace(")", r"\)")):
        api()
    assert not out.exists()


def test_a_batch_larger_than_the_data_is_warned_about(tmp_path, capsys):
    data = blob_dataset(tmp_path / "p140", patients=20, slices=7)
    args = train_args(data, tmp_path / "run")
    args[args.index("--batch") + 1] = "1000"
    args[args.index("--iters") + 1] = "1"
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "warning: --batch 1000 is larger than the 140 training images" in err


def test_non_power_of_two_data_is_refused_before_the_run_folder_exists(tmp_path, capsys):
    data = blob_dataset(tmp_path / "p24", size=24)
    assert np.load(data / "images.npy").shape[-1] == 24
    assert main(train_args(data, tmp_path / "run")) == 2
    assert "image side 24: image sides must be a power of two" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
