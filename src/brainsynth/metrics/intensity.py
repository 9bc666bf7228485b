"""Intensities inside and outside the brain, and exactly black background (issue 17).

The brain mask is where the mean real image exceeds 0.02 (the background of the C2ST's
saliency split is its complement), the same mask for both sets: slices are registered and
taken from one range, so it marks where anatomy is expected. Pooled intensity histograms of
real and synthetic images are compared inside and outside the mask by the earth mover's
distance (intensity units, 0..1); the share of exactly black (0) pixels in the background
tells whether a generator draws the background real scans have.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from brainsynth.metrics import stats

BINS = 64
MASK_LEVEL = 0.02


def brain_mask(real: np.ndarray) -> np.ndarray:
    """(H, W) boolean: pixels whose mean over the real images (all channels) exceeds 0.02."""
    return np.asarray(real).mean(axis=(0, 1)) > MASK_LEVEL


def region_histograms(images: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(N, BINS) normalised intensity histogram of each image's pixels inside ``mask``."""
    x = np.asarray(images)[:, :, mask].reshape(len(images), -1)
    if x.shape[1] == 0:
        return np.zeros((len(images), BINS))
    q = np.clip((x * BINS).astype(np.int64), 0, BINS - 1) + np.arange(len(x))[:, None] * BINS
    counts = np.bincount(q.ravel(), minlength=len(x) * BINS).reshape(len(x), BINS)
    return counts / x.shape[1]


def histogram_emd(real_h: np.ndarray, fake_h: np.ndarray) -> float:
    """Earth mover's distance between the pooled histograms (1-D: area between the CDFs)."""
    cdf = np.cumsum(real_h.mean(axis=0)) - np.cumsum(fake_h.mean(axis=0))
    return float(np.abs(cdf).sum() / BINS)


def black_fractions(images: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Per image: share of background pixels that are exactly 0."""
    x = np.asarray(images)[:, :, background].reshape(len(images), -1)
    return (x == 0).mean(axis=1) if x.shape[1] else np.zeros(len(images))


def intensity_metrics(
    real: np.ndarray, fake: np.ndarray, n_boot: int, seed: int, figure: Path | None
) -> dict[str, Any]:
    """Histogram distances inside/outside the brain mask and black-background shares, with
    bootstrap 95% intervals over images, and a figure of the four pooled histograms."""
    mask = brain_mask(real)
    out: dict[str, Any] = {"brain_mask_area_share": float(mask.mean())}
    hists = {}
    for region, m in (("brain", mask), ("background", ~mask)):
        hr, hf = region_histograms(real, m), region_histograms(fake, m)
        hists[region] = (hr.mean(axis=0), hf.mean(axis=0))
        out[f"intensity_emd_{region}"] = histogram_emd(hr, hf)
        out[f"intensity_emd_{region}_ci95"] = list(
            stats.bootstrap_ci(histogram_emd, [hr, hf], n_boot, seed + len(region))
        )
    for side, images, offset in (("real", real, 30), ("fake", fake, 31)):
        values = black_fractions(images, ~mask)
        out[f"black_fraction_{side}"] = float(values.mean())
        out[f"black_fraction_{side}_ci95"] = list(
            stats.bootstrap_mean_ci(values, n_boot, seed + offset)
        )
    out["intensity_figure"] = None
    if figure is not None:
        from brainsynth.metrics.plots import Series, line_chart

        centres = ((np.arange(BINS) + 0.5) / BINS).tolist()
        series = [
            Series(f"{region} {side}", centres, hists[region][i].tolist(), markers=False)
            for region in ("brain", "background")
            for i, side in enumerate(("real", "synthetic"))
        ]
        line_chart(series, "intensity (0 = black, 1 = brightest)", "share of the region's pixels",
                   figure, logy=True,
                   title="intensity histograms inside / outside the brain mask")  # fmt: skip
        out["intensity_figure"] = str(figure)
    return out
