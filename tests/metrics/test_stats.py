"""Binomial test and intervals against SciPy; bootstrap intervals cover what they should."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from brainsynth.metrics.stats import (
    binomial_p_value,
    bootstrap_ci,
    bootstrap_mean_ci,
    clopper_pearson,
    wilson,
)


@pytest.mark.parametrize(
    ("k", "n"), [(50, 100), (54, 100), (70, 100), (3, 10), (0, 12), (400, 500)]
)
def test_binomial_p_value_matches_scipy(k, n):
    assert binomial_p_value(k, n) == pytest.approx(sps.binomtest(k, n, 0.5).pvalue, rel=1e-9)


def test_binomial_p_value_other_rate():
    assert binomial_p_value(30, 100, 0.2) == pytest.approx(sps.binomtest(30, 100, 0.2).pvalue)


@pytest.mark.parametrize(("k", "n"), [(0, 20), (7, 20), (20, 20), (932, 1000)])
def test_intervals_match_scipy(k, n):
    result = sps.binomtest(k, n)
    exact = result.proportion_ci(0.95, method="exact")
    assert clopper_pearson(k, n) == pytest.approx((exact.low, exact.high), abs=1e-9)
    score = result.proportion_ci(0.95, method="wilson")
    assert wilson(k, n) == pytest.approx((score.low, score.high), abs=1e-9)


def test_bootstrap_mean_interval_covers_true_mean_and_shrinks():
    rng = np.random.default_rng(0)
    small = bootstrap_mean_ci(rng.normal(1.0, 1.0, 100), seed=1)
    large = bootstrap_mean_ci(rng.normal(1.0, 1.0, 2500), seed=1)
    assert small[0] < 1.0 < small[1]
    assert large[0] < 1.0 < large[1]
    assert large[1] - large[0] < (small[1] - small[0]) / 3


def test_bootstrap_ci_bias_shift_centres_on_estimate():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 1))

    def spread(a):  # distinct values: every resample with duplicates has fewer
        return float(np.unique(a).size)

    plain = bootstrap_ci(spread, [x], 100, 0)
    shifted = bootstrap_ci(spread, [x], 100, 0, estimate=spread(x))
    assert plain[1] < 200  # percentile interval misses the full-sample value
    assert shifted[0] <= 200 <= shifted[1] + 1e-9
