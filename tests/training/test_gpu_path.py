"""The GPU path's logic, checked on the CPU: NaN checks only at logging and checkpoint steps,
the compile option, device-resident data."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from brainsynth.errors import BrainsynthError
from brainsynth.models.checkpoint import load_checkpoint
from brainsynth.training import loop, losses, train
from brainsynth.training.data import EpochSampler, resident
from brainsynth.training.runtime import Runtime


def poison_generator_loss(monkeypatch: pytest.MonkeyPatch, from_call: int) -> None:
    """The DCGAN generator loss becomes NaN from its ``from_call``-th call (= iteration)."""
    calls = {"n": 0}
    original = losses.dcgan_g_loss

    def poisoned(fake_logits: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        loss = original(fake_logits)
        return loss * float("nan") if calls["n"] >= from_call else loss

    monkeypatch.setattr(losses, "dcgan_g_loss", poisoned)


def test_nan_found_late_still_never_overwrites_the_last_good_checkpoint(
    blob_prepared, tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a GPU the losses are read back at logging steps only (every 4 here), and before
    each checkpoint (every 3): the NaN of iteration 5 is caught before iteration 6's
    checkpoint, reported with its own iteration, and last.pt stays iteration 3's."""
    monkeypatch.setattr(loop, "finite_check_interval", lambda runtime, run: run.log_every)
    poison_generator_loss(monkeypatch, from_call=5)
    config = tiny(blob_prepared, tmp_path / "run", iters=12, log_every=4, checkpoint_every=3)
    with pytest.raises(
        BrainsynthError, match="non-finite loss at iteration 5;.*last good checkpoint"
    ):
        train(config)
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["iteration"] == 3
    logged = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(logged) == 1 and '"iter": 4' in logged[0]


def test_nan_found_at_a_logging_step(blob_prepared, tiny, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(loop, "finite_check_interval", lambda runtime, run: run.log_every)
    poison_generator_loss(monkeypatch, from_call=2)
    config = tiny(blob_prepared, tmp_path / "run", iters=12, log_every=4, checkpoint_every=50,
                  sample_every=3)  # fmt: skip
    with pytest.raises(BrainsynthError, match="non-finite loss at iteration 2;.*none saved"):
        train(config)  # caught at iteration 3, before its sample grid
    assert not (tmp_path / "run" / "checkpoints").exists()
    assert not (tmp_path / "run" / "metrics.jsonl").read_text()
    assert not (tmp_path / "run" / "samples").exists()


@pytest.mark.parametrize(("gan", "compiled"), [("dcgan", 2), ("wgan-gp", 1)])
def test_compile_option(gan, compiled, blob_prepared, tiny, tmp_path, monkeypatch) -> None:
    """``run.compile`` compiles the generator, and the discriminator unless a gradient
    penalty needs its double backward; checkpoints keep the plain modules' keys. (Dynamo's
    eager backend here: the plumbing, not the speed, which needs a GPU to measure.)"""
    calls = []
    real_compile = torch.compile

    def eager_compile(module, **kwargs):
        calls.append(type(module).__name__)
        return real_compile(module, backend="eager", **kwargs)

    monkeypatch.setattr(torch, "compile", eager_compile)
    config = tiny(blob_prepared, tmp_path / "run", gan=gan, iters=2, compile=True)
    run = train(config)
    assert len(calls) == compiled
    state = load_checkpoint(run / "checkpoints" / "last.pt")["trainer"]
    assert not any("_orig_mod" in key for key in state["generator"])
    assert not any("_orig_mod" in key for key in state["discriminator"])
    assert all(
        torch.isfinite(v).all() for v in state["generator"].values() if v.is_floating_point()
    )


def test_images_stay_where_batches_are_drawn() -> None:
    images = torch.zeros(10, 1, 4, 4, dtype=torch.uint8)
    assert resident(images, torch.device("cpu")) is images
    sampler = EpochSampler(images, 4, 0, Runtime(torch.device("cpu")))
    batch = sampler.next_batch()
    assert batch.shape == (4, 1, 4, 4) and batch.is_contiguous(memory_format=torch.channels_last)
    assert float(batch.min()) == -1.0
    with pytest.raises(BrainsynthError, match="--batch 4 is the global batch.*processes \\(3\\)"):
        EpochSampler(images, 4, 0, Runtime(torch.device("cpu"), rank=1, world_size=3))
