"""Why a sample is detected (issue 17): spectrum, intensities inside/outside the brain and
black background, on images with a known artefact."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from blobs import blob_dataset
from brainsynth.data.dataset import load_prepared
from brainsynth.metrics import intensity, spectrum
from brainsynth.metrics.evaluate import EvalConfig, evaluate


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    root = blob_dataset(tmp_path_factory.mktemp("diag") / "p", patients=10, slices=6, size=32)
    return load_prepared(root).image_set("t1")


def test_a_checkerboard_raises_and_blur_lowers_the_high_frequencies(real):
    x = real.float_images()
    pattern = (np.indices((32, 32)).sum(axis=0) % 2) * 2 - 1
    checker = np.clip(x + 0.05 * pattern, 0, 1)
    blurred = gaussian_filter(x, sigma=(0, 0, 1.0, 1.0))
    sr = spectrum.radial_spectra(x)
    assert sr.shape == (len(x), 24)  # radii 0..23: the corner of a 32x32 spectrum
    # Smooth blobs have little power in the corner of the spectrum, where a 0.05 pixel
    # checkerboard puts (0.05 * 32^2)^2 per image, orders of magnitude more; blur damps it.
    assert spectrum.high_freq_ratio(sr, spectrum.radial_spectra(checker)) > 10
    assert spectrum.high_freq_ratio(sr, spectrum.radial_spectra(blurred)) < 0.5
    assert spectrum.high_freq_ratio(sr, sr) == pytest.approx(1.0)
    assert spectrum.log_spectral_distance(sr, sr) == 0.0


def test_a_grey_background_shows_outside_the_brain_only(real):
    x = real.float_images()
    outside = ~intensity.brain_mask(x)
    grey = np.where((x == 0) & outside, 0.04, x).astype(np.float32)  # background lifted only
    out = intensity.intensity_metrics(x, grey, n_boot=50, seed=0, figure=None)
    assert out["black_fraction_real"] > 0.9 and out["black_fraction_fake"] == 0.0
    # Nearly all background pixels move by 0.04 (64 bins: 0.04 sits in bin 2, 0.03-0.05)
    assert out["intensity_emd_background"] > 0.9 * 0.03
    assert out["intensity_emd_brain"] == 0.0
    same = intensity.intensity_metrics(x, x, n_boot=50, seed=0, figure=None)
    assert same["intensity_emd_brain"] == same["intensity_emd_background"] == 0.0


def test_evaluate_writes_the_diagnostics_and_their_figures(real, tmp_path):
    x = real.float_images()
    pattern = (np.indices((32, 32)).sum(axis=0) % 2) * 2 - 1
    fake = np.clip(x + 0.05 * pattern, 0, 1).astype(np.float32)
    config = EvalConfig(metrics=["diagnostics"], n_bootstrap=50)
    metrics = evaluate(real, fake, config, out_dir=tmp_path, progress=False)
    low, high = metrics["spectrum_high_freq_ratio_ci95"]
    assert 10 < low <= metrics["spectrum_high_freq_ratio"] <= high
    for key in ("spectrum_figure", "intensity_figure"):
        assert (tmp_path / metrics[key].split("/")[-1]).is_file()
    assert len(metrics["spectrum_real"]) == 24
