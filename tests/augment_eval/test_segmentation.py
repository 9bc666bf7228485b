"""``augment-eval --task segmentation``: the run end to end, every arm's plumbing with test
doubles of the generator sources, the guard, mask-consistent classic augmentation, the
report's keys and intervals, and argument errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from seg_toy import flip_masks, mask_source, pair_source, seg_prepared

from brainsynth.augment_eval.classic import ClassicAugment
from brainsynth.augment_eval.config import SEGMENTATION_ARMS, AugmentEvalConfig
from brainsynth.augment_eval.seg_report import markdown, summarise_segmentation
from brainsynth.augment_eval.segmentation import (
    SegmentationResult,
    TrainingSize,
    plan_sizes,
    run_segmentation,
)
from brainsynth.augment_eval.splits import PatientSplit
from brainsynth.cli import main
from brainsynth.errors import BrainsynthError
from brainsynth.metrics.seg_config import SegmenterConfig
from brainsynth.metrics.seg_scores import REGION_NAMES, PatientScores

ENTRY_KEYS = {
    "patients",
    "real_slices",
    "synthetic_slices",
    "steps",
    "dice",
    "dice_ci95",
    "hd95",
    "hd95_ci95",
    "dice_repeats",
    "regions",
}
REGION_KEYS = {"dice", "dice_ci95", "hd95", "hd95_ci95"}
DIFFERENCE_KEYS = {"difference", "difference_ci95", "p_value"}
TINY = ["--classifier-epochs", "1", "--classifier-width", "8", "--bootstrap", "100"]


@pytest.fixture(scope="module")
def seg_data(tmp_path_factory, one_thread_module):
    """8 segmented patients and one without a segmentation (P08), 32x32, 6 slices each."""
    return seg_prepared(tmp_path_factory.mktemp("seg") / "data", patients=9, unsegmented=(8,))


def seg_config(data, **kwargs) -> AugmentEvalConfig:
    settings = dict(
        data=str(data),
        task="segmentation",
        sequence="joint",
        fractions=(),
        train_patients=(2,),
        repeats=1,
        n_boot=100,
        arms=SEGMENTATION_ARMS,
        segmenter=SegmenterConfig(width=8, epochs=1, batch=8),
    )
    settings.update(kwargs)
    return AugmentEvalConfig(**settings)


def test_cli_runs_real_and_classic_end_to_end(seg_data, tmp_path, capsys):
    out = tmp_path / "seg"
    code = main(["augment-eval", "--task", "segmentation", "--data", str(seg_data), "--out",
                 str(out), "--train-patients", "2", "--fractions", "1", "--repeats", "2",
                 "--arms", "real,real+classic", *TINY, "--no-progress"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    summary = json.loads((out / "augment.json").read_text())
    assert list(summary["arms"]) == ["real", "real+classic"]
    assert summary["sizes"] == {"2p": 2, "1": 5}
    assert summary["config"]["sequence"] == "joint" and summary["config"]["task"] == "segmentation"
    for arm, by_size in summary["arms"].items():
        assert list(by_size) == ["2p", "1"]
        for entry in by_size.values():
            expected = ENTRY_KEYS if arm == "real" else ENTRY_KEYS | {"vs_real"}
            assert set(entry) == expected and len(entry["dice_repeats"]) == 2
            assert 0 <= entry["dice_ci95"][0] <= entry["dice_ci95"][1] <= 1
            assert set(entry["regions"]) == set(REGION_NAMES)
            for region in entry["regions"].values():
                assert set(region) == REGION_KEYS
            if arm == "real":
                assert "vs_real" not in entry
            else:
                assert set(entry["vs_real"]["dice"]) == DIFFERENCE_KEYS
                assert set(entry["vs_real"]["regions"]["enhancing"]["hd95"]) == DIFFERENCE_KEYS
                assert "vs_real_classic" not in entry
    splits = json.loads((out / "splits.json").read_text())
    assert "P08" not in splits["train"] + splits["val"] + splits["test"]  # no segmentation
    assert summary["split"]["test_slices"] == 6 * len(splits["test"])
    assert summary["split"]["test_slices_empty_reference"]["whole_tumor"] == 2 * len(splits["test"])
    assert summary["arms"]["real"]["2p"]["steps"] == summary["arms"]["real+classic"]["2p"]["steps"]
    with np.load(out / "predictions.npz") as saved:
        assert saved["masks|real+classic|2p|1"].shape == saved["test_masks"].shape
    assert (out / "augment-dice.png").stat().st_size > 5000
    assert "| real+classic |" in (out / "augment.md").read_text()
    assert main(["augment-eval", "--task", "segmentation", "--data", str(seg_data),
                 "--out", str(out)]) == 2  # fmt: skip


def test_every_arm_with_generator_doubles(seg_data, tmp_path):
    """A pair source built from the training set's own patients, a mask-conditioned source
    rendering images for the training masks, a flip as the mask edit: all five arms run,
    with the same optimiser steps and the synthetic arm trained on synthetic pairs only."""
    joint = [0, 1, 2, 3]
    config = seg_config(seg_data, train_patients=(2,), fractions=(1.0,))
    edited = []

    def edit(masks, rng, brains):
        assert brains.shape == masks.shape and brains.dtype == bool
        edited.append(len(masks))
        return flip_masks(masks, rng, brains)

    result = run_segmentation(
        config,
        tmp_path,
        pair_source=pair_source(seg_data, joint),
        mask_source=mask_source(joint),
        mask_edit=edit,
        progress=False,
    )
    assert edited == [12, 30]  # one edit per training set, of as many masks as real slices
    for key, real in (("2p", 12), ("1", 30)):
        counts = {arm: result.counts[(arm, key, 0)] for arm in SEGMENTATION_ARMS}
        assert len({c["steps"] for c in counts.values()}) == 1
        assert counts["real"]["synthetic"] == 0 and counts["real+classic"]["synthetic"] == 0
        assert counts["real+synthetic"] == {**counts["real"], "synthetic": real}
        assert counts["real+synthetic-from-masks"]["synthetic"] == real
        assert counts["synthetic"]["real"] == 0 and counts["synthetic"]["synthetic"] == real
    summary = summarise_segmentation(result, config)
    for arm in ("real+synthetic", "real+synthetic-from-masks", "synthetic"):
        entry = summary["arms"][arm]["2p"]
        assert set(entry["vs_real"]["dice"]) == DIFFERENCE_KEYS
        assert set(entry["vs_real_classic"]["dice"]) == DIFFERENCE_KEYS
    assert "| real+synthetic-from-masks |" in markdown(summary)


def test_guard_refuses_generators_that_saw_other_patients(seg_data, tmp_path):
    """A pair 'generator' built from held-out (test) patients, or a mask-conditioned one
    that saw a validation patient besides the training set's, is refused by name."""
    config = seg_config(seg_data, arms=("real", "real+synthetic"))
    split, _ = plan_sizes(config, np.array([f"P{i:02d}" for i in range(8)]))
    leaky = pair_source(seg_data, [0, 1, 2, 3], patients=split.test)
    with pytest.raises(BrainsynthError) as error:
        run_segmentation(config, tmp_path, pair_source=leaky, progress=False)
    message = str(error.value)
    assert "the pair generator was trained on patient(s) outside the 2 training patients " in (
        message
    )
    assert "of 2p (repeat 0)" in message and split.test[0] in message
    config = seg_config(seg_data, arms=("real", "real+synthetic-from-masks"))
    sneaky = mask_source([0, 1, 2, 3], extra=split.val)
    with pytest.raises(BrainsynthError, match=f"mask-conditioned generator .*{split.val[0]}"):
        run_segmentation(config, tmp_path, mask_source=sneaky, progress=False)
    config = seg_config(seg_data, arms=("real", "synthetic"), synthetic_ratio=0.01)
    honest = pair_source(seg_data, [0, 1, 2, 3])
    with pytest.raises(BrainsynthError, match="0.01 gives no synthetic pair for the 12 real"):
        run_segmentation(config, tmp_path, pair_source=honest, progress=False)


