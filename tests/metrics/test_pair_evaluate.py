"""``brainsynth evaluate`` on image + mask pairs: the pair realism keys when the synthetic
images carry masks (a samples folder, a pair run, a mask-conditioned run), none otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from augment_eval.seg_toy import seg_prepared
from brainsynth.cli import main

PAIR_FAMILIES = "knn,mask_plausibility,image_mask_consistency"
QUICK = ["--metrics", PAIR_FAMILIES, "--segmenter-epochs", "1", "--quiet"]


@pytest.fixture(scope="module")
def data(tmp_path_factory, one_thread_module) -> Path:
    return seg_prepared(tmp_path_factory.mktemp("pair-eval") / "data", patients=6, size=32)


def train(data: Path, out: Path, *extra: str) -> Path:
    args = ["train", "--data", str(data), "--sequence", "flair", "--out", str(out), "--iters",
            "2", "--batch", "4", "--no-progress", *extra]  # fmt: skip
    assert main(args) == 0
    return out


def evaluate(data: Path, fake: Path, out: Path, *extra: str) -> dict:
    args = ["evaluate", "--real", str(data), "--sequence", "flair", "--fake", str(fake),
            "--out", str(out), *QUICK, *extra]  # fmt: skip
    assert main(args) == 0
    return json.loads(out.read_text())


def test_pair_samples_get_mask_plausibility_and_consistency(data, tmp_path):
    run = train(data, tmp_path / "pairs", "--with-mask", "--width", "4")
    samples = tmp_path / "samples"
    assert main(["sample", str(run), "--n", "24", "--out", str(samples)]) == 0
    metrics = evaluate(data, samples, tmp_path / "m.json")
    plausibility, consistency = metrics["mask_plausibility"], metrics["image_mask_consistency"]
    assert {"tumor_free_share", "area", "centroid_row", "share_enhancing", "slices"} <= set(
        plausibility
    )
    assert plausibility["slices"]["synthetic"] == 24
    assert plausibility["slices"]["real"] == 36  # every toy slice is segmented
    assert {"synthetic", "real", "ratio", "ratio_ci95", "regions", "segmenter"} <= set(consistency)
    assert consistency["synthetic_slices"] == 24
    # the run itself (sampled here) gives the same keys
    again = evaluate(data, run, tmp_path / "run.json", "--n-fake", "24")
    assert again["mask_plausibility"]["slices"]["synthetic"] == 24
    assert {"mask_area_wasserstein", "mask_area_floor", "image_mask_consistency_ratio"} <= set(
        metrics
    )
    args = ["evaluate", "--real", str(data), "--sequence", "flair", "--fake", str(samples),
            "--out", str(tmp_path / "off.json"), "--metrics", "knn", "--quiet"]  # fmt: skip
    assert main(args) == 0
    skipped = json.loads((tmp_path / "off.json").read_text())
    assert "mask_plausibility" not in skipped and "image_mask_consistency" not in skipped


def test_masks_given_to_a_generator_are_not_scored_as_its_own(data, tmp_path):
    run = train(data, tmp_path / "spade", "--condition", "mask", "--arch", "spade",
                "--arch-option", "width=4", "--arch-option", "spade_hidden=4")  # fmt: skip
    metrics = evaluate(data, run, tmp_path / "m.json", "--n-fake", "12")
    assert "given" in metrics["mask_plausibility"]["note"]
    assert metrics["image_mask_consistency"]["synthetic_slices"] == 12
    assert metrics["fake_sampling"]["masks"] == "given"


def test_images_without_masks_get_no_pair_keys(data, tmp_path):
    run = train(data, tmp_path / "plain", "--width", "4")
    samples = tmp_path / "samples"
    assert main(["sample", str(run), "--n", "12", "--out", str(samples)]) == 0
    metrics = evaluate(data, samples, tmp_path / "m.json")
    assert "mask_plausibility" not in metrics and "image_mask_consistency" not in metrics
    assert metrics["skipped"]["image_mask_consistency"] == "not run: needs pairs"


def test_masks_that_do_not_match_the_images_are_refused(data, tmp_path, capsys):
    run = train(data, tmp_path / "pairs", "--with-mask", "--width", "4")
    samples = tmp_path / "samples"
    assert main(["sample", str(run), "--n", "6", "--out", str(samples)]) == 0
    np.save(samples / "masks.npy", np.zeros((5, 32, 32), np.uint8))
    code = main(["evaluate", "--real", str(data), "--sequence", "flair", "--fake", str(samples),
                 "--out", str(tmp_path / "m.json"), *QUICK])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "masks do not match the 6 images" in err, err


def test_the_reference_segmenter_is_trained_once_per_prepared_set(data, tmp_path, monkeypatch):
    """Issue 27: image-mask consistency's reference segmenter depends on the real pairs
    alone; it is kept in the prepared set's cache, so a second model's pairs are segmented by
    the same network without training it again, and a damaged entry is trained anew."""
    from brainsynth.metrics import pairs

    trained: list[int] = []
    original = pairs.fit_reference_segmenter

    def counting(*args, **kwargs):
        trained.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(pairs, "fit_reference_segmenter", counting)
    run = train(data, tmp_path / "pairs", "--with-mask", "--width", "4")
    samples = tmp_path / "samples"
    assert main(["sample", str(run), "--n", "16", "--out", str(samples)]) == 0
    seed = ["--seed", "7", "--metrics", "image_mask_consistency"]  # a key no other test uses
    first = evaluate(data, samples, tmp_path / "a.json", *seed)["image_mask_consistency"]
    second = evaluate(data, samples, tmp_path / "b.json", *seed)["image_mask_consistency"]
    assert len(trained) == 1 and second["segmenter"] == first["segmenter"]
    assert (second["synthetic"], second["real"]) == (first["synthetic"], first["real"])

    entries = list((data / "evaluate-cache").glob("segmenter-*.pt"))
    for entry in entries:
        entry.write_bytes(b"not a segmenter")
    third = evaluate(data, samples, tmp_path / "c.json", *seed)["image_mask_consistency"]
    assert entries and len(trained) == 2 and third["ratio"] == pytest.approx(first["ratio"])
