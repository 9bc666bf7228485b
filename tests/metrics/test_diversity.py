"""MS-SSIM (torchmetrics') against brainsynth's own until 0.3.0; pairs skip same-patient
images; histogram distance."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

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


def ms_ssim_030(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """brainsynth 0.3.0's own MS-SSIM (reflect padding, cropped contrast term, ReLU, 2x2
    pooling), kept as the reference the library's must equal on these sizes."""
    size = int(3.5 * 1.5 + 0.5) * 2 + 1
    dist = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    window = torch.exp(-((dist / 1.5) ** 2) / 2)
    window = window / window.sum()
    betas = torch.tensor(ms_ssim_betas(x.shape[-1]))[:, None]
    a, b = torch.from_numpy(x), torch.from_numpy(y)
    pad = (size - 1) // 2
    terms = []
    for scale in range(len(betas)):
        pa, pb = (F.pad(t, (pad,) * 4, mode="reflect") for t in (a, b))
        stacked = torch.cat([pa, pb, pa * pa, pb * pb, pa * pb])
        blurred = F.conv2d(F.conv2d(stacked, window[None, None, :, None]),
                           window[None, None, None, :]).split(len(a))  # fmt: skip
        mu_x2, mu_y2, mu_xy = blurred[0] ** 2, blurred[1] ** 2, blurred[0] * blurred[1]
        upper = 2 * (blurred[4] - mu_xy) + 0.03**2
        lower = (blurred[2] - mu_x2).clamp(min=0) + (blurred[3] - mu_y2).clamp(min=0) + 0.03**2
        ssim = ((2 * mu_xy + 0.01**2) * upper) / ((mu_x2 + mu_y2 + 0.01**2) * lower)
        cs = (upper / lower)[..., pad:-pad, pad:-pad]
        last = scale == len(betas) - 1
        terms.append(torch.relu((ssim if last else cs).flatten(1).mean(1)))
        a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    return torch.prod(torch.stack(terms) ** betas, dim=0).double().numpy()


@pytest.mark.numerics
@pytest.mark.parametrize("size", [64, 128])
def test_ms_ssim_equals_the_030_implementation(size):
    # torchmetrics' MS-SSIM replaced brainsynth's own; figures must not move (the tolerance
    # is float32 rounding of two summation orders).
    x, y = smooth_images(6, size, 0), smooth_images(6, size, 1)
    np.testing.assert_allclose(ms_ssim(x, y), ms_ssim_030(x, y), atol=1e-4)


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