def test_classic_augmentation_moves_masks_with_their_images():
    """A flipped, rotated and scaled image keeps its tumour under its label map: the image
    encodes the labels (label / 3) and intensity changes are off, so after augmentation the
    bright pixels and the labelled pixels coincide except at the resampled edges, and the
    labels stay whole numbers of the original set."""
    masks = torch.zeros(6, 1, 32, 32)
    masks[:, :, 6:14, 4:12] = 2
    masks[:, :, 8:12, 6:10] = 3
    images = masks / 3
    augment = ClassicAugment(flip=1.0, contrast=(1, 1), gamma=(1, 1))
    generator = torch.Generator().manual_seed(0)
    moved_images, moved_masks = augment.with_masks(images, masks, generator)
    assert torch.equal(moved_images, augment(images, torch.Generator().manual_seed(0)))
    assert set(moved_masks.unique().tolist()) <= {0.0, 2.0, 3.0}
    labelled, bright = moved_masks > 0, moved_images > 1 / 3
    for i in range(6):
        overlap = (labelled[i] & bright[i]).sum() / labelled[i].sum()
        assert overlap > 0.8 and (labelled[i] & (masks[i] > 0)).sum() == 0  # it moved


def fake_result(rng: np.random.Generator, patients: int, effect: float, repeats: int = 1):
    """Per-patient Dice N(0.6, 0.15) for every arm, + ``effect`` for real+synthetic."""
    config = AugmentEvalConfig(
        data="toy", task="segmentation", fractions=(), train_patients=(4,), repeats=repeats,
        arms=SEGMENTATION_ARMS, n_boot=300, seed=int(rng.integers(1_000_000)),
    )  # fmt: skip
    names = np.array([f"T{i:02d}" for i in range(patients)])
    result = SegmentationResult(
        PatientSplit(("a",), ("b",), tuple(names)),
        [TrainingSize("4p", count=4)],
        [{"4p": ("a",)}] * repeats,
        np.zeros((patients, 32, 32), dtype=np.uint8),
        names,
    )
    for arm in SEGMENTATION_ARMS:
        for r in range(repeats):
            shift = effect if arm == "real+synthetic" else 0.0
            dice = rng.normal(0.6 + shift, 0.15, size=(patients, 3))
            hd95 = rng.normal(10, 2, size=(patients, 3))
            result.scores[(arm, "4p", r)] = PatientScores(
                names, dice, hd95, np.ones(patients, int), np.ones((patients, 3), int)
            )
            result.counts[(arm, "4p", r)] = {"real": 8, "synthetic": 8, "patients": 4, "steps": 3}
    return result, config


