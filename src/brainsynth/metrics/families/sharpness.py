# ruff: noqa: E501  (one sentence per key reads better unwrapped)
"""Sharpness: how much fine detail the brain holds, synthetic against real (a "why detected"
measure). Per image, the variance of the Laplacian (4-neighbour, replicate border) over the
pixels inside the brain mask (mean real image above 0.02, as the diagnostics' mask): blurry
samples, a common failure of generators trained briefly, score below the real images, and
noisy or checkerboarded ones above. The ratio of the synthetic to the real mean, with a
bootstrap 95% interval over images, is the headline (1 = as sharp as real slices)."""

from __future__ import annotations

from typing import Any

from brainsynth.metrics.metric import CI, Headline, Metric, with_ci


def laplacian_variance(images: Any, mask: Any) -> Any:
    """(N, C, H, W) in [0, 1] -> (N,) variance of the Laplacian over the ``mask`` pixels."""
    import numpy as np
    from scipy import ndimage

    kernel = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float64)[None, None]
    lap = ndimage.convolve(np.asarray(images, np.float64), kernel, mode="nearest")
    inside = lap[:, :, mask].reshape(len(lap), -1)
    return inside.var(axis=1) if inside.shape[1] else np.zeros(len(lap))


def ratio(real: Any, fake: Any) -> float:
    return float(fake.mean() / max(real.mean(), 1e-12))


def run(data: Any) -> dict[str, Any]:
    from brainsynth.metrics import intensity, stats

    cfg = data.config
    mask = intensity.brain_mask(data.real)
    real, fake = laplacian_variance(data.real, mask), laplacian_variance(data.fake, mask)
    value = ratio(real, fake)
    return {
        "sharpness_real": float(real.mean()),
        "sharpness_fake": float(fake.mean()),
        "sharpness_ratio": value,
        "sharpness_ratio_ci95": list(
            stats.bootstrap_ci(ratio, [real, fake], cfg.n_bootstrap, cfg.seed + 40)
        ),
    }


def summary(m: dict[str, Any]) -> list[str]:
    if m.get("sharpness_ratio") is None:
        return []
    return [
        f"  sharpness (Laplacian variance in the brain) synthetic/real {with_ci(m, 'sharpness_ratio')}"
    ]


METRIC = Metric(
    name="sharpness",
    order=85,
    help="fine detail in the brain: variance of the Laplacian inside the brain mask, synthetic "
    "over real (1 = as sharp; below 1 = blurry)",
    run=run,
    summary=summary,
    cost_s=0.5,
    headlines=(Headline("sharpness_ratio", "Sharpness, synthetic / real (Laplacian variance)"),),
    descriptions={
        "sharpness_real": "Mean variance of the Laplacian of the real images inside the brain mask (intensity units squared).",
        "sharpness_fake": "Mean variance of the Laplacian of the synthetic images inside the brain mask.",
        "sharpness_ratio": "sharpness_fake over sharpness_real: 1 = as much fine detail as real slices, below 1 = blurry, above 1 = noisy or checkerboarded.",
        "sharpness_ratio_ci95": CI + "the sharpness ratio (bootstrap over images of both sets).",
    },
)  # fmt: skip
