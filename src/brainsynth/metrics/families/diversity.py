# ruff: noqa: E501  (one sentence per key reads better unwrapped)
"""Diversity and collapse: mean pairwise MS-SSIM within each set, the distance between the
sets' intensity histograms, and the collapse flag (the paper's DCGAN collapse, §4.1)."""

from __future__ import annotations

from typing import Any

from brainsynth.metrics.metric import CI, Headline, Metric, num, with_ci


def real_side(data: Any) -> Any:
    """MS-SSIM of random pairs of real images (kept in the prepared set's cache)."""
    from brainsynth.metrics import diversity

    cfg = data.config

    def real_pairs() -> dict[str, Any]:
        scores = diversity.pairwise_ms_ssim(
            data.real, data.real_groups, cfg.ms_ssim_pairs, cfg.seed, cfg.device
        )
        return {"scores": scores}

    return data.real_record("ms-ssim-real", [cfg.ms_ssim_pairs], real_pairs)["scores"]


def run(data: Any) -> dict[str, Any]:
    from brainsynth.metrics import diversity, stats

    cfg = data.config
    real_scores = real_side(data)
    fake_scores = diversity.pairwise_ms_ssim(
        data.fake, data.fake_groups, cfg.ms_ssim_pairs, cfg.seed, cfg.device
    )
    real_ci, fake_ci = data.mean_ci(real_scores, 10), data.mean_ci(fake_scores, 11)
    excess = float(fake_scores.mean() - real_scores.mean())
    real_h = diversity.intensity_histograms(data.real)
    fake_h = diversity.intensity_histograms(data.fake)
    hist = diversity.histogram_distance(real_h, fake_h)
    hist_ci = stats.bootstrap_ci(
        diversity.histogram_distance, [real_h, fake_h], cfg.n_bootstrap, cfg.seed, estimate=hist
    )
    return {
        "ms_ssim_real": float(real_scores.mean()),
        "ms_ssim_real_ci95": real_ci,
        "ms_ssim_fake": float(fake_scores.mean()),
        "ms_ssim_fake_ci95": fake_ci,
        "ms_ssim_pairs": len(real_scores),
        "ms_ssim_scales": diversity.ms_ssim_scales(data.real.shape[-1]),
        "ms_ssim_window": "Gaussian 11x11, sigma 1.5",
        "ms_ssim_excess": excess,
        "histogram_distance": hist,
        "histogram_distance_ci95": list(hist_ci),
        "collapse_suspected": bool(excess > cfg.collapse_margin and fake_ci[0] > real_ci[1]),
    }


def summary(m: dict[str, Any]) -> list[str]:
    if m.get("ms_ssim_real") is None:
        return []
    flag = "LIKELY COLLAPSE" if m.get("collapse_suspected") else "no collapse flagged"
    return [
        f"  MS-SSIM within real {with_ci(m, 'ms_ssim_real')}, within synthetic "
        f"{with_ci(m, 'ms_ssim_fake')}; histogram EMD {num(m.get('histogram_distance'))}: {flag}"
    ]


METRIC = Metric(
    name="diversity",
    order=60,
    help="mean pairwise MS-SSIM within each set, intensity-histogram distance, collapse flag",
    run=run,
    summary=summary,
    cost_s=1.5,
    real_side=real_side,
    real_cost_s=1.5,
    required=("ms_ssim_real", "ms_ssim_fake"),
    headlines=(
        Headline("ms_ssim_real", "MS-SSIM within real"),
        Headline("ms_ssim_fake", "MS-SSIM within synthetic"),
        Headline("histogram_distance", "Histogram distance (EMD)"),
    ),
    descriptions={
        "ms_ssim_real": "Mean MS-SSIM between random pairs of real images of different patients (higher = less diverse).",
        "ms_ssim_real_ci95": CI + "the real MS-SSIM (bootstrap over pairs).",
        "ms_ssim_fake": "Mean MS-SSIM between random pairs of synthetic images; well above the real value hints at mode collapse.",
        "ms_ssim_fake_ci95": CI + "the synthetic MS-SSIM (bootstrap over pairs).",
        "ms_ssim_pairs": "Random pairs per set behind each MS-SSIM mean.",
        "ms_ssim_scales": "Number of MS-SSIM scales used at this image size.",
        "ms_ssim_window": "MS-SSIM window.",
        "ms_ssim_excess": "ms_ssim_fake minus ms_ssim_real.",
        "histogram_distance": "Earth mover's distance between the pooled real and synthetic pixel-intensity histograms (intensity units, 0..1).",
        "histogram_distance_ci95": CI + "the histogram distance (bootstrap over images).",
        "collapse_suspected": "True when synthetic images are much less diverse than real ones (MS-SSIM excess above the margin, intervals apart).",
    },
)  # fmt: skip
