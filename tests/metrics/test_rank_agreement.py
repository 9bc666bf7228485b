"""Rank agreement between a realism measure and a per-patient benefit (issue 25, item 8)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from brainsynth.metrics.rank_agreement import (
    permutation_p_value,
    rank_agreement,
    rho_step,
    spearman,
)


def test_a_measure_ranking_the_models_as_their_benefit_agrees_fully():
    # 5 models, 4 patients; every patient ranks the models alike, so no resample can disagree
    per_patient = np.arange(5.0)[:, None] * 0.1 + np.array([0.0, 0.01, -0.02, 0.03])
    result = rank_agreement(np.array([1.0, 2.0, 3.5, 4.0, 9.0]), per_patient, n_boot=100)
    assert result["rho"] == pytest.approx(1.0)
    assert result["rho_ci95_patients"] == pytest.approx([1.0, 1.0])
    assert result["rho_ci95"] == pytest.approx([1.0, 1.0])  # any resample of >= 2 distinct models
    assert result["p_value"] == pytest.approx(2 / math.factorial(5))  # exact: 2 of 120 pairings
    assert result["n_models"] == 5 and result["n_patients"] == 4
    reversed_ = rank_agreement(-np.array([1.0, 2.0, 3.5, 4.0, 9.0]), per_patient, n_boot=50)
    assert reversed_["rho"] == pytest.approx(-1.0)
    assert reversed_["rho_ci95"] == pytest.approx([-1.0, -1.0])


def test_the_benefit_is_the_mean_over_patients_and_rho_is_scipys():
    rng = np.random.default_rng(3)
    per_patient = rng.normal(size=(6, 9))
    measure = rng.normal(size=6)
    result = rank_agreement(measure, per_patient, n_boot=100, seed=1)
    expected = stats.spearmanr(measure, per_patient.mean(axis=1)).statistic
    assert result["rho"] == pytest.approx(expected)
    for key in ("rho_ci95_patients", "rho_ci95"):
        low, high = result[key]
        assert -1.0 <= low <= high <= 1.0
    # resampling the models as well can only widen what the patients alone leave uncertain
    width = np.diff(result["rho_ci95"])[0]
    assert width >= np.diff(result["rho_ci95_patients"])[0] - 1e-12


def test_patient_noise_widens_the_patient_interval():
    # the benefit ordering is clear on average but one patient reverses it
    base = np.arange(4.0)[:, None] * np.ones((4, 6))
    noisy = base.copy()
    noisy[:, 0] = -10 * np.arange(4.0)  # patient 0 ranks the models backwards, strongly
    clear = rank_agreement(np.arange(4.0), base, n_boot=100)
    unclear = rank_agreement(np.arange(4.0), noisy, n_boot=100)
    assert clear["rho_ci95_patients"] == pytest.approx([1.0, 1.0])
    assert unclear["rho_ci95_patients"][0] <= -0.5  # resamples with patient 0 twice flip it


def test_constant_sides_have_no_rho_and_the_step_says_how_coarse_rho_is():
    assert math.isnan(spearman(np.ones(4), np.arange(4.0)))
    assert math.isnan(permutation_p_value(np.arange(4.0), np.zeros(4)))
    assert rho_step(6) == pytest.approx(12 / 210)
    assert rho_step(4) == pytest.approx(0.2)


def test_mismatched_or_non_finite_inputs_are_refused():
    with pytest.raises(ValueError, match="expected"):
        rank_agreement(np.arange(3.0), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="finite"):
        rank_agreement(np.array([0.0, np.nan, 1.0]), np.zeros((3, 2)))
