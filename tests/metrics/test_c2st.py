"""C2ST building blocks: patient-disjoint splits, the kNN test's same-patient exclusion,
early stopping that actually converges, and the saliency montage."""

from __future__ import annotations

import numpy as np
import torch

from brainsynth.metrics.c2st import (
    C2STSettings,
    cnn_c2st,
    group_split,
    knn_c2st,
    saliency_summary,
)


def test_group_split_keeps_each_patient_in_one_split():
    groups = np.repeat([f"P{i}" for i in range(10)], 7)
    split = group_split(groups, 0.15, 0.25, np.random.default_rng(0))
    for g in np.unique(groups):
        assert len(np.unique(split[groups == g])) == 1
    assert set(np.unique(split)) == {0, 1, 2}
    assert 0.1 <= (split == 2).mean() <= 0.4


def patient_volumes(n_patients: int, slices: int, size: int, seed: int):
    """Each patient: a random smooth pattern drifting slowly over slices (adjacent slices
    nearly identical), so nearest neighbours within a patient are trivially close."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    images, groups = [], []
    for p in range(n_patients):
        fx, fy, ph = rng.uniform(2, 8), rng.uniform(2, 8), rng.uniform(0, 6)
        for s in range(slices):
            img = 0.5 + 0.4 * np.sin(fx * xx + ph + 0.02 * s) * np.cos(fy * yy)
            images.append(img[None])
            groups.append(f"{seed}:{p}")
    return np.stack(images).astype(np.float32), np.array(groups)


def test_knn_c2st_ignores_same_patient_neighbours():
    # Two sets drawn from one distribution of patients: at chance once the own patient's
    # adjacent slices can no longer vote.
    x0, g0 = patient_volumes(12, 10, 16, seed=0)
    x1, g1 = patient_volumes(12, 10, 16, seed=1)
    result = knn_c2st(x0, g0, x1, g1, k=5, seed=0)
    assert 0.35 <= result["accuracy"] <= 0.65
    # Treating the second set as independent images (no groups) lets its own slices vote:
    # the test then "detects" patient identity, exactly the failure issue 4 warns about.
    leaky = knn_c2st(x0, g0, x1, np.array([f"i{i}" for i in range(len(x1))]), k=5, seed=0)
    assert leaky["accuracy"] > result["accuracy"] + 0.1


def test_knn_c2st_separates_different_distributions():
    x0, g0 = patient_volumes(12, 10, 16, seed=0)
    x1 = np.clip(x0 + 0.3, 0, 1)
    result = knn_c2st(x0, g0, x1, np.array([f"f{i}" for i in range(len(x1))]), k=5)
    assert result["accuracy"] > 0.95 and result["p_value"] < 1e-6


def test_cnn_c2st_converges_and_separates_shifted_images():
    x0, g0 = patient_volumes(9, 12, 16, seed=0)
    x1 = np.clip(x0 * 0.8 + 0.1, 0, 1)  # contrast-compressed copies
    g1 = np.array([f"f{i}" for i in range(len(x1))])
    settings = C2STSettings(width=8, max_epochs=60)
    result = cnn_c2st(x0, g0, x1, g1, settings, seed=0)
    assert result["training"]["converged"]  # stopped on the validation loss, not the cap
    assert result["training"]["epochs"] < settings.max_epochs
    assert result["accuracy"] > 0.85
    lo, hi = result["ci95"]
    assert lo <= result["accuracy"] <= hi
    # The saliency summary and montage come from the trained model.
    background = np.zeros((16, 16), dtype=bool)
    background[:4] = True
    summary = saliency_summary(result, background, None)
    assert 0.0 <= summary["saliency_background_share"] <= 1.0
    assert summary["background_area_share"] == 0.25


def test_cnn_c2st_is_reproducible():
    x0, g0 = patient_volumes(6, 8, 16, seed=0)
    x1, g1 = patient_volumes(6, 8, 16, seed=1)
    settings = C2STSettings(width=4, max_epochs=5, patience=2, min_batches_per_epoch=2)
    a = cnn_c2st(x0, g0, x1, g1, settings, seed=3)
    b = cnn_c2st(x0, g0, x1, g1, settings, seed=3)
    assert a["accuracy"] == b["accuracy"]
    assert torch.equal(a["test_logits"], b["test_logits"])
