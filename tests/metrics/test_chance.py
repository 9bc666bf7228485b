"""Chance reads as chance (issue 27): two exchangeable cohorts, compared as real vs "fake"
with the second cohort's patients as groups, give every C2ST and every real-vs-real control
an accuracy centred on 0.5 over seeds, and detectability areas centred on 0."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from blobs import blob_dataset
from brainsynth.data.dataset import load_prepared
from brainsynth.metrics.evaluate import EvalConfig, evaluate
from margins import ALPHA

SEEDS = 10
ACCURACIES = ("c2st_accuracy", "c2st_control_accuracy", "c2st_knn_accuracy",
              "c2st_knn_control_accuracy")  # fmt: skip


def cohort(tmp_path, seed: int):
    """150 blob patients, one 16x16 slice each: held-out items are independent."""
    root = blob_dataset(tmp_path / f"cohort{seed}", patients=150, slices=1, size=16, seed=seed)
    return load_prepared(root).image_set("t1")


@pytest.mark.numerics
def test_exchangeable_cohorts_centre_on_chance(tmp_path):
    config = EvalConfig(
        metrics=["c2st", "knn", "detectability"], c2st_width=4, c2st_min_batches=5,
        c2st_control_repeats=1, knn_control_repeats=1, detectability_sizes=[16],
        n_bootstrap=50, threads=1,
    )  # fmt: skip
    runs = []
    for seed in range(SEEDS):
        a, b = cohort(tmp_path, 2 * seed), cohort(tmp_path, 2 * seed + 1)
        config.seed = seed
        runs.append(evaluate(a, b.float_images(), config, progress=False, fake_groups=b.patients))
    # Each seed draws two fresh cohorts, so the seeds' accuracies are independent; at chance
    # one accuracy on n independent balanced held-out items has variance at most 0.25 / n,
    # so the mean of the seeds has standard error at most sqrt(sum 0.25 / n_i) / SEEDS. The
    # bound is that many standard errors at two-sided level ALPHA (3.9 SE, not 2: at 2 SE a
    # correct implementation would fail one run in 22 for each of the four accuracies).
    z = stats.norm.isf(ALPHA / 2)
    sizes = {
        "c2st_accuracy": "c2st_n_test",
        "c2st_control_accuracy": "c2st_control_n_test",
        "c2st_knn_accuracy": "c2st_knn_n",
        "c2st_knn_control_accuracy": "c2st_knn_control_n",
    }
    for key in ACCURACIES:
        values = np.array([r[key] for r in runs])
        n = np.array([r[sizes[key]] for r in runs])
        se = np.sqrt((0.25 / n).sum()) / SEEDS
        assert abs(values.mean() - 0.5) <= z * se, (key, values.round(3), se)
    # Detectability areas are weighted means of 2 (accuracy - 0.5) over the curve's points,
    # each on the same held-out items: at most twice an accuracy's deviation.
    for key in ("detectability", "detectability_control"):
        values = np.array([r[key] for r in runs])
        n = np.array([r["detectability_n_test"] for r in runs])
        se = 2 * np.sqrt((0.25 / n).sum()) / SEEDS
        assert abs(values.mean()) <= z * se, (key, values.round(3), se)
    # The gap's patient-cluster interval holds 0 on most seeds (95% each)
    holds = [r["c2st_gap_ci95"][0] <= 0 <= r["c2st_gap_ci95"][1] for r in runs]
    assert sum(holds) >= stats.binom.ppf(ALPHA, SEEDS, 0.95), holds
