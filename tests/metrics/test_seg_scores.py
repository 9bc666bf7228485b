"""Region Dice and HD95 by the BraTS conventions: regions from labels, empty cases, patients,
bootstrap by patient."""

from __future__ import annotations

import math

import numpy as np
import pytest

from brainsynth.data.masks import REGIONS, region
from brainsynth.errors import BrainsynthError
from brainsynth.metrics.seg_scores import (
    REGION_NAMES,
    dice_from_counts,
    overlap_counts,
    patient_bootstrap,
    score_patients,
    slice_hd95,
    stacked_dice,
    summarise_scores,
    worst_hd95,
)

WT, TC, ET = range(3)


def square(size: int, top: int, left: int, side: int, label: int = 2) -> np.ndarray:
    mask = np.zeros((size, size), dtype=np.uint8)
    mask[top : top + side, left : left + side] = label
    return mask


def test_regions_are_unions_of_labels():
    labels = np.arange(4, dtype=np.uint8)
    assert REGION_NAMES == ("whole_tumor", "tumor_core", "enhancing")
    assert region(labels, "whole_tumor").tolist() == [False, True, True, True]
    assert region(labels, "tumor_core").tolist() == [False, True, False, True]
    assert region(labels, "enhancing").tolist() == [False, False, False, True]
    assert set(REGIONS) == set(REGION_NAMES)
    with pytest.raises(BrainsynthError, match="unknown region"):
        region(labels, "edema")


def test_empty_cases_follow_the_conventions():
    """Both empty: Dice 1, HD95 0. Exactly one empty: Dice 0, HD95 the diagonal in pixels."""
    empty = np.zeros((1, 32, 24), dtype=np.uint8)
    tumour = square(32, 4, 4, 6)[None, :, :24]
    diagonal = math.hypot(32, 24)
    assert worst_hd95(32, 24) == diagonal
    assert stacked_dice(empty, empty).tolist() == [1.0, 1.0, 1.0]
    assert slice_hd95(empty, empty).tolist() == [[0.0, 0.0, 0.0]]
    for prediction, reference in ((tumour, empty), (empty, tumour)):
        assert stacked_dice(prediction, reference)[WT] == 0.0
        assert slice_hd95(prediction, reference)[0, WT] == diagonal
        # label 2 (oedema) only: the core and enhancing regions are empty on both sides
        assert slice_hd95(prediction, reference)[0, TC] == 0.0
        assert stacked_dice(prediction, reference)[ET] == 1.0


def test_hd95_of_a_shifted_square_is_the_shift_in_pixels():
    reference = square(32, 8, 8, 10)[None]
    shifted = square(32, 8, 11, 10)[None]
    assert slice_hd95(shifted, reference)[0, WT] == pytest.approx(3.0)
    assert slice_hd95(reference, reference)[0, WT] == 0.0
    # Dice of a 10x10 square against a copy moved by 3 columns: 2 * 70 / 200
    assert stacked_dice(shifted, reference)[WT] == pytest.approx(0.7)


def test_scores_are_per_region_not_per_label():
    """Necrosis (1) predicted where the reference has enhancing tumour (3): whole tumour and
    core are right, enhancing tumour is missed."""
    reference = square(32, 8, 8, 10, label=3)[None]
    prediction = square(32, 8, 8, 10, label=1)[None]
    assert stacked_dice(prediction, reference).tolist() == [1.0, 1.0, 0.0]


def test_stacked_dice_pools_slices_and_matches_the_counts():
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 4, size=(5, 16, 16)).astype(np.uint8)
    prediction = np.where(rng.random((5, 16, 16)) < 0.7, reference, rng.integers(0, 4)).astype(
        np.uint8
    )
    counts = overlap_counts(prediction, reference).sum(axis=0)
    assert np.allclose(stacked_dice(prediction, reference), dice_from_counts(counts))
    wt_ref, wt_pred = reference > 0, prediction > 0
    manual = 2 * (wt_ref & wt_pred).sum() / (wt_ref.sum() + wt_pred.sum())
    assert stacked_dice(prediction, reference)[WT] == pytest.approx(manual)


def test_patient_scores_stack_dice_and_average_hd95_over_scored_slices():
    """Patient a: a perfect slice and a tumour-free slice (both empty); patient b: a missed
    tumour and a slice right; patient c: nothing anywhere."""
    empty = np.zeros((32, 32), dtype=np.uint8)
    tumour = square(32, 8, 8, 10)
    reference = np.stack([tumour, empty, tumour, tumour, empty])
    prediction = np.stack([tumour, empty, empty, tumour, empty])
    scores = score_patients(prediction, reference, np.array(["a", "a", "b", "b", "c"]))
    assert scores.patients.tolist() == ["a", "b", "c"]
    assert scores.dice[:, WT].tolist() == [1.0, pytest.approx(2 / 3), 1.0]
    # b: HD95 of the missed slice (diagonal) and of the right one (0), averaged; the empty
    # slice of a does not count, and c, empty throughout, is one empty case (HD95 0)
    assert scores.hd95[:, WT].tolist() == [0.0, pytest.approx(worst_hd95(32, 32) / 2), 0.0]
    assert scores.slices.tolist() == [2, 2, 1]
    assert scores.empty_reference[:, WT].tolist() == [1, 0, 1]
    assert scores.empty_reference[:, ET].tolist() == [2, 2, 1]
    with pytest.raises(BrainsynthError, match="patient ids"):
        score_patients(prediction, reference, np.array(["a"]))
    with pytest.raises(BrainsynthError, match="one shape"):
        score_patients(prediction[:2], reference, np.array(["a"] * 5))


def test_bootstrap_resamples_patients_not_slices():
    """Two patients of 50 slices each, one scoring 1 and one 0: an interval over patients
    spans [0, 1]; resampling the 100 slices would give about 0.5 +- 0.1."""
    empty = np.zeros((50, 32, 32), dtype=np.uint8)
    tumour = np.repeat(square(32, 8, 8, 10)[None], 50, axis=0)
    reference = np.concatenate([tumour, tumour])
    prediction = np.concatenate([tumour, empty])
    scores = score_patients(prediction, reference, np.repeat(["good", "bad"], 50))
    summary = summarise_scores(scores, n_boot=400, seed=0)
    assert summary["regions"]["whole_tumor"]["dice"] == 0.5
    assert summary["regions"]["whole_tumor"]["dice_ci95"] == [0.0, 1.0]
    assert summary["patients"] == 2 and summary["slices"] == 100
    assert summary["regions"]["enhancing"]["empty_reference_slices"] == 100
    index = patient_bootstrap(7, 30, seed=1)
    assert index.shape == (30, 7) and index.min() >= 0 and index.max() <= 6
