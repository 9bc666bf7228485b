"""brainsynth 0.1.0 checkpoints still load, sample identically and resume.

tests/fixtures/v010/ holds a tiny 0.1.0 run's checkpoint and the images 0.1.0's
``brainsynth sample`` wrote from it (see its README.txt). Float kernels differ across CPUs, so
identity is checked two ways: against the stored images within 1e-6 (no stored pixel lies
within 1e-3 of the floor, so the floor decides alike everywhere), and bit for bit against
0.1.0's generator forward recomputed here, on the machine running the test.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from blobs import blob_dataset
from brainsynth.cli import main
from brainsynth.models import ModelShape, family
from brainsynth.models.checkpoint import load_checkpoint
from brainsynth.sampling import generate, generate_with_info
from brainsynth.training import is_finished, resume

FIXTURE = Path(__file__).parent / "fixtures" / "v010"
CHECKPOINT = FIXTURE / "dcgan32-v010.pt"


def v010_images(n: int, seed: int, batch: int, floor: float) -> np.ndarray:
    """0.1.0's sampling, written out: its DCGAN generator as functional ops on the state dict."""
    # contiguous, as in the freshly built module 0.1.0 loaded them into (training saved them
    # channels_last, which selects other kernels)
    saved = load_checkpoint(CHECKPOINT)["trainer"]["generator"]
    state = {k: v.contiguous() for k, v in saved.items()}
    z = torch.randn(n, 32, generator=torch.Generator().manual_seed(seed))
    convs = sorted({int(k.split(".")[1]) for k in state if state[k].ndim == 4})
    chunks = []
    with torch.no_grad():
        for start in range(0, n, batch):
            x = z[start : start + batch].reshape(-1, 32, 1, 1)
            for i in convs:
                first, last = i == convs[0], i == convs[-1]
                weight, bias = state[f"net.{i}.weight"], state.get(f"net.{i}.bias")
                stride, padding = (1, 0) if first else (2, 1)
                x = F.conv_transpose2d(x, weight, bias, stride=stride, padding=padding)
                if not last:
                    bn = {k: state[f"net.{i + 1}.{k}"]
                          for k in ("running_mean", "running_var", "weight", "bias")}  # fmt: skip
                    x = F.relu(F.batch_norm(x, training=False, eps=1e-5, **bn))
            chunks.append(x.float().add(1.0).mul_(0.5).clamp_(0.0, 1.0))
    images = torch.cat(chunks).numpy().astype(np.float32)
    images[images < floor] = 0.0
    return images


def test_samples_bit_identically_with_the_recorded_floor() -> None:
    images, info = generate_with_info(CHECKPOINT, n=8, seed=11, batch=3, device="cpu")
    assert info["background_floor"] == 0.3  # 0.1.0 recorded it in the training config
    assert info["arch"] == "dcgan" and info["objective"] == "dcgan" and info["weights"] == "raw"
    assert np.array_equal(images, v010_images(8, 11, 3, 0.3))
    stored = np.load(FIXTURE / "samples-seed11.npy")
    assert np.array_equal(images == 0, stored == 0) and (stored == 0).any()
    assert np.abs(images - stored).max() <= 1e-6


def test_samples_without_floor_and_through_the_cli(tmp_path: Path) -> None:
    images = generate(CHECKPOINT, n=8, seed=11, batch=3, device="cpu", background_floor=0.0)
    assert np.array_equal(images, v010_images(8, 11, 3, 0.0))
    assert np.abs(images - np.load(FIXTURE / "samples-seed11-nofloor.npy")).max() <= 1e-6
    out = tmp_path / "samples"
    argv = ["sample", str(CHECKPOINT), "--n", "8", "--seed", "11", "--batch", "3", "--out",
            str(out), "--device", "cpu"]  # fmt: skip
    assert main(argv) == 0
    assert np.array_equal(np.load(out / "samples.npy"), v010_images(8, 11, 3, 0.3))
    recorded = json.loads((FIXTURE / "sampling.json").read_text())
    written = json.loads((out / "sampling.json").read_text())
    for key in ("iteration", "sequence", "size", "seed", "n", "batch", "output_mapping"):
        assert written[key] == recorded[key], key
    assert written["objective"] == recorded["gan"]  # the key 0.1.0 gave it


def test_the_registry_builds_0_1_0_modules() -> None:
    state = load_checkpoint(CHECKPOINT)["trainer"]
    dcgan = family("dcgan")
    generator, discriminator = dcgan.build(dcgan.Config(width=4), ModelShape(32, 1, 32))
    for module, saved in ((generator, state["generator"]), (discriminator, state["discriminator"])):
        ours = module.state_dict()
        assert list(ours) == list(saved)
        assert all(ours[k].shape == saved[k].shape for k in ours)


@pytest.mark.slow
def test_a_0_1_0_run_resumes(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    shutil.copyfile(CHECKPOINT, run / "checkpoints" / "last.pt")
    data = blob_dataset(tmp_path / "prepared", size=32)
    text = (FIXTURE / "config.yaml").read_text()
    text = text.replace("/tmp/v010/prepared", str(data)).replace("/tmp/v010/run", str(run))
    (run / "config.yaml").write_text(text)
    resume(run, iters=42)
    assert is_finished(run)
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    assert state["format"] == "brainsynth-checkpoint" and state["version"] == 3  # upgraded
    assert state["iteration"] == 42 and state["arch"] == "dcgan" and "upgraded_from" not in state
    assert state["arch_config"]["width"] == 4 and state["shape"]["latent"] == 32


def test_an_exported_0_1_0_run_reports_its_training_data(tmp_path: Path) -> None:
    """0.1.0 stored the prepared folder as the flat config's ``data`` (0.3's export read
    ``data_dir`` and called the data unavailable); its objective as ``gan``."""
    data = blob_dataset(tmp_path / "prepared", size=32)
    state = torch.load(CHECKPOINT, weights_only=True)
    state["train"]["data"] = str(data)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    torch.save(state, run / "checkpoints" / "last.pt")
    out = tmp_path / "export"
    assert main(["export", str(run), str(out), "--with-provenance"]) == 0
    config = json.loads((out / "config.json").read_text())
    facts = config["training_data"]
    assert facts["available"] and facts["patients"] == 4 and facts["image_set"] == "t1"
    assert config["provenance"]["prepared"] == str(data) and config["objective"] == "dcgan"
    assert config["background_floor"] == 0.3
    card = (out / "README.md").read_text()
    assert "| Objective | dcgan |" in card and "Not known" not in card
