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
from margins import accuracy_floor, hypergeometric_range


@pytest.fixture
def blobs_12(tmp_path: Path) -> Path:
    """12 blob patients x 6 slices, 16x16: enough patients for the C2ST and its control."""
    return blob_dataset(tmp_path / "prepared", patients=12, slices=6, size=16)


@pytest.mark.numerics
def test_evaluate_command_writes_metrics_montages_and_sampling_record(blobs_12, tmp_path, capsys):
    real = load_prepared(blobs_12).image_set("t2").float_images()
    rng = np.random.default_rng(0)
    fake = np.clip(real[rng.permutation(len(real))] + rng.normal(0, 0.2, real.shape), 0, 1)
    samples = tmp_path / "samples"
    samples.mkdir()
    np.save(samples / "samples.npy", fake.astype(np.float32))
    (samples / "sampling.json").write_text(json.dumps({"background_floor": 0.02, "n": 72}))
    out = tmp_path / "eval" / "metrics.json"

    code = main(
        ["evaluate", "--real", str(blobs_12), "--sequence", "t2", "--fake", str(samples),
         "--out", str(out), "--seed", "3", "--threads", "1", "--quiet",
         "--detectability-sizes", "8", "--features", "handcrafted,domain"]
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
    # Noise (sd 0.2) on a clean black background gives every image away: >= 95% right (it
    # scored >= 0.97 on 12 seeds under three kernel sets; sd 0.05 fell to 0.58 at seed 6), so
    # the held-out count falls below this floor with p < 1e-4.
    assert metrics["c2st_accuracy"] >= accuracy_floor(metrics["c2st_n_test"], 0.95)
    assert Path(metrics["c2st_saliency_montage"]).is_file()
    assert Path(metrics["memorization_montage"]).parent == out.parent
    printed = capsys.readouterr().out
    assert "C2ST (CNN): accuracy" in printed and f"wrote {out}" in printed
    # issue 17: detectability, the domain space and the diagnostics, with their files
    assert [p["n_train"] for p in metrics["detectability_curve"]][0] == 8
    assert metrics["detectability_ci95"][0] <= metrics["detectability"]
    assert metrics["fid_domain"] is not None and metrics["kid_domain_ci95"] is not None
    for name in ("detectability_curve.png", "spectrum.png", "intensity_histograms.png",
                 "domain_encoder.pt"):  # fmt: skip
        assert (out.parent / name).is_file(), name
    assert "detectability" in printed and "why detected" in printed
    # a second model in the first one's domain space
    again = tmp_path / "eval2" / "metrics.json"
    assert (
        main(
            [
                "evaluate",
                "--real",
                str(blobs_12),
                "--sequence",
                "t2",
                "--fake",
                str(samples),
                "--out",
                str(again),
                "--metrics",
                "distances",
                "--features",
                "domain",
                "--domain-encoder",
                str(out.parent / "domain_encoder.pt"),
                "--quiet",
            ]
        )
        == 0
    )
    reused = json.loads(again.read_text())
    assert reused["domain_encoder_info"] == {"trained": "loaded"}
    assert reused["fid_domain"] == metrics["fid_domain"]
    assert not (again.parent / "domain_encoder.pt").exists()


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
    assert main([*args, "--out", str(out), "--features", "pixels"]) == 2
    assert "unknown feature spaces pixels" in capsys.readouterr().err
    assert main([*args, "--out", str(out), "--detectability-sizes", "2,x"]) == 2
    assert "--detectability-sizes" in capsys.readouterr().err
    assert main([*args, "--out", str(out), "--domain-encoder", str(tmp_path / "no.pt")]) == 2
    assert "no such file" in capsys.readouterr().err
    small = tmp_path / "small.npy"
    np.save(small, np.zeros((20, 1, 8, 8), np.float32))
    bad = ["evaluate", "--real", str(blobs_12), "--sequence", "t1", "--fake", str(small)]
    assert main([*bad, "--out", str(out)]) == 2  # m.json is in a folder evaluate did not make
    assert "m.json: exists and was not written by 'brainsynth evaluate'" in capsys.readouterr().err
    assert main([*bad, "--out", str(out), "--overwrite"]) == 2
    assert "8x8 but the real images are 16x16" in capsys.readouterr().err


def test_a_large_folder_is_read_whole_and_planted_copies_at_its_end_are_found(tmp_path, capsys):
    # Issue 9: a folder of 1,120 PNGs whose last 112 were exact training slices was read as
    # its first 1,000 files by name and reported as no more memorised than a clean folder.
    prepared = blob_dataset(tmp_path / "prepared", patients=24, slices=6, size=16)
    real = load_prepared(prepared).image_set("t1").float_images()
    novel_dataset = blob_dataset(tmp_path / "novel", patients=168, slices=6, size=16, seed=1)
    novel = load_prepared(novel_dataset).image_set("t1").float_images()  # other patients
    copies = real[np.random.default_rng(0).choice(len(real), 112, replace=False)]
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, image in enumerate(np.concatenate([novel, copies])):
        save_png(folder / f"{i:06d}.png", image)
    out = tmp_path / "m.json"
    args = ["evaluate", "--real", str(prepared), "--sequence", "t1", "--fake", str(folder),
            "--out", str(out), "--metrics", "memorization", "--quiet"]  # fmt: skip

    assert main(args) == 0
    metrics = json.loads(out.read_text())
    assert (metrics["n_fake_available"], metrics["n_fake"], metrics["fake_subset"]) == (
        1120, 1120, "all",
    )  # fmt: skip
    # Every copy is at distance 0, so 112 / 1,120 = 0.10 are flagged for sure; new patients
    # add about 1% by construction of the threshold.
    assert 0.10 <= metrics["memorized_fraction"] <= 0.15
    novel_flagged = round(metrics["memorized_fraction"] * 1120) - 112
    assert "vs 1120 synthetic (all 1120)" in capsys.readouterr().out

    # Half of them, drawn at random with the seed: the copies among them follow the
    # hypergeometric law of a random draw (the first 560 by name would hold none).
    assert main([*args, "--max-fake", "560", "--seed", "4", "--overwrite"]) == 0
    metrics = json.loads(out.read_text())
    assert (metrics["n_fake_available"], metrics["n_fake"], metrics["fake_subset"]) == (
        1120, 560, "random(4)",
    )  # fmt: skip
    low, high = hypergeometric_range(1120, 112, 560)
    assert low / 560 <= metrics["memorized_fraction"] <= (high + novel_flagged) / 560
    assert "vs 560 synthetic (random(4) subset of 1120)" in capsys.readouterr().out

    # --n-fake sizes what a generator samples; a folder is never cut to it.
    assert main([*args, "--n-fake", "100"]) == 2
    assert "--n-fake applies only when --fake is a run, checkpoint" in capsys.readouterr().err


def test_a_second_prepared_set_is_split_by_patient_and_the_real_side_cached(tmp_path, capsys):
    """Issue 27: --fake PREPARED compares two cohorts with whole patients on one side of every
    split; what is learnt about the real images is cached in REAL/evaluate-cache/ (marked as
    evaluate's), read by the next evaluation, and a folder of that name evaluate did not make
    is left alone."""
    import os

    from brainsynth.outputs import read_marker

    real = blob_dataset(tmp_path / "real", patients=12, slices=4, size=16, seed=0)
    other = blob_dataset(tmp_path / "other", patients=12, slices=4, size=16, seed=1)
    args = ["evaluate", "--real", str(real), "--sequence", "t1", "--fake", str(other),
            "--threads", "1", "--quiet", "--metrics", "knn,distances"]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "a" / "m.json")]) == 0
    first = json.loads((tmp_path / "a" / "m.json").read_text())
    assert first["fake_groups"] == "patient" and first["n_fake"] == 48
    assert "by patient" in capsys.readouterr().out
    cache = real / "evaluate-cache"
    marker = read_marker(cache)
    assert marker["command"] == "evaluate" and sorted(p.name for p in cache.iterdir()) == sorted(
        [".brainsynth-owner.json", *marker["files"]]
    )
    assert main([*args, "--out", str(tmp_path / "b" / "m.json")]) == 0
    second = json.loads((tmp_path / "b" / "m.json").read_text())
    assert "cached" in second["domain_encoder_info"] and second["fid"] == first["fid"]
    assert second["fid_domain"] == pytest.approx(first["fid_domain"], rel=1e-9)

    foreign = tmp_path / "real2"
    blob_dataset(foreign, patients=12, slices=4, size=16, seed=0)
    (foreign / "evaluate-cache").mkdir()
    (foreign / "evaluate-cache" / "mine.txt").write_text("not evaluate's")
    argv = [*args, "--out", str(tmp_path / "c" / "m.json")]
    argv[argv.index(str(real))] = str(foreign)
    assert main(argv) == 0
    assert (
        "was not made by 'brainsynth evaluate'"
        in json.loads((tmp_path / "c" / "m.json").read_text())["real_cache"]
    )
    assert [p.name for p in (foreign / "evaluate-cache").iterdir()] == ["mine.txt"]

    locked = tmp_path / "locked"
    blob_dataset(locked, patients=12, slices=4, size=16, seed=0)
    os.chmod(locked, 0o555)
    try:
        argv[argv.index(str(foreign))] = str(locked)
        assert main(argv) == 0
        note = json.loads((tmp_path / "c" / "m.json").read_text())["real_cache"]
    finally:
        os.chmod(locked, 0o755)
    assert os.geteuid() == 0 or "read-only" in note