def test_intervals_cover_a_known_dice_and_detect_a_known_difference():
    """30 test patients with Dice ~ N(0.6, 0.15): over 40 data sets the 95% interval of the
    mean must cover 0.6 at least 33 times (P(X <= 32) = 0.003 for X ~ Binomial(40, 0.95)),
    and a +0.15 shift (5.5 standard errors of the paired difference of region means) must
    exclude 0 every time."""
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(40):
        result, config = fake_result(rng, patients=30, effect=0.15)
        arms = summarise_segmentation(result, config)["arms"]
        low, high = arms["real"]["4p"]["regions"]["tumor_core"]["dice_ci95"]
        covered += low <= 0.6 <= high
        assert arms["real+synthetic"]["4p"]["vs_real"]["dice"]["difference_ci95"][0] > 0
        assert arms["real+synthetic"]["4p"]["vs_real_classic"]["dice"]["difference_ci95"][0] > 0
    assert covered >= 33


def test_repeats_enter_the_intervals():
    result, config = fake_result(np.random.default_rng(2), patients=6, effect=0.0, repeats=3)
    entry = summarise_segmentation(result, config)["arms"]["synthetic"]["4p"]
    assert len(entry["dice_repeats"]) == 3
    assert entry["dice"] == pytest.approx(np.mean(entry["dice_repeats"]))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--fractions", "2"], "--fractions: 2 is not in (0, 1]; for 2 patients use --train-"),
        (["--train-patients", "0"], "--train-patients: 0 is not a whole number >= 1"),
        (["--train-patients", "2,x"], "--train-patients '2,x': expected whole numbers"),
        (["--train-patients", "2,2"], "--train-patients: each count once"),
        (["--train-patients", "6"], "--train-patients 6: there are 5 training patients"),
        (["--arms", "real,real+synthetic", "--arch", "spade"], "cannot generate image + mask"),
        (["--arms", "synthetic,real", "--arch", "spade"], "(arms real+synthetic, synthetic)"),
        (
            ["--arms", "real,real+synthetic-from-masks", "--arch", "dcgan"],
            "--arch dcgan cannot draw images for a tumour mask",
        ),  # fmt: skip
        (["--arms", "real+classic"], "include 'real'"),
        (["--arms", "real,real+classic+synthetic"], "choose from real, real+classic, real+syn"),
        (["--tumor-threshold", "5"], "--tumor-threshold: classification only"),
    ],
)
def test_cli_refuses_bad_arguments_in_one_line(seg_data, tmp_path, capsys, extra, message):
    out = tmp_path / "out"
    code = main(["augment-eval", "--task", "segmentation", "--data", str(seg_data),
                 "--out", str(out), "--no-progress", *extra])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_cli_refuses_data_it_cannot_segment(tmp_path, capsys):
    old = seg_prepared(tmp_path / "old", patients=4, with_masks=False)
    small = seg_prepared(tmp_path / "small", patients=4, size=16)
    refusals = {
        old: "no masks.npy (prepared before brainsynth 0.4.0): re-run",
        small: "16x16 slices; the segmenter's U-Net needs at least 32x32",
    }
    for data, message in refusals.items():
        code = main(["augment-eval", "--task", "segmentation", "--data", str(data), "--out",
                     str(tmp_path / "out")])  # fmt: skip
        assert code == 2 and message in capsys.readouterr().err
    code = main(["augment-eval", "--data", str(old), "--out", str(tmp_path / "c"),
                 "--train-patients", "2"])  # fmt: skip
    assert code == 2 and "--train-patients: only with --task segmentation" in (
        capsys.readouterr().err
    )


def test_plan_only_writes_nested_training_sets(seg_data, tmp_path):
    out = tmp_path / "plan"
    assert main(["augment-eval", "--task", "segmentation", "--data", str(seg_data), "--out",
                 str(out), "--train-patients", "2,4", "--fractions", "0.5,1", "--repeats", "2",
                 "--plan-only"]) == 0  # fmt: skip
    splits = json.loads((out / "splits.json").read_text())
    assert not (out / "augment.json").exists()
    for sizes in splits["sizes"]:
        assert [len(sizes[k]) for k in ("2p", "4p", "0.5", "1")] == [2, 4, 3, 5]
        assert set(sizes["2p"]) <= set(sizes["0.5"]) <= set(sizes["4p"]) <= set(sizes["1"])
        assert set(sizes["1"]) == set(splits["train"])
    assert splits["sizes"][0]["2p"] != splits["sizes"][1]["2p"] or (
        splits["sizes"][0]["4p"] != splits["sizes"][1]["4p"]
    )
