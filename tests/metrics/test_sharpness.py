"""The sharpness family (added as one file, issue 27): blur reads below 1, noise above."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from brainsynth.metrics import families
from brainsynth.metrics.evaluate import EvalConfig, evaluate, format_summary


def test_sharpness_registers_and_tells_blur_from_noise(phantom_t1):
    assert "sharpness" in families.registered() and "sharpness" in EvalConfig().metrics
    real = phantom_t1.float_images()
    blurred = gaussian_filter(real, sigma=(0, 0, 1.5, 1.5)).astype(np.float32)
    noisy = np.clip(real + np.random.default_rng(0).normal(0, 0.05, real.shape), 0, 1)
    config = EvalConfig(metrics=["sharpness"], n_bootstrap=100)
    same = evaluate(phantom_t1, real, config, progress=False)
    # No training, no sampling: the same images give exactly 1 and an interval around it.
    assert same["sharpness_ratio"] == 1.0
    assert same["sharpness_ratio_ci95"][0] <= 1.0 <= same["sharpness_ratio_ci95"][1]
    soft = evaluate(phantom_t1, blurred, config, progress=False)
    grainy = evaluate(phantom_t1, noisy.astype(np.float32), config, progress=False)
    # A sigma-1.5 blur removes most Laplacian energy; noise of sd 0.05 adds 20 x 0.05^2 = 0.05
    # to a 4-neighbour Laplacian's variance, far above the phantom's own detail.
    assert soft["sharpness_ratio_ci95"][1] < 0.5
    assert grainy["sharpness_ratio_ci95"][0] > 1.5
    assert "sharpness (Laplacian variance in the brain) synthetic/real" in format_summary(soft)
