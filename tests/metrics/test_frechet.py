"""Fréchet distance against closed forms and a direct SciPy computation; KID behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from brainsynth.metrics.frechet import (
    fid_from_features,
    frechet_distance,
    frechet_distance_scipy,
    kid,
)


def test_frechet_distance_of_diagonal_gaussians_has_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    value = frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
    assert value == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_matches_scipy_sqrtm_on_random_gaussians():
    rng = np.random.default_rng(0)
    for dim in (2, 8, 40):
        a, b = rng.normal(size=(dim, dim)), rng.normal(size=(dim, dim))
        s1, s2 = a @ a.T + 0.1 * np.eye(dim), b @ b.T + 0.1 * np.eye(dim)
        mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
        ours = frechet_distance(mu1, s1, mu2, s2)
        assert ours == pytest.approx(frechet_distance_scipy(mu1, s1, mu2, s2), rel=1e-6)


def test_frechet_distance_on_samples_estimates_the_population_value():
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 1.0, size=(20000, 4))
    y = rng.normal(0.5, 2.0, size=(20000, 4))
    expected = 4 * 0.5**2 + 4 * (1 - 2) ** 2
    assert fid_from_features(x, y) == pytest.approx(expected, rel=0.03)
    assert fid_from_features(x, rng.normal(size=(20000, 4))) < 0.01


def test_frechet_distance_is_finite_with_singular_covariances():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(10, 50)), rng.normal(size=(10, 50)) + 1
    value = fid_from_features(x, y)
    assert np.isfinite(value) and value > 40  # mean shift alone contributes 50


def test_kid_is_near_zero_for_one_distribution_and_grows_with_shift():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(500, 8)), rng.normal(size=(500, 8))
    same, _, _ = kid(x, y, subset_size=200, subsets=20)
    shifted, _, _ = kid(x, y + 1.0, subset_size=200, subsets=20)
    assert abs(same) < 0.05
    assert shifted > 10 * abs(same) + 0.1
