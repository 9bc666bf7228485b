"""Training runs end to end: learning, the run folder, resume, stops and failures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from brainsynth.errors import BrainsynthError
from brainsynth.models.checkpoint import load_checkpoint
from brainsynth.sampling import generate
from brainsynth.training import is_finished, losses, resume, train
from state_tensors import all_tensors


@pytest.mark.numerics
def test_dcgan_learns_a_trivial_distribution(square_prepared, tiny, tmp_path: Path) -> None:
    data, target = square_prepared
    # A higher learning rate than the paper's (a named option) keeps this test short. After
    # 150 iterations a GAN is still oscillating: 3 of 10 seeds missed these bounds (mean error
    # up to 0.24, background up to 0.28). After 300, all of 20 seeds under three kernel sets
    # land far inside them (error <= 0.10, square >= 0.78, background <= 0.075; untrained:
    # ~0.5 grey everywhere).
    config = tiny(data, tmp_path / "run", iters=300, batch=16, width=8, lr=1e-3,
                  log_every=100, sample_every=1000, checkpoint_every=1000)  # fmt: skip
    images = generate(train(config), n=64, seed=1)
    inside = np.zeros_like(target, dtype=bool)
    inside[4:12, 4:12] = True
    assert np.abs(images - target).mean() < 0.15
    assert images[:, 0][:, inside].mean() > 0.6
    assert images[:, 0][:, ~inside].mean() < 0.15


def test_run_folder_layout(blob_prepared, tiny, tmp_path: Path) -> None:
    run = train(tiny(blob_prepared, tmp_path / "run", gan="wgan", sequence="concat"))
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["optimizer"] == {"kind": "rmsprop", "lr": 5e-5, "betas": None}
    assert config["objective"]["n_critic"] == 5 and config["objective"]["clip"] == 0.01
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "iter-000003.pt",
        "iter-000006.pt",
        "last.pt",
    ]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["iter"] for r in records] == [2, 4, 6]
    assert {"loss_d", "loss_g", "wasserstein", "images_per_s", "seconds"} <= set(records[0])
    assert (run / "samples" / "grid-000003.png").is_file()
    assert list((run / "tb").glob("events.out.tfevents.*"))
    assert is_finished(run)
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert state["iteration"] == 6 and state["shape"]["size"] == 16
    # WGAN clipping holds every critic parameter within +-0.01.
    critic = state["trainer"]["discriminator"]
    params = [v for k, v in critic.items() if "running" not in k and "num_batches" not in k]
    assert params and all(v.abs().max() <= 0.01 for v in params)


REALISM = {"ema_half_life": 10, "augment": ("translation", "cutout", "intensity")}


@pytest.mark.numerics
@pytest.mark.parametrize(
    ("gan", "extra"),
    [("dcgan", {}), ("wgan", {}), ("wgan-gp", {}), ("dcgan", REALISM), ("hinge", REALISM)],
)
def test_resume_equals_uninterrupted(gan: str, extra, blob_prepared, tiny, tmp_path) -> None:
    whole = train(tiny(blob_prepared, tmp_path / "whole", gan=gan, iters=7, **extra))
    part = train(tiny(blob_prepared, tmp_path / "part", gan=gan, iters=4, **extra))
    resume(part, iters=7)
    a = load_checkpoint(whole / "checkpoints" / "last.pt")
    b = load_checkpoint(part / "checkpoints" / "last.pt")
    assert a["iteration"] == b["iteration"] == 7
    tensors_a, tensors_b = all_tensors(a["trainer"]), all_tensors(b["trainer"])
    assert tensors_a.keys() == tensors_b.keys() and len(tensors_a) > 20
    assert ("generator_ema.net.0.weight" in tensors_a) == bool(extra)
    for key in tensors_a:
        assert torch.equal(tensors_a[key], tensors_b[key]), key
    assert torch.equal(a["sampler"]["order"], b["sampler"]["order"])
    metrics = [json.loads(x)["iter"] for x in (part / "metrics.jsonl").read_text().splitlines()]
    assert metrics == [2, 4, 6, 7]
    assert is_finished(part)


def test_time_budget_stops_with_a_checkpoint(blob_prepared, tiny, tmp_path: Path) -> None:
    run = train(tiny(blob_prepared, tmp_path / "run", iters=10**6, max_seconds=0.0))
    assert load_checkpoint(run / "checkpoints" / "last.pt")["iteration"] == 1
    assert not is_finished(run)
    resume(run, iters=3)
    assert is_finished(run)
    assert load_checkpoint(run / "checkpoints" / "last.pt")["iteration"] == 3


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(
    blob_prepared, tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    original = losses.dcgan_g_loss

    def poisoned(fake_logits: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        loss = original(fake_logits)
        return loss * float("nan") if calls["n"] >= 5 else loss

    monkeypatch.setattr(losses, "dcgan_g_loss", poisoned)
    with pytest.raises(BrainsynthError, match="non-finite loss at iteration 5"):
        train(tiny(blob_prepared, tmp_path / "run", iters=10))
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["iteration"] == 3
    assert all(torch.isfinite(v).all() for v in all_tensors(state["trainer"]).values()
               if v.is_floating_point())  # fmt: skip


def test_weights_that_became_non_finite_are_never_saved(
    blob_prepared, tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from brainsynth.training.adversarial import AdversarialTrainer

    original = AdversarialTrainer.step

    def step(self, sampler, iteration):
        logs = original(self, sampler, iteration)  # finite losses...
        if iteration + 1 == 6:  # ...but after iteration 6 (a checkpoint's), an infinite weight
            with torch.no_grad():
                weight = next(self.generator.parameters())
                weight[(0,) * weight.ndim] = float("inf")
        return logs

    monkeypatch.setattr(AdversarialTrainer, "step", step)
    expected = r"generator's weights became NaN or infinite by iteration 6 \(its losses were"
    with pytest.raises(BrainsynthError, match=expected + r" finite\).*last good checkpoint"):
        train(tiny(blob_prepared, tmp_path / "run", iters=10))
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["iteration"] == 3
    generate(tmp_path / "run", n=2)  # the last good checkpoint still samples


def test_bf16_and_wgan_gp_train(blob_prepared, tiny, tmp_path: Path) -> None:
    run = train(tiny(blob_prepared, tmp_path / "run", gan="wgan-gp", precision="bf16"))
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["model"]["options"]["disc_norm"] == "layer"
    assert config["optimizer"]["betas"] == [0.0, 0.9]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["loss_d"]) and np.isfinite(r["wasserstein"]) for r in records)


def test_refuses_to_overwrite_a_run(blob_prepared, tiny, tmp_path: Path) -> None:
    run = train(tiny(blob_prepared, tmp_path / "run", iters=1))
    with pytest.raises(BrainsynthError, match="--resume"):
        train(tiny(blob_prepared, run, iters=1))


def test_precision_auto_is_bf16_only_where_native(
    blob_prepared, tiny, tmp_path: Path, monkeypatch
) -> None:
    """``auto`` resolves once, at the start, by the device's hardware, and config.yaml records
    what the run trained with (so a resume elsewhere keeps it)."""
    from brainsynth.training import runtime

    cpu = torch.device("cpu")
    for native, expected in ((False, "fp32"), (True, "bf16")):
        monkeypatch.setattr(runtime, "native_bf16", lambda device, native=native: native)
        assert runtime.resolve_precision("auto", cpu) == expected
        assert runtime.resolve_precision("fp32", cpu) == "fp32"
        run = train(tiny(blob_prepared, tmp_path / f"run-{expected}", precision="auto"))
        assert yaml.safe_load((run / "config.yaml").read_text())["run"]["precision"] == expected
