"""The flow-matching family end to end through the CLI: train, resume exactly, sample with
--steps and the solver, export and sample identically, and torchrun like one process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from brainsynth.cli import main
from brainsynth.models.checkpoint import load_checkpoint
from brainsynth.sampling import generate
from state_tensors import all_tensors

TINY = ["--arch", "flow", "--arch-option", "base_channels=8", "--arch-option",
        "channel_mult=[1, 2]", "--arch-option", "attention_resolutions=[8]", "--arch-option",
        "head_channels=8", "--arch-option", "norm_groups=4", "--arch-option", "sample_steps=3",
        "--arch-option", "label_dropout=0.3", "--batch", "8", "--log-every", "2",
        "--sample-every", "3", "--checkpoint-every", "3", "--ema-half-life", "1", "--device",
        "cpu", "--no-progress"]  # fmt: skip


def train_cli(data: Path, out: Path, iters: int, *extra: str) -> Path:
    args = ["train", "--data", str(data), "--sequence", "concat", "--condition", "sequence",
            "--out", str(out), "--iters", str(iters), *TINY, *extra]  # fmt: skip
    assert main(args) == 0
    return out


@pytest.mark.numerics
def test_flow_trains_resumes_exactly_and_samples(blob_prepared, tmp_path):
    whole = train_cli(blob_prepared, tmp_path / "whole", 6)
    part = train_cli(blob_prepared, tmp_path / "part", 3)
    assert main(["train", "--resume", str(part), "--iters", "6"]) == 0
    a = load_checkpoint(whole / "checkpoints" / "last.pt")
    b = load_checkpoint(part / "checkpoints" / "last.pt")
    assert a["arch"] == "flow" and a["train"]["objective"]["name"] == "flow-matching"
    assert a["shape"]["latent"] is None
    tensors_a, tensors_b = all_tensors(a["trainer"]), all_tensors(b["trainer"])
    assert tensors_a.keys() == tensors_b.keys() and len(tensors_a) > 20
    for key in tensors_a:
        assert torch.equal(tensors_a[key], tensors_b[key]), key
    records = [json.loads(x) for x in (part / "metrics.jsonl").read_text().splitlines()]
    assert [r["iter"] for r in records] == [2, 3, 4, 6] and records[0]["loss"] > 0

    sample = ["sample", str(whole), "--n", "6", "--seed", "2"]
    runs = {}
    for name, extra in {"default": [], "steps": ["--steps", "5"], "batched": ["--batch", "4"],
                        "euler": ["--sampler-option", "solver=euler"]}.items():  # fmt: skip
        assert main([*sample, "--out", str(tmp_path / name), *extra]) == 0
        runs[name] = np.load(tmp_path / name / "samples.npy")
    assert runs["default"].shape == (6, 1, 16, 16)
    # images are independent of their batch (float rounding of other kernel shapes aside)
    assert np.allclose(runs["default"], runs["batched"], atol=1e-5, rtol=0)
    assert not np.array_equal(runs["default"], runs["steps"])
    assert not np.array_equal(runs["default"], runs["euler"])
    info = json.loads((tmp_path / "steps" / "sampling.json").read_text())
    assert info["steps"] == 5 and info["solver"] == "heun" and info["guidance"] == 1.0
    assert info["objective"] == "flow-matching" and info["weights"] == "ema"
    info = json.loads((tmp_path / "euler" / "sampling.json").read_text())
    assert info["steps"] == 3 and info["solver"] == "euler"
    bad = ["--out", str(tmp_path / "bad"), "--sampler-option", "solver=rk4"]
    assert main([*sample, *bad]) == 2


@pytest.mark.numerics
def test_a_flow_export_samples_like_its_run(blob_prepared, tmp_path):
    import brainsynth

    run = train_cli(blob_prepared, tmp_path / "run", 2)
    export = tmp_path / "export"
    assert main(["export", str(run), str(export)]) == 0
    card = (export / "README.md").read_text()
    assert "Flow matching generator of Concat" in card and "3 steps by default" in card
    assert "from a flow model trained" in card and "- flow\n" in card
    for settings in ({}, {"label": "t2", "guidance": 2.0, "steps": 4},
                     {"options": {"solver": "euler"}}):  # fmt: skip
        expected = generate(run, n=5, seed=7, **settings)
        assert np.array_equal(generate(export, n=5, seed=7, **settings), expected)
        api = brainsynth.load_generator(export).generate(5, seed=7, **settings)
        assert np.array_equal(api, expected)


@pytest.mark.slow
def test_flow_two_processes_reach_the_weights_of_one(blob_prepared, tmp_path):
    """The times, noise and label dropout are drawn for the global batch and split among the
    ranks, so 2 processes reach the weights (and EMA) of 1 (the margins of test_ddp)."""
    from test_ddp import TOLERANCE, differences

    from torchrun_harness import run_torchrun

    def args(out: Path) -> list[str]:
        return ["brainsynth", "train", "--data", str(blob_prepared), "--sequence", "concat",
                "--condition", "sequence", "--out", str(out), "--iters", "8", "--seed", "0",
                *TINY]  # fmt: skip

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(args(tmp_path / "one")[1:]) == 0
    finally:
        torch.set_num_threads(before)
    result = run_torchrun(args(tmp_path / "two"), nproc=2, module=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    largest, relative = differences(tmp_path / "one", tmp_path / "two")
    print(f"flow: largest {largest:.2e}, relative {relative:.2e}")
    assert largest < TOLERANCE and relative < TOLERANCE
