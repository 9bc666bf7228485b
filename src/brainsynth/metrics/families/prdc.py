# ruff: noqa: E501  (one sentence per key reads better unwrapped)
"""Precision/recall (Kynkäänniemi et al. 2019) and density/coverage (Naeem et al. 2020) on
the handcrafted features, each with a bootstrap 95% interval."""

from __future__ import annotations

from typing import Any

from brainsynth.metrics.metric import CI, Headline, Metric, num, with_ci


def run(data: Any) -> dict[str, Any]:
    from brainsynth.metrics import features, prdc

    cfg = data.config
    real_f, fake_f = data.features()
    flags = prdc.prdc(real_f, data.real_groups, fake_f, data.fake_groups, cfg.pr_k, cfg.dc_k)
    out: dict[str, Any] = {}
    for offset, (key, values) in enumerate(flags.items()):
        out[key] = float(values.mean())
        out[f"{key}_ci95"] = data.mean_ci(values, offset)
    out.update(
        {
            "prdc_feature_space": features.HANDCRAFTED_SPACE,
            "precision_recall_k": cfg.pr_k,
            "density_coverage_k": cfg.dc_k,
        }
    )
    return out


def summary(m: dict[str, Any]) -> list[str]:
    if m.get("precision") is None:
        return []
    return [
        f"  precision {with_ci(m, 'precision')}, recall {with_ci(m, 'recall')}, "
        f"density {num(m.get('density'))}, coverage {num(m.get('coverage'))}"
    ]


METRIC = Metric(
    name="prdc",
    order=50,
    help="precision/recall and density/coverage on the handcrafted features",
    run=run,
    summary=summary,
    cost_s=0.1,
    required=("precision", "recall"),
    headlines=(
        Headline("precision", "Precision"),
        Headline("recall", "Recall"),
        Headline("density", "Density"),
        Headline("coverage", "Coverage"),
    ),
    descriptions={
        "precision": "Share of synthetic images inside the real feature manifold (realism, Kynkäänniemi et al. 2019).",
        "precision_ci95": CI + "precision (bootstrap over synthetic images).",
        "recall": "Share of real images inside the synthetic feature manifold (coverage of real variety).",
        "recall_ci95": CI + "recall (bootstrap over real images).",
        "density": "Average number of real k-NN balls holding a synthetic image, divided by k (Naeem et al. 2020); about 1 when matched.",
        "density_ci95": CI + "density.",
        "coverage": "Share of real images whose k-NN ball holds at least one synthetic image (Naeem et al. 2020).",
        "coverage_ci95": CI + "coverage.",
        "prdc_feature_space": "Feature space of precision, recall, density and coverage.",
        "precision_recall_k": "k of the k-NN radii for precision and recall.",
        "density_coverage_k": "k of the k-NN radii for density and coverage.",
    },
)  # fmt: skip
