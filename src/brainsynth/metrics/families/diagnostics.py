# ruff: noqa: E501  (one sentence per key reads better unwrapped)
"""Why a sample is detected: the radially averaged power spectrum, intensities inside and
outside the brain, and exactly black background pixels (the saliency split is the c2st's)."""

from __future__ import annotations

from typing import Any

from brainsynth.metrics.metric import CI, Headline, Metric, num, with_ci

SPECTRUM, HISTOGRAMS = "spectrum.png", "intensity_histograms.png"


def run(data: Any) -> dict[str, Any]:
    from brainsynth.metrics import intensity, spectrum

    cfg = data.config
    out = spectrum.spectrum_metrics(
        data.real, data.fake, cfg.n_bootstrap, cfg.seed, data.path(SPECTRUM)
    )
    out.update(
        intensity.intensity_metrics(
            data.real, data.fake, cfg.n_bootstrap, cfg.seed, data.path(HISTOGRAMS)
        )
    )
    return out


def summary(m: dict[str, Any]) -> list[str]:
    if m.get("spectrum_high_freq_ratio") is None:
        return []
    return [
        f"  why detected: high-frequency power synthetic/real "
        f"{with_ci(m, 'spectrum_high_freq_ratio')}; histogram EMD brain "
        f"{num(m.get('intensity_emd_brain'))}, background "
        f"{num(m.get('intensity_emd_background'))}; exactly black background "
        f"{num(m.get('black_fraction_real'))} real vs {num(m.get('black_fraction_fake'))} "
        "synthetic"
    ]


METRIC = Metric(
    name="diagnostics",
    order=80,
    help="why samples are detected: radially averaged power spectrum (spectrum.png), "
    "intensity histograms inside/outside the brain mask and the share of exactly black "
    "background pixels (intensity_histograms.png)",
    run=run,
    summary=summary,
    cost_s=1.8,
    figures=(SPECTRUM, HISTOGRAMS),
    headlines=(
        Headline("spectrum_high_freq_ratio", "High-frequency power, synthetic / real"),
        Headline("black_fraction_real", "Exactly black background, real"),
        Headline("black_fraction_fake", "Exactly black background, synthetic"),
    ),
    descriptions={
        "spectrum_high_freq_ratio": "Mean power of synthetic over real images in the highest spatial frequencies (from 75% of Nyquist to the spectrum's corner, where pixel checkerboards sit); 1 = matched, above 1 = excess fine detail such as up-sampling checkerboards, below 1 = too smooth.",
        "spectrum_high_freq_ratio_ci95": CI + "the high-frequency power ratio (bootstrap over images).",
        "spectrum_distance": "Mean absolute difference of the log10 radially averaged power spectra, real vs synthetic (0 = same spectrum; 1 = a tenfold power difference on average).",
        "spectrum_distance_ci95": CI + "the log-spectral distance (bootstrap over images).",
        "spectrum_real": "Mean radially averaged power spectrum of the real images, one value per integer radius from 0 to the corner (radius H/2 = Nyquist).",
        "spectrum_fake": "Mean radially averaged power spectrum of the synthetic images.",
        "spectrum_figure": "PNG: the two mean power spectra on a log scale.",
        "brain_mask_area_share": "Share of the image inside the brain mask (mean real image above 0.02).",
        "intensity_emd_brain": "Earth mover's distance between real and synthetic intensity histograms inside the brain mask (intensity units, 0..1).",
        "intensity_emd_brain_ci95": CI + "the brain-region histogram distance.",
        "intensity_emd_background": "Earth mover's distance between real and synthetic intensity histograms outside the brain mask (the background).",
        "intensity_emd_background_ci95": CI + "the background histogram distance.",
        "black_fraction_real": "Share of real background pixels (outside the brain mask) that are exactly 0.",
        "black_fraction_real_ci95": CI + "the real black-background share (bootstrap over images).",
        "black_fraction_fake": "Share of synthetic background pixels that are exactly 0; well below the real share means a grey or noisy background gives the images away.",
        "black_fraction_fake_ci95": CI + "the synthetic black-background share.",
        "intensity_figure": "PNG: pooled intensity histograms inside and outside the brain mask, real and synthetic.",
    },
)  # fmt: skip
