"""Radially averaged power spectrum of real vs synthetic images (issue 17, "why detected").

Up-sampling layers of GANs leave periodic traces that show in the highest spatial
frequencies of the power spectrum (Durall et al., CVPR 2020; Dzanic et al., NeurIPS 2020):
excess power there (checkerboards, aliasing) or a deficit (over-smooth images). Per image,
the 2-D power spectrum |FFT|^2 (mean removed) is averaged over rings of equal radius, 0 to
the corner of the spectrum (sqrt(2) x Nyquist: a pixel checkerboard sits in that corner);
the sets are compared by their mean spectra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from brainsynth.metrics import stats

HIGH_BAND = 0.75  # the high-frequency band: radii from this share of Nyquist to the corner


def radial_spectra(images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (N, R) mean power per integer radius from 0 to the spectrum's corner
    (channel mean); radius min(H, W) // 2 is the Nyquist frequency."""
    x = np.asarray(images, np.float64)
    x = x - x.mean(axis=(-2, -1), keepdims=True)
    power = np.abs(np.fft.fftshift(np.fft.fft2(x), axes=(-2, -1))) ** 2
    power = power.mean(axis=1)
    h, w = power.shape[-2:]
    yy, xx = np.indices((h, w))
    radius = np.round(np.hypot(yy - h // 2, xx - w // 2)).astype(np.int64).ravel()
    top = int(radius.max())
    counts = np.bincount(radius, minlength=top + 1)
    flat = power.reshape(len(power), -1)
    sums = np.stack([np.bincount(radius, weights=row, minlength=top + 1) for row in flat])
    return sums / np.maximum(counts, 1)


def nyquist_radius(spectra: np.ndarray) -> int:
    """The Nyquist radius of spectra from :func:`radial_spectra` (corner = sqrt(2) x it)."""
    return int(round((spectra.shape[1] - 1) / np.sqrt(2)))


def high_freq_ratio(real: np.ndarray, fake: np.ndarray) -> float:
    """Mean synthetic power over mean real power in the high band (1 = matched)."""
    band = slice(int(np.ceil(HIGH_BAND * nyquist_radius(real))), None)
    return float(fake[:, band].mean() / max(real[:, band].mean(), 1e-30))


def log_spectral_distance(real: np.ndarray, fake: np.ndarray) -> float:
    """Mean |log10 mean-real-power - log10 mean-synthetic-power| over radii 1..corner."""
    r, f = real.mean(axis=0)[1:], fake.mean(axis=0)[1:]
    return float(np.abs(np.log10(np.maximum(r, 1e-30)) - np.log10(np.maximum(f, 1e-30))).mean())


def spectrum_metrics(
    real: np.ndarray, fake: np.ndarray, n_boot: int, seed: int, figure: Path | None
) -> dict[str, Any]:
    """Spectra of both sets: high-band ratio and log-spectral distance with bootstrap 95%
    intervals over images, the mean spectra, and a figure (log power vs frequency)."""
    sr, sf = radial_spectra(real), radial_spectra(fake)
    out: dict[str, Any] = {
        "spectrum_high_freq_ratio": high_freq_ratio(sr, sf),
        "spectrum_high_freq_ratio_ci95": list(stats.bootstrap_ci(high_freq_ratio, [sr, sf],
                                                                 n_boot, seed)),
        "spectrum_distance": log_spectral_distance(sr, sf),
        "spectrum_distance_ci95": list(stats.bootstrap_ci(log_spectral_distance, [sr, sf],
                                                          n_boot, seed + 1)),
        "spectrum_real": sr.mean(axis=0).tolist(),
        "spectrum_fake": sf.mean(axis=0).tolist(),
        "spectrum_figure": None,
    }  # fmt: skip
    if figure is not None:
        from brainsynth.metrics.plots import Series, line_chart

        freq = (np.arange(sr.shape[1]) / (2 * nyquist_radius(sr)))[1:].tolist()
        line_chart(
            [Series("real", freq, out["spectrum_real"][1:], markers=False),
             Series("synthetic", freq, out["spectrum_fake"][1:], markers=False)],
            "spatial frequency (cycles per pixel; 0.5 = Nyquist)",
            "mean power |FFT|² per ring (log scale)", figure, logy=True,
            title=f"power spectrum; high band ratio {out['spectrum_high_freq_ratio']:.2f}",
        )  # fmt: skip
        out["spectrum_figure"] = str(figure)
    return out
