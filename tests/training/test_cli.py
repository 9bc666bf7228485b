"""``brainsynth train`` / ``brainsynth sample`` end to end, errors and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from brainsynth.cli import main
from brainsynth.training import is_finished

FAST = ["--width", "4", "--batch", "8", "--log-every", "2", "--sample-every", "4",
        "--checkpoint-every", "4", "--no-progress"]  # fmt: skip


def test_train_resume_and_sample(blob_prepared, tmp_path: Path, capsys) -> None:
    run, out = tmp_path / "run", tmp_path / "samples"
    args = ["--data", str(blob_prepared), "--gan", "dcgan", "--sequence", "flair"]
    assert main(["train", *args, "--out", str(run), "--iters", "4", *FAST]) == 0
    assert main(["train", "--resume", str(run), "--iters", "6"]) == 0
    assert is_finished(run)
    grid = tmp_path / "grid.png"
    cmd = ["sample", str(run), "--n", "5", "--out", str(out), "--seed", "3", "--grid", str(grid)]
    assert main(cmd) == 0
    assert sorted(p.name for p in out.glob("*.png")) == [f"{i:06d}.png" for i in range(5)]
    samples = np.load(out / "samples.npy")
    assert samples.shape == (5, 1, 16, 16) and samples.dtype == np.float32
    info = json.loads((out / "sampling.json").read_text())
    assert info["iteration"] == 6 and info["seed"] == 3 and info["background_floor"] == 0.0
    assert info["objective"] == "dcgan" and "gan" not in info  # the key 0.1-0.3 wrote
    assert (
        info["checkpoint"].endswith("last.pt") and "clip((G(z) + 1) / 2" in info["output_mapping"]
    )
    assert grid.is_file()
    assert "finished at iteration 6" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--sequence", "t3"], "unknown --sequence 't3'"),
        (["--data", "/nonexistent/prepared"], "no such prepared dataset"),
    ],
)
def test_bad_train_arguments(blob_prepared, tmp_path, capsys, argv, message) -> None:
    base = {"--data": str(blob_prepared), "--gan": "dcgan", "--sequence": "t1",
            "--out": str(tmp_path / "run")}  # fmt: skip
    base.update(dict(zip(argv[::2], argv[1::2], strict=True)))
    args = [x for kv in base.items() for x in kv]
    assert main(["train", *args, "--iters", "1", *FAST]) == 2
    assert message in capsys.readouterr().err


def test_objective_and_its_old_name_gan_are_one_flag() -> None:
    from brainsynth.cli import build_parser
    from brainsynth.commands.train import config_dict

    parser = build_parser()
    for flag in ("--objective", "--gan"):
        args = parser.parse_args(["train", flag, "hinge", "--data", "d", "--sequence", "t1"])
        assert config_dict(args)["objective"] == {"name": "hinge"}, flag


def test_missing_arguments_and_runs(tmp_path: Path, capsys) -> None:
    assert main(["train", "--gan", "dcgan"]) == 2
    assert "missing --data, --sequence, --out" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_sigint_saves_a_checkpoint_and_exits_cleanly(blob_prepared, tmp_path: Path) -> None:
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "brainsynth", "train", "--data", str(blob_prepared), "--gan",
           "dcgan", "--sequence", "t1", "--out", str(run), "--iters", "1000000", *FAST]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 180  # start-up alone can take a minute on a loaded machine
    while not (run / "metrics.jsonl").is_file() or not (run / "metrics.jsonl").stat().st_size:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()  # never wait on a run of a million iterations for its output
            pytest.fail(f"training did not start logging: {proc.communicate(timeout=60)}")
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "SIGINT received" in stdout and "brainsynth train --resume" in stdout
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert state["iteration"] >= 2
    assert not is_finished(run)
