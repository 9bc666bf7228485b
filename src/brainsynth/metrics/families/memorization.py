# ruff: noqa: E501  (one sentence per key reads better unwrapped)
"""Memorisation: the nearest training image of every synthetic image, in pixels (headline)
and in the handcrafted features, against how near new real patients come."""

from __future__ import annotations

from typing import Any

from brainsynth.metrics.metric import CI, Headline, Metric, num, with_ci

MONTAGE = "memorization_closest_pairs.png"


def run(data: Any) -> dict[str, Any]:
    import numpy as np

    from brainsynth.metrics import memorization

    cfg = data.config
    pixels = memorization.memorization(
        data.real, data.real_groups, data.fake, cfg.memorization_percentile, cfg.device
    )
    real_f, fake_f = data.features()
    feats = memorization.memorization(
        real_f, data.real_groups, fake_f, cfg.memorization_percentile, cfg.device
    )
    out = {
        "memorized_fraction": float(pixels["memorized"].mean()),
        "memorized_fraction_ci95": data.mean_ci(pixels["memorized"], 20),
        "memorization_threshold": pixels["threshold"],
        "memorization_percentile": cfg.memorization_percentile,
        "memorization_distance": "pixel Euclidean; threshold from held-out (other-patient) real",
        "memorization_nn_ratio_median": float(
            np.median(pixels["fake_distance"]) / max(np.median(pixels["held_out_distance"]), 1e-12)
        ),
        "memorized_fraction_features": float(feats["memorized"].mean()),
        "memorized_fraction_features_ci95": data.mean_ci(feats["memorized"], 21),
        "memorization_montage": None,
    }
    path = data.path(MONTAGE)
    if path is not None:
        memorization.closest_pairs_montage(data.fake, data.real, pixels, path, cfg.montage_count)
        out["memorization_montage"] = str(path)
    return out


def summary(m: dict[str, Any]) -> list[str]:
    if m.get("memorized_fraction") is None:
        return []
    return [
        f"  memorised {with_ci(m, 'memorized_fraction')} (pixels; "
        f"{num(m.get('memorized_fraction_features'))} in features; about "
        f"{m.get('memorization_percentile', 1) / 100:.2g} expected without copying)"
    ]


METRIC = Metric(
    name="memorization",
    order=70,
    help="nearest training image per synthetic image; share closer than new patients come",
    run=run,
    summary=summary,
    cost_s=0.7,
    required=("memorized_fraction",),
    figures=(MONTAGE,),
    headlines=(
        Headline("memorized_fraction", "Memorised fraction (pixels)"),
        Headline("memorized_fraction_features", "Memorised fraction (features)"),
    ),
    descriptions={
        "memorized_fraction": "Share of synthetic images closer (pixels) to a training image than 99% of held-out real patients come; about 0.01 = no copying.",
        "memorized_fraction_ci95": CI + "the memorised fraction (bootstrap over synthetic images).",
        "memorization_threshold": "Pixel distance below which a synthetic image counts as memorised (percentile of held-out real-to-train nearest distances).",
        "memorization_percentile": "Percentile of held-out real-to-train nearest distances used as threshold.",
        "memorization_distance": "Distance and reference behind the memorisation test.",
        "memorization_nn_ratio_median": "Median nearest-training distance of synthetic images over that of held-out real images (below 1 = closer to training than new patients are).",
        "memorized_fraction_features": "The memorised fraction measured in the handcrafted feature space.",
        "memorized_fraction_features_ci95": CI + "the feature-space memorised fraction.",
        "memorization_montage": "PNG: the synthetic images nearest to a training image (top) above that training image (bottom).",
    },
)  # fmt: skip
