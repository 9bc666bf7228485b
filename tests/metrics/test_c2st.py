"""C2ST building blocks: patient-disjoint splits, the kNN test's same-patient exclusion,
early stopping that actually converges, and the saliency montage."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brainsynth.metrics.c2st import (
    C2STSettings,
    cnn_c2st,
    group_split,
    knn_c2st,
    refresh_batchnorm,
    saliency_summary,
    train_classifier,
)
from margins import accuracy_floor, chance_band


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


def checkerboard(images: np.ndarray, amplitude: float = 0.1) -> np.ndarray:
    """Add the pixel checkerboard that transposed convolutions leave in GAN images (Odena et
    al., Distill 2016): an artefact no real image has, at any contrast of the anatomy."""
    size = images.shape[-1]
    pattern = (np.indices((size, size)).sum(axis=0) % 2) * 2 - 1
    return np.clip(images + amplitude * pattern, 0, 1).astype(np.float32)


def same_patient_sets(n_patients: int = 60, slices: int = 8):
    """Two sets of different patients drawn from one distribution, with their patient ids."""
    x0, g0 = patient_volumes(n_patients, slices, 16, seed=0)
    x1, g1 = patient_volumes(n_patients, slices, 16, seed=1)
    return x0, g0, x1, g1


def image_ids(x: np.ndarray, prefix: str) -> np.ndarray:
    return np.array([f"{prefix}{i}" for i in range(len(x))])


@pytest.mark.numerics
def test_knn_c2st_ignores_same_patient_neighbours():
    # Two sets from one distribution of patients: at chance once the own patient's adjacent
    # slices can no longer vote. The votes for one patient's slices agree, so the independent
    # units are the 60 held-out patients (30 per set), not the 480 held-out images: the band
    # is Binomial(60, 0.5)'s (over 40 data seeds the accuracy's spread was 0.064, the
    # patient-level binomial's 0.065).
    x0, g0, x1, g1 = same_patient_sets()
    result = knn_c2st(x0, g0, x1, g1, k=5, seed=0)
    low, high = chance_band(60)
    assert low <= result["accuracy"] <= high
    # Treating every image as independent lets its own patient's adjacent slices vote: the
    # test then "detects" patient identity (issue 4's failure), far beyond the chance band.
    leaky = knn_c2st(x0, image_ids(x0, "r"), x1, image_ids(x1, "f"), k=5, seed=0)
    assert leaky["accuracy"] > high


@pytest.mark.numerics
def test_knn_c2st_separates_different_distributions():
    x0, g0, x1, g1 = same_patient_sets()
    result = knn_c2st(x0, g0, np.clip(x1 + 0.3, 0, 1), g1, k=5, seed=0)
    # A brightness shift of 0.3 puts nearly every image nearest its own set; even counting
    # only the 60 held-out patients as independent, >= 95% right gives at least this.
    assert result["accuracy"] >= accuracy_floor(60, 0.95)
    assert result["p_value"] < 1e-6


@pytest.mark.numerics
def test_cnn_c2st_converges_and_separates_checkerboard_artefacts():
    # One image per patient and two disjoint patient sets: held-out errors are independent,
    # so the test accuracy is binomial and both bounds below follow from n_test alone.
    x0, g0 = patient_volumes(160, 1, 16, seed=0)
    x1, g1 = patient_volumes(160, 1, 16, seed=1)
    settings = C2STSettings(width=8, max_epochs=60)
    result = cnn_c2st(x0, g0, checkerboard(x1), g1, settings, seed=0)
    assert result["training"]["converged"]  # stopped on the validation loss, not the cap
    assert result["training"]["epochs"] < settings.max_epochs
    # A converged CNN sees the artefact on >= 95% of images (it scored 1.0 for every seed and
    # kernel set tried); its held-out count then falls below this floor with p < 1e-4.
    assert result["accuracy"] >= accuracy_floor(result["n_test"], 0.95)
    lo, hi = result["ci95"]
    assert lo <= result["accuracy"] <= hi
    # The same training on two sets of one distribution stays within chance.
    null = cnn_c2st(x0, g0, x1, g1, settings, seed=0)
    low, high = chance_band(null["n_test"])
    assert low <= null["accuracy"] <= high
    # The saliency summary and montage come from the trained model.
    background = np.zeros((16, 16), dtype=bool)
    background[:4] = True
    summary = saliency_summary(result, background, None)
    assert 0.0 <= summary["saliency_background_share"] <= 1.0
    assert summary["background_area_share"] == 0.25


@pytest.mark.numerics
def test_cnn_c2st_is_reproducible():
    x0, g0 = patient_volumes(6, 8, 16, seed=0)
    x1, g1 = patient_volumes(6, 8, 16, seed=1)
    settings = C2STSettings(width=4, max_epochs=5, patience=2, min_batches_per_epoch=2)
    a = cnn_c2st(x0, g0, x1, g1, settings, seed=3)
    b = cnn_c2st(x0, g0, x1, g1, settings, seed=3)
    assert a["accuracy"] == b["accuracy"]
    assert torch.equal(a["test_logits"], b["test_logits"])


@pytest.mark.numerics
def test_kept_classifier_carries_the_batch_statistics_of_its_own_weights():
    # BatchNorm's running averages lag behind the weights (the evaluation-mode network once
    # called every image one class); the kept network must normalise with the statistics of
    # its training images at its kept weights: recomputing them changes nothing. 40 images
    # fit one batch, so the statistics do not depend on how the images are ordered.
    x, _ = patient_volumes(40, 1, 16, seed=0)
    images, labels = torch.from_numpy(x), (torch.arange(40) % 2).float()
    settings = C2STSettings(width=4, max_epochs=3, patience=1, min_batches_per_epoch=5)
    model, _ = train_classifier((images, labels), (images[:10], labels[:10]), settings, seed=0)
    kept = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    refresh_batchnorm(model, images, batch_size=64)
    for key, value in kept.items():
        torch.testing.assert_close(model.state_dict()[key], value, rtol=1e-4, atol=1e-5)
