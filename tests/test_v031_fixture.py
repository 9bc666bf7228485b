"""brainsynth 0.3.x runs and exports (format version 2) still load, sample identically, export
and resume, and are written back in this version's formats.

tests/fixtures/v031/ holds two tiny 0.3.1 runs (a class-conditional diffusion model and a
StyleGAN2), an export and the images 0.3.1's ``brainsynth sample`` made from them (see its
README.txt).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from blobs import blob_dataset
from brainsynth.cli import main
from brainsynth.models.checkpoint import load_checkpoint, model_record
from brainsynth.models.upgrade import upgrade_sampling_record
from brainsynth.sampling import generate, generate_with_info, load_generator
from brainsynth.training import is_finished, resume

FIXTURE = Path(__file__).parent / "fixtures" / "v031"
TOLERANCE = 1e-5  # float kernels of other CPUs (bit-identical where the fixture was made)


@pytest.mark.numerics
@pytest.mark.parametrize(
    ("run", "settings", "stored"),
    [
        ("ddpm", {}, "ddpm-samples.npy"),
        ("ddpm", {"steps": 4, "label": "t2", "guidance": 2.0}, "ddpm-guided.npy"),
        ("stylegan2", {}, "stylegan2-samples.npy"),
    ],
)
def test_runs_sample_as_0_3_1_did(run: str, settings: dict, stored: str) -> None:
    images = generate(FIXTURE / run, n=6, seed=3, device="cpu", **settings)
    expected = np.load(FIXTURE / stored)
    assert images.shape == expected.shape and np.abs(images - expected).max() <= TOLERANCE


@pytest.mark.numerics
def test_a_0_3_1_export_samples_as_its_run() -> None:
    run = generate(FIXTURE / "ddpm", n=6, seed=3, device="cpu")
    export, record = load_generator(FIXTURE / "ddpm-export", device="cpu")
    assert record.version == 2 and record.family.name == "ddpm"
    assert record.shape.latent is None and record.shape.mask_channels == 0
    assert np.array_equal(generate(FIXTURE / "ddpm-export", n=6, seed=3, device="cpu"), run)


def test_old_checkpoints_read_in_this_versions_layout() -> None:
    state = load_checkpoint(FIXTURE / "ddpm" / "checkpoints" / "last.pt")
    assert state["format"] == "brainsynth-checkpoint" and state["version"] == 3
    assert state["upgraded_from"] == 2
    record = model_record(state)
    assert record.shape.latent is None  # 0.3 stored the latent a denoiser never used
    assert (record.shape.mask_channels, record.shape.condition_channels) == (0, 0)
    _, info = generate_with_info(FIXTURE / "stylegan2", n=2, device="cpu")
    assert info["objective"] == "nonsaturating" and "gan" not in info
    recorded = json.loads((FIXTURE / "ddpm-sampling.json").read_text())
    assert upgrade_sampling_record(recorded)["objective"] == "denoising"


@pytest.mark.numerics
def test_a_0_3_1_run_exports_in_this_format(tmp_path: Path) -> None:
    out = tmp_path / "export"
    assert main(["export", str(FIXTURE / "ddpm"), str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["format_version"] == 3 and config["objective"] == "denoising"
    assert config["shape"] == {"size": 16, "channels": 1, "latent": None, "num_classes": 4,
                               "mask_channels": 0, "condition_channels": 0}  # fmt: skip
    expected = generate(FIXTURE / "ddpm", n=6, seed=3, device="cpu")
    assert np.array_equal(generate(out, n=6, seed=3, device="cpu"), expected)


@pytest.mark.slow
@pytest.mark.parametrize("run", ["ddpm", "stylegan2"])
def test_a_0_3_1_run_resumes_and_is_saved_in_this_format(run: str, tmp_path: Path) -> None:
    folder = tmp_path / run
    (folder / "checkpoints").mkdir(parents=True)
    shutil.copyfile(FIXTURE / run / "checkpoints" / "last.pt", folder / "checkpoints" / "last.pt")
    data = blob_dataset(tmp_path / "prepared", size=16)
    text = (FIXTURE / run / "config.yaml").read_text()
    text = text.replace("/tmp/v031/prepared", str(data)).replace(f"/tmp/v031/{run}", str(folder))
    (folder / "config.yaml").write_text(text)
    resume(folder, iters=6)
    assert is_finished(folder)
    state = torch.load(folder / "checkpoints" / "last.pt", weights_only=True)
    assert state["format"] == "brainsynth-checkpoint" and state["version"] == 3
    assert state["iteration"] == 6 and state["arch"] == run
    assert state["shape"]["mask_channels"] == 0
    assert (state["shape"]["latent"] is None) == (run == "ddpm")
