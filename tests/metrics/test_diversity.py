"""MS-SSIM against torchmetrics; pairs skip same-patient images; histogram distance."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

from brainsynth.metrics.diversity import (
    histogram_distance,
    intensity_histograms,
    ms_ssim,
    ms_ssim_betas,
    ms_ssim_scales,
    random_pairs,
)


def smooth_images(n: int, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    phase = rng.uniform(0, 6, size=(n, 1, 1, 1))
    base = 0.5 + 0.4 * np.sin(6 * xx + phase) * np.cos(4 * yy - phase)
    return np.clip(base + rng.normal(0, 0.05, (n, 1, size, size)), 0, 1).astype(np.float32)


@pytest.mark.numerics
@pytest.mark.parametrize("size", [64, 128])
def test_ms_ssim_matches_torchmetrics(size):
    x, y = smooth_images(6, size, 0), smooth_images(6, size, 1)
    ours = ms_ssim(x, y)
    reference = multiscale_structural_similarity_index_measure(
        torch.from_numpy(x),
        torch.from_numpy(y),
        data_range=1.0,
        betas=ms_ssim_betas(size),
        reduction="none",
        normalize="relu",
    ).numpy()
    np.testing.assert_allclose(ours, reference, atol=1e-4)


@pytest.mark.numerics
def test_ms_ssim_of_identical_images_is_one_and_of_unrelated_lower():
    x = smooth_images(4, 64, 0)
    np.testing.assert_allclose(ms_ssim(x, x), 1.0, atol=1e-5)
    assert (ms_ssim(x, smooth_images(4, 64, 9)) < 0.9).all()


def test_ms_ssim_scales_fit_the_image_size():
    assert [ms_ssim_scales(s) for s in (16, 32, 64, 128, 256)] == [1, 2, 3, 4, 5]
    assert sum(ms_ssim_betas(64)) == pytest.approx(1.0)


def test_random_pairs_never_join_one_patient():
    groups = np.repeat(["a", "b", "c"], 10)
    i, j = random_pairs(groups, 300, np.random.default_rng(0))
    assert len(i) == 300 and (groups[i] != groups[j]).all()


def test_histogram_distance_is_the_intensity_shift():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.2, 0.6, size=(50, 1, 16, 16))
    shifted = intensity_histograms(x + 0.1)
    assert histogram_distance(intensity_histograms(x), shifted) == pytest.approx(0.1, abs=0.01)
    assert histogram_distance(intensity_histograms(x), intensity_histograms(x)) == 0.0
