"""torchrun with 2 CPU processes (gloo) trains like one process with the same global batch.

Each test launches ``torchrun --standalone --nproc-per-node 2 -m brainsynth train`` on a tiny
16x16 dataset and compares with an in-process, single-process run.

Margins. Two processes add the per-image gradients (and synchronised batch norm its
statistics) in another order, so the weights differ by float32 rounding. Adam magnifies
the rounding of a gradient element close to zero up to lr / eps times, so single elements
differ more than the bulk: over 8 iterations we saw at most 3e-6 (one element; 2e-7
elsewhere) and a difference of all network tensors of at most 4e-6 of how far training
moved them. The tests allow 1e-4 on both (25x), while a real difference of semantics
(per-process batch statistics, the negative control) is 0.04 of the movement (400x more).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest
import torch
import yaml

from brainsynth.errors import BrainsynthError
from brainsynth.models.checkpoint import load_checkpoint
from brainsynth.training.config import (
    AugmentConfig,
    DataConfig,
    EmaConfig,
    ModelConfig,
    ObjectiveConfig,
    RunConfig,
    TrainConfig,
)
from brainsynth.training.launch import resume_training, run_training
from torchrun_harness import run_torchrun, start_torchrun, worker_pids

pytestmark = pytest.mark.slow

TOLERANCE = 1e-4  # float32 reordering after a few iterations: see the module docstring
COMMON = {"sequence": "t1", "batch": 8, "width": 4, "iters": 8, "log_every": 2,
          "sample_every": 4, "checkpoint_every": 4, "seed": 0}  # fmt: skip


def cli_args(data: Path, out: Path, gan: str, extra: tuple[str, ...] = (), **changes) -> list:
    settings = {**COMMON, **changes}
    args = ["brainsynth", "train", "--data", data, "--out", out, "--gan", gan, "--device", "cpu",
            "--no-progress"]  # fmt: skip
    for key, value in settings.items():
        if value is not None:  # None: leave the setting out
            args += [f"--{key.replace('_', '-')}", value]
    return args + list(extra)


def one_process(data: Path, out: Path, gan: str, augment=(), ema=0.0, **changes) -> Path:
    """The same run as :func:`cli_args` describes, in this process."""
    settings = {**COMMON, **changes}
    run = RunConfig(out=str(out), iters=settings["iters"], batch=settings["batch"],
                    seed=settings["seed"], device="cpu", progress=False,
                    log_every=settings["log_every"], sample_every=settings["sample_every"],
                    checkpoint_every=settings["checkpoint_every"])  # fmt: skip
    config = TrainConfig(
        data=DataConfig(prepared=str(data), sequence=settings["sequence"]),
        run=run,
        model=ModelConfig(options={"width": settings["width"]}),
        objective=ObjectiveConfig(name=gan),
        augment=AugmentConfig(policy=tuple(augment)),
        ema=EmaConfig(half_life_kimg=ema),
    )
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run_training(config).run
    finally:
        torch.set_num_threads(before)


def test_conditional_two_processes_reach_the_weights_of_one(blob_prepared, tmp_path):
    """Class labels (here each Concat image's sequence) travel with their images' rows."""
    from brainsynth.cli import main

    extra = ("--sequence", "concat", "--condition", "sequence")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        args = cli_args(blob_prepared, tmp_path / "one", "dcgan", extra)
        assert main([str(a) for a in args[1:]]) == 0
    finally:
        torch.set_num_threads(before)
    args = cli_args(blob_prepared, tmp_path / "two", "dcgan", extra)
    result = run_torchrun(args, nproc=2, module=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "embed" in " ".join(network_tensors(tmp_path / "two" / "checkpoints" / "last.pt"))
    largest, relative = differences(tmp_path / "one", tmp_path / "two")
    assert largest < TOLERANCE and relative < TOLERANCE


def network_tensors(checkpoint: Path) -> dict[str, torch.Tensor]:
    """Every floating-point tensor of the networks (and EMA) in ``checkpoint``."""
    trainer = load_checkpoint(checkpoint)["trainer"]
    found = {}
    for part in ("generator", "discriminator", "generator_ema"):
        for key, value in trainer.get(part, {}).items():
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                found[f"{part}.{key}"] = value
    return found


def differences(reference: Path, other: Path) -> tuple[float, float]:
    """The largest element difference of the networks' final tensors, and the L2 norm of
    the difference relative to how far ``reference`` moved them since its first periodic
    checkpoint."""
    ta, tb = (
        network_tensors(reference / "checkpoints" / "last.pt"),
        network_tensors(other / "checkpoints" / "last.pt"),
    )
    assert ta.keys() == tb.keys()
    first = sorted((reference / "checkpoints").glob("iter-*.pt"))[0]
    earlier = network_tensors(first)
    largest = max((ta[k] - tb[k]).abs().max().item() for k in ta)
    gap = sum((ta[k].double() - tb[k].double()).square().sum() for k in ta).sqrt()
    moved = sum((ta[k].double() - earlier[k].double()).square().sum() for k in ta).sqrt()
    return largest, float(gap / moved)


def files(run: Path) -> list[str]:
    return sorted(p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file()
                  and "tb" not in p.parts)  # fmt: skip


@pytest.mark.parametrize(
    ("gan", "augment", "ema"),
    [("dcgan", ("translation", "cutout", "intensity"), 0.01), ("wgan-gp", (), 0.0)],
    ids=["dcgan-augment-ema", "wgan-gp"],
)
def test_two_processes_reach_the_weights_of_one(gan, augment, ema, blob_prepared, tmp_path):
    single = one_process(blob_prepared, tmp_path / "one", gan, augment, ema)
    extra = ("--augment", ",".join(augment), "--ema-half-life", str(ema)) if augment else ()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    args = cli_args(blob_prepared, tmp_path / "two", gan, extra)
    result = run_torchrun(args, nproc=2, module=True, cwd=cwd)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    two = tmp_path / "two"
    largest, relative = differences(single, two)
    assert largest < TOLERANCE and relative < TOLERANCE
    # One run folder's worth of files, by rank 0 alone; nothing anywhere else.
    assert files(two) == files(single)
    assert len(list((two / "tb").glob("events.out.tfevents.*"))) == 1
    assert list(cwd.iterdir()) == []
    assert result.stdout.count("finished at iteration 8") == 1
    # How it ran is recorded, and the logged losses are the global batch's.
    run = yaml.safe_load((two / "config.yaml").read_text())["run"]
    assert (run["world_size"], run["per_rank_batch"], run["batch"]) == (2, 4, 8)
    done = json.loads((two / "done.json").read_text())
    assert (done["world_size"], done["per_rank_batch"]) == (2, 4)
    logged = [json.loads(line) for line in (two / "metrics.jsonl").read_text().splitlines()]
    reference = [json.loads(line) for line in (single / "metrics.jsonl").read_text().splitlines()]
    assert [r["iter"] for r in logged] == [r["iter"] for r in reference]
    for mine, theirs in zip(logged, reference, strict=True):
        assert mine["loss_d"] == pytest.approx(theirs["loss_d"], abs=1e-4)


ADA = ("--augment", "translation,cutout,intensity", "--ada-target", "0", "--ada-kimg", "0.1")
SG2_TINY = {"channel_base": 64, "channel_max": 8, "w_dim": 8, "mapping_layers": 2}
STYLEGAN2 = ("--arch", "stylegan2", "--latent", "16", "--r1", "1", "--ema-half-life", "0.05",
             *(f"--arch-option={k}={v}" for k, v in SG2_TINY.items()))  # fmt: skip


@pytest.mark.parametrize(
    ("gan", "extra", "width"),
    [("dcgan", ADA, 4), ("nonsaturating", STYLEGAN2 + ADA, None)],
    ids=["dcgan-ada", "stylegan2-ada"],
)
def test_adaptive_augmentation_and_stylegan2_two_processes_equal_one(
    gan, extra, width, blob_prepared, tmp_path
):
    """ADA's r_t is summed over the ranks and its gates drawn for the global batch;
    StyleGAN2's noise inputs are the global batch's draw (and its minibatch-stddev groups
    the same on a per-rank batch of 4), so 2 processes reach the weights of 1."""
    from brainsynth.cli import main

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        args = cli_args(blob_prepared, tmp_path / "one", gan, extra, width=width)
        assert main([str(a) for a in args[1:]]) == 0
    finally:
        torch.set_num_threads(before)
    args = cli_args(blob_prepared, tmp_path / "two", gan, extra, width=width)
    result = run_torchrun(args, nproc=2, module=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    largest, relative = differences(tmp_path / "one", tmp_path / "two")
    print(f"{gan} {extra[:2]}: largest {largest:.2e}, relative {relative:.2e}")
    assert largest < TOLERANCE and relative < TOLERANCE
    ada = [load_checkpoint(tmp_path / run / "checkpoints" / "last.pt")["trainer"]["ada"]
           for run in ("one", "two")]  # fmt: skip
    assert ada[0]["p"] > 0.0  # ADA did augment (target 0: p rises while D is confident)
    assert ada[1]["p"] == pytest.approx(ada[0]["p"], abs=1e-12)
    assert ada[1]["last_heuristic"] == pytest.approx(ada[0]["last_heuristic"], abs=1e-12)


def test_resume_on_the_same_processes_is_exact(blob_prepared, tmp_path):
    """A 2-process run resumed on 2 processes from iteration 4 equals, bit for bit, the
    same run uninterrupted to 8 (same reductions in the same order)."""
    extra = ("--augment", "translation,cutout,intensity", "--ema-half-life", "0.01")
    whole = tmp_path / "whole"
    result = run_torchrun(cli_args(blob_prepared, whole, "dcgan", extra), nproc=2, module=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    resumed = tmp_path / "resumed"
    shutil.copytree(whole, resumed)
    (resumed / "done.json").unlink()
    for name in ("last.pt", "iter-000008.pt"):
        (resumed / "checkpoints" / name).unlink()
    shutil.copyfile(resumed / "checkpoints" / "iter-000004.pt", resumed / "checkpoints" / "last.pt")
    args = ["brainsynth", "train", "--resume", resumed, "--no-progress"]
    result = run_torchrun(args, nproc=2, module=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    a, b = (load_checkpoint(run / "checkpoints" / "last.pt") for run in (whole, resumed))
    assert a["iteration"] == b["iteration"] == 8
    for part in ("generator", "discriminator", "generator_ema"):
        for key, value in a["trainer"][part].items():
            assert torch.equal(value, b["trainer"][part][key]), f"{part}.{key}"
    assert (resumed / "metrics.jsonl").read_text().count('"iter"') == 4


def test_local_batch_norm_differs_and_keeps_its_process_count(blob_prepared, tmp_path):
    """The negative control: per-process batch statistics are a different model."""
    single = one_process(blob_prepared, tmp_path / "one", "dcgan")
    args = cli_args(blob_prepared, tmp_path / "two", "dcgan", ("--batch-norm", "local"))
    result = run_torchrun(args, nproc=2, module=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert differences(single, tmp_path / "two")[1] > 10 * TOLERANCE
    with pytest.raises(BrainsynthError, match="batch_norm: local.*Resume it with 2 process"):
        resume_training(tmp_path / "two", iters=10, progress=False)


@pytest.mark.parametrize("target", ["rank 1", "torchrun"])
def test_sigterm_saves_once_and_resumes_elsewhere(target, blob_prepared, tmp_path):
    """SIGTERM to rank 1 only, or to torchrun (as SLURM and scancel do; it passes it on to
    every rank): the ranks stop after the same iteration and rank 0 saves once; the
    checkpoint resumes in one process and matches a run that was never interrupted."""
    run = tmp_path / "two"
    args = cli_args(blob_prepared, run, "dcgan", iters=100000, log_every=1,
                    checkpoint_every=100000, sample_every=100000)  # fmt: skip
    agent = start_torchrun(args, nproc=2, module=True)
    try:
        pids = worker_pids(agent)
        metrics = run / "metrics.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and agent.poll() is None:
            if metrics.is_file() and len(metrics.read_text().splitlines()) >= 3:
                break
            time.sleep(0.2)
        os.kill(pids[1] if target == "rank 1" else agent.pid, signal.SIGTERM)
        output, _ = agent.communicate(timeout=120)
    finally:
        if agent.poll() is None:
            agent.kill()
    assert agent.returncode != 0  # a signal stop is not success, for schedulers' sake
    assert "SIGTERM received (rank 1)" in output
    if target == "torchrun":
        assert "SIGTERM received (rank 0)" in output
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    stopped = int(state["iteration"])
    assert 3 <= stopped < 100000 and not (run / "done.json").exists()
    assert output.count(f"stopped at iteration {stopped}/100000 (SIGTERM)") == 1
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.pt"]

    result = resume_training(run, iters=stopped + 2, progress=False)
    assert result.iteration == stopped + 2 and result.reason == "done"
    assert yaml.safe_load((run / "config.yaml").read_text())["run"]["world_size"] == 1
    uninterrupted = one_process(blob_prepared, tmp_path / "one", "dcgan", iters=stopped + 2,
                                checkpoint_every=(stopped + 2) // 2,
                                sample_every=100000)  # fmt: skip
    largest, relative = differences(uninterrupted, run)
    assert largest < TOLERANCE and relative < TOLERANCE


def test_batch_not_divisible_by_processes_is_one_line(blob_prepared, tmp_path):
    args = cli_args(blob_prepared, tmp_path / "two", "dcgan", batch=7)
    result = run_torchrun(args, nproc=2, module=True)
    assert result.returncode != 0
    errors = [line for line in (result.stdout + result.stderr).splitlines()
              if line.startswith("brainsynth: error:")]  # fmt: skip
    assert errors == [
        "brainsynth: error: --batch 7 is the global batch and must be divisible by the "
        "number of processes (2); try --batch 6"
    ]
    assert not (tmp_path / "two").exists()


DDPM_TINY = ("--arch", "ddpm", "--ema-half-life", "0.05", "--condition", "sequence",
             "--sequence", "concat",
             *(f"--arch-option={k}={v}" for k, v in {
                 "base_channels": 8, "channel_mult": "[1, 2]", "attention_resolutions": "[8]",
                 "head_channels": 8, "norm_groups": 4, "sample_steps": 2,
                 "label_dropout": 0.3}.items()))  # fmt: skip


def test_diffusion_two_processes_reach_the_weights_of_one(blob_prepared, tmp_path):
    """The denoiser's timesteps, noise and label dropout are drawn for the global batch and
    split among the ranks, so 2 processes reach the weights (and EMA) of 1."""
    from brainsynth.cli import main

    def args(out: Path) -> list[str]:
        settings = {k: v for k, v in COMMON.items() if k not in ("width", "sequence")}
        flags = [f"--{k.replace('_', '-')}={v}" for k, v in settings.items()]
        return ["brainsynth", "train", "--data", str(blob_prepared), "--out", str(out),
                "--device", "cpu", "--no-progress", *flags, *DDPM_TINY]  # fmt: skip

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(args(tmp_path / "one")[1:]) == 0
    finally:
        torch.set_num_threads(before)
    result = run_torchrun(args(tmp_path / "two"), nproc=2, module=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "generator_ema.unet.conv_in.conv.weight" in network_tensors(
        tmp_path / "two" / "checkpoints" / "last.pt"
    )
    largest, relative = differences(tmp_path / "one", tmp_path / "two")
    print(f"ddpm: largest {largest:.2e}, relative {relative:.2e}")
    assert largest < TOLERANCE and relative < TOLERANCE
