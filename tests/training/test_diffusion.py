"""The diffusion family end to end through the CLI: train, resume, sample, VTT, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from brainsynth.cli import main
from brainsynth.errors import BrainsynthError
from brainsynth.models.checkpoint import load_checkpoint
from brainsynth.models.generator import Condition
from brainsynth.sampling import generate, load_generator
from brainsynth.sampling.images import draw_noise, run_generator
from state_tensors import all_tensors

TINY = ["--arch", "ddpm", "--arch-option", "base_channels=8", "--arch-option",
        "channel_mult=[1, 2]", "--arch-option", "attention_resolutions=[8]", "--arch-option",
        "head_channels=8", "--arch-option", "norm_groups=4", "--arch-option", "sample_steps=3",
        "--batch", "8", "--log-every", "2", "--sample-every", "3", "--checkpoint-every", "3",
        "--ema-half-life", "1", "--device", "cpu", "--no-progress"]  # fmt: skip


def train_cli(data: Path, out: Path, iters: int, *extra: str) -> Path:
    args = ["train", "--data", str(data), "--sequence", "concat", "--condition", "sequence",
            "--out", str(out), "--iters", str(iters), *TINY, *extra]  # fmt: skip
    assert main(args) == 0
    return out


@pytest.mark.numerics
def test_diffusion_trains_resumes_exactly_and_samples(blob_prepared, tmp_path):
    whole = train_cli(blob_prepared, tmp_path / "whole", 6)
    part = train_cli(blob_prepared, tmp_path / "part", 3)
    assert main(["train", "--resume", str(part), "--iters", "6"]) == 0
    a = load_checkpoint(whole / "checkpoints" / "last.pt")
    b = load_checkpoint(part / "checkpoints" / "last.pt")
    assert a["arch"] == "ddpm" and a["train"]["objective"]["name"] == "denoising"
    assert {"generator", "generator_ema", "optimizer", "noise"} <= set(a["trainer"])
    tensors_a, tensors_b = all_tensors(a["trainer"]), all_tensors(b["trainer"])
    assert tensors_a.keys() == tensors_b.keys() and len(tensors_a) > 20
    for key in tensors_a:
        assert torch.equal(tensors_a[key], tensors_b[key]), key
    assert (whole / "samples" / "grid-000006.png").is_file()
    records = [json.loads(x) for x in (part / "metrics.jsonl").read_text().splitlines()]
    assert [r["iter"] for r in records] == [2, 3, 4, 6] and records[0]["loss"] > 0

    out, again = tmp_path / "s1", tmp_path / "s2"
    sample = ["sample", str(whole), "--n", "6", "--seed", "2", "--steps", "4"]
    assert main([*sample, "--out", str(out)]) == 0
    assert main([*sample, "--out", str(again), "--batch", "6"]) == 0
    first, second = np.load(out / "samples.npy"), np.load(again / "samples.npy")
    assert first.shape == (6, 1, 16, 16) and np.array_equal(first, second)
    info = json.loads((out / "sampling.json").read_text())
    assert info["steps"] == 4 and info["guidance"] == 1.0 and info["weights"] == "ema"
    ids = [row.split(",")[1] for row in (out / "labels.csv").read_text().splitlines()[1:]]
    assert ids == ["0", "1", "2", "3", "0", "1"]

    # --label picks the class, --guidance changes the images; both are recorded.
    guided = tmp_path / "guided"
    assert main([*sample, "--out", str(guided), "--label", "t2", "--guidance", "2"]) == 0
    info = json.loads((guided / "sampling.json").read_text())
    assert info["label"] == "t2" and info["guidance"] == 2.0
    generator, _ = load_generator(whole, device="cpu")
    noise = draw_noise(generator, 6, 2)
    t2 = torch.full((6,), 2)
    expected = run_generator(generator, noise, Condition(t2), 6, steps=4, guidance=2.0)
    assert np.array_equal(np.load(guided / "samples.npy"), expected)
    plain = run_generator(generator, noise, Condition(t2), 6, steps=4, guidance=1.0)
    t1 = run_generator(generator, noise, Condition(torch.full((6,), 1)), 6, steps=4, guidance=2.0)
    assert not np.array_equal(plain, expected) and not np.array_equal(t1, expected)
    # a setting its sampler does not have is refused in one line, before any image
    bad = ["--out", str(tmp_path / "bad"), "--sampler-option", "solver=heun"]
    assert main([*sample, *bad]) == 2 and not (tmp_path / "bad" / "samples.npy").exists()

    # `evaluate --fake RUN` samples a run folder through the pipeline, at the model's steps.
    from brainsynth.pipeline import load_fake_images

    fake, record = load_fake_images(whole, 4, seed=0, device="cpu")
    assert fake.shape == (4, 1, 16, 16) and record["steps"] == 3 and record["arch"] == "ddpm"

    # A VTT study takes the samples folder as its synthetic images.
    db = tmp_path / "vtt.db"
    assert main(["vtt", "create", "--db", str(db), "--name", "ddpm", "--real",
                 str(blob_prepared), "--sequence", "concat", "--fake", str(out), "--n-real",
                 "4", "--n-fake", "4", "--seed", "1"]) == 0  # fmt: skip


@pytest.mark.numerics
def test_a_diffusion_export_samples_like_its_run(blob_prepared, tmp_path):
    import brainsynth

    run = train_cli(blob_prepared, tmp_path / "run", 2)
    export = tmp_path / "export"
    assert main(["export", str(run), str(export)]) == 0
    card = (export / "README.md").read_text()
    assert "Diffusion (DDPM) generator of Concat" in card and "3 steps by default" in card
    assert "from a diffusion model trained" in card and "- diffusion\n" in card
    for settings in ({}, {"label": "t2", "guidance": 2.0, "steps": 4}):
        expected = generate(run, n=5, seed=7, **settings)
        assert np.array_equal(generate(export, n=5, seed=7, **settings), expected)
        api = brainsynth.load_generator(export).generate(5, seed=7, **settings)
        assert np.array_equal(api, expected)


def test_sampler_settings_are_refused_for_gans(blob_prepared, tmp_path, tiny):
    from brainsynth.training import train

    run = train(tiny(blob_prepared, tmp_path / "gan", iters=1))
    with pytest.raises(BrainsynthError, match="--steps: this generator samples in one"):
        generate(run, n=2, steps=10)
    assert main(["sample", str(run), "--n", "2", "--out", str(tmp_path / "s"),
                 "--guidance", "2"]) == 2  # fmt: skip
    with pytest.raises(BrainsynthError, match="--solver: this generator samples in one"):
        generate(run, n=2, options={"solver": "heun"})


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--gan", "hinge"], "trains with its own loss"), (["--augment", "cutout"], "--augment")],
)
def test_gan_settings_are_refused_for_diffusion(blob_prepared, tmp_path, extra, message, capsys):
    assert main(["train", "--data", str(blob_prepared), "--sequence", "t1", "--out",
                 str(tmp_path / "run"), *TINY, *extra]) == 2  # fmt: skip
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_a_gan_refuses_the_denoising_objective(blob_prepared, tmp_path, capsys):
    assert main(["train", "--data", str(blob_prepared), "--sequence", "t1", "--out",
                 str(tmp_path / "run"), "--gan", "denoising"]) == 2  # fmt: skip
    assert "--objective denoising is the objective of --arch ddpm" in capsys.readouterr().err
