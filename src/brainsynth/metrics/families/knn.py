# ruff: noqa: E501  (one sentence per key reads better unwrapped)
"""The nearest-neighbour two-sample test in pixels: no neighbour from a test image's own
patient, and its real-vs-real control over the same patient halvings as the CNN's."""

from __future__ import annotations

from typing import Any

from brainsynth.metrics.metric import CI, Headline, Metric, num, with_ci

FEATURE_SPACE = "pixels (Euclidean)"


def _knn(data: Any, x0, g0, x1, g1, seed: int) -> dict[str, Any]:
    from brainsynth.metrics import c2st

    cfg = data.config
    return c2st.knn_c2st(x0, g0, x1, g1, cfg.knn_k, seed, device=cfg.device)


def cluster_interval(results: list[dict], n_boot: int, seed: int, minus: list | None = None):
    """Patient-cluster bootstrap 95% interval of the pooled accuracy of ``results`` (minus
    that of ``minus``, resampled independently, for a gap)."""
    import numpy as np

    from brainsynth.metrics import stats

    def draws(items: list[dict], tag: str, offset: int) -> list[float]:
        correct = np.concatenate([r["correct"] for r in items])
        groups = np.concatenate([[f"{tag}{i}|{g}" for g in r["test_groups"]]
                                 for i, r in enumerate(items)])  # fmt: skip
        rows = stats.cluster_bootstrap_indices(groups, n_boot, seed + offset)
        return [float(correct[r].mean()) for r in rows]

    values = np.asarray(draws(results, "a", 0))
    if minus is not None:
        values = values - np.asarray(draws(minus, "b", 1))
    return list(stats.percentile_interval(values))


def run(data: Any) -> dict[str, Any]:
    import numpy as np

    cfg = data.config
    main = _knn(data, data.real, data.real_groups, data.fake, data.fake_groups, cfg.seed)
    out: dict[str, Any] = {
        "c2st_knn_accuracy": main["accuracy"],
        "c2st_knn_p_value": main["p_value"],
        "c2st_knn_accuracy_ci95": main["ci95"],
        "c2st_knn_n": main["n"],
        "c2st_knn_n_reference": main["n_reference"],
        "c2st_knn_k": cfg.knn_k,
        "c2st_knn_feature_space": FEATURE_SPACE,
    }
    controls = []
    for repeat in range(max(1, cfg.knn_control_repeats)):
        half_a = data.halves(repeat)
        if half_a is None:
            out["c2st_knn_control_note"] = "not run: the control needs at least 6 real patients"
            return out
        x, g = data.real, data.real_groups
        controls.append(
            _knn(data, x[half_a], g[half_a], x[~half_a], g[~half_a], cfg.seed + 100 * repeat + 5)
        )
    accuracy = float(np.concatenate([c["correct"] for c in controls]).mean())
    out["c2st_knn_control_accuracy"] = accuracy
    out["c2st_knn_control_accuracy_ci95"] = cluster_interval(controls, cfg.n_bootstrap, cfg.seed)
    out["c2st_knn_control_repeats"] = len(controls)
    out["c2st_knn_control_n"] = int(sum(c["n"] for c in controls))
    out["c2st_knn_gap"] = main["accuracy"] - accuracy
    out["c2st_knn_gap_ci95"] = cluster_interval(
        [main], cfg.n_bootstrap, cfg.seed + 2, minus=controls
    )
    return out


def summary(m: dict[str, Any]) -> list[str]:
    if m.get("c2st_knn_accuracy") is None:
        return []
    return [
        f"  kNN C2ST (pixels, k={m.get('c2st_knn_k')}, other patients only): "
        f"{with_ci(m, 'c2st_knn_accuracy')}, control {num(m.get('c2st_knn_control_accuracy'))}"
        f"; gap {with_ci(m, 'c2st_knn_gap')}"
    ]


METRIC = Metric(
    name="knn",
    order=30,
    help="nearest-neighbour two-sample test in pixels, same-patient neighbours excluded",
    run=run,
    summary=summary,
    cost_s=0.4,
    required=("c2st_knn_accuracy",),
    headlines=(
        Headline("c2st_knn_accuracy", "kNN C2ST accuracy (pixels)", True),
        Headline("c2st_knn_control_accuracy", "kNN C2ST real-vs-real control", True),
    ),
    descriptions={
        "c2st_knn_accuracy": "Held-out accuracy of a k-nearest-neighbour classifier in pixel space, both sides split by patient so no neighbour is from the test image's own patient; 0.5 = indistinguishable.",
        "c2st_knn_p_value": "Exact binomial p-value of the kNN accuracy against 0.5 (held-out images counted as independent).",
        "c2st_knn_accuracy_ci95": "Clopper-Pearson 95% interval of the kNN accuracy (held-out images counted as independent).",
        "c2st_knn_n": "Held-out images (both classes, balanced) the kNN accuracy is measured on.",
        "c2st_knn_n_reference": "Reference images (both classes, balanced, other patients) the neighbours are drawn from.",
        "c2st_knn_control_note": "Why the kNN real-vs-real control was not run.",
        "c2st_knn_k": "Number of neighbours voting in the kNN test.",
        "c2st_knn_feature_space": "Space the kNN distances are measured in.",
        "c2st_knn_control_accuracy": "The same kNN test between patient-disjoint halves of the real data, pooled over the halvings; centres on 0.5.",
        "c2st_knn_control_accuracy_ci95": CI + "the kNN control accuracy (bootstrap over held-out patients, each with all its items).",
        "c2st_knn_control_repeats": "Number of random patient halvings behind the kNN control.",
        "c2st_knn_control_n": "Held-out images the kNN control accuracy is pooled over (all halvings).",
        "c2st_knn_gap": "kNN accuracy minus its real-vs-real control.",
        "c2st_knn_gap_ci95": CI + "the kNN gap (bootstrap over held-out patients of both tests; a synthetic image is its own cluster).",
    },
)  # fmt: skip
