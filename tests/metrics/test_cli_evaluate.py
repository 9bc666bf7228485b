"""``brainsynth evaluate`` end to end through ``brainsynth.cli.main``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from blobs import blob_dataset
from brainsynth.cli import main
from brainsynth.data.dataset import load_prepared
from brainsynth.imageio import save_png


@pytest.fixture
def blobs_12(tmp_path: Path) -> Path:
    """12 blob patients x 6 slices, 16x16: enough patients for the C2ST and its control."""
    return blob_dataset(tmp_path / "prepared", patients=12, slices=6, size=16)


def test_evaluate_command_writes_metrics_montages_and_sampling_record(blobs_12, tmp_path, capsys):
    real = load_prepared(blobs_12).image_set("t2").float_images()
    rng = np.random.default_rng(0)
    fake = np.clip(real[rng.permutation(len(real))] + rng.normal(0, 0.05, real.shape), 0, 1)
    samples = tmp_path / "samples"
    samples.mkdir()
    np.save(samples / "samples.npy", fake.astype(np.float32))
    (samples / "sampling.json").write_text(json.dumps({"background_floor": 0.02, "n": 72}))
    out = tmp_path / "eval" / "metrics.json"

    code = main(
        ["evaluate", "--real", str(blobs_12), "--sequence", "t2", "--fake", str(samples),
         "--out", str(out), "--seed", "3", "--threads", "1", "--quiet"]
    )  # fmt: skip

    assert code == 0
    metrics = json.loads(out.read_text())
    required = (
        "c2st_accuracy c2st_p_value c2st_ci95 c2st_control_accuracy c2st_gap c2st_knn_accuracy "
        "fid kid precision recall ms_ssim_real ms_ssim_fake memorized_fraction n_real n_fake"
    )
    for key in required.split():
        assert metrics[key] is not None, key
    assert metrics["n_real"] == metrics["n_fake"] == 72 and metrics["seed"] == 3
    assert metrics["fake_sampling"] == {"background_floor": 0.02, "n": 72}
    assert metrics["c2st_accuracy"] > 0.8  # added noise on a clean background gives it away
    assert Path(metrics["c2st_saliency_montage"]).is_file()
    assert Path(metrics["memorization_montage"]).parent == out.parent
    printed = capsys.readouterr().out
    assert "C2ST (CNN): accuracy" in printed and f"wrote {out}" in printed


def test_evaluate_command_png_folder_metric_subset_and_errors(blobs_12, tmp_path, capsys):
    pngs = tmp_path / "pngs"
    pngs.mkdir()
    real = load_prepared(blobs_12).image_set("t1").float_images()
    for i, image in enumerate(real[:30]):
        save_png(pngs / f"{i:03d}.png", image)
    out = tmp_path / "m.json"
    args = ["evaluate", "--real", str(blobs_12), "--sequence", "t1", "--fake", str(pngs)]
    assert main([*args, "--out", str(out), "--metrics", "memorization,diversity", "--quiet"]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["c2st_accuracy"] is None and metrics["memorized_fraction"] > 0.9
    assert "fake_sampling" not in metrics

    assert main([*args, "--out", str(out), "--metrics", "c2st,bogus"]) == 2
    assert "--metrics: unknown bogus" in capsys.readouterr().err
    small = tmp_path / "small.npy"
    np.save(small, np.zeros((20, 1, 8, 8), np.float32))
    bad = ["evaluate", "--real", str(blobs_12), "--sequence", "t1", "--fake", str(small)]
    assert main([*bad, "--out", str(out)]) == 2  # m.json is in a folder evaluate did not make
    assert "m.json: exists and was not written by 'brainsynth evaluate'" in capsys.readouterr().err
    assert main([*bad, "--out", str(out), "--overwrite"]) == 2
    assert "8x8 but the real images are 16x16" in capsys.readouterr().err
