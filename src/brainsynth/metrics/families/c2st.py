# ruff: noqa: E501  (one sentence per key reads better unwrapped)
"""The CNN classifier two-sample test (Lopez-Paz & Oquab 2017; the paper's §5 future work):
real vs synthetic, its real-vs-real control between patient-disjoint halves, their gap with
a patient-cluster bootstrap interval, and where the classifier looks."""

from __future__ import annotations

from typing import Any

from brainsynth.metrics.metric import CI, Headline, Metric, with_ci

MONTAGE = "c2st_saliency.png"


def held_out_clusters(result: dict[str, Any], tag: str) -> Any:
    """The cluster (patient, or synthetic group) of every held-out image of a C2ST, prefixed
    by ``tag`` so that clusters of two tests never merge."""
    import numpy as np

    return np.array([f"{tag}|{g}" for g in result["test_groups"]])


def gap_interval(main: dict, controls: list[dict], n_boot: int, seed: int) -> list[float]:
    """Patient-cluster bootstrap 95% interval of main accuracy minus control accuracy.

    Held-out slices of one patient are correlated (the classifier sees the patient, not the
    slice), so whole patients are resampled, independently for the main test and for the
    pooled controls (a patient held out in several control repeats is drawn with all of its
    items); each synthetic image, or each patient of a second prepared set, is a cluster.
    """
    import numpy as np

    from brainsynth.metrics import stats

    main_correct, main_groups = main["correct"], held_out_clusters(main, "main")
    control_correct = np.concatenate([c["correct"] for c in controls])
    control_groups = np.concatenate([held_out_clusters(c, "control") for c in controls])
    draws_main = stats.cluster_bootstrap_indices(main_groups, n_boot, seed)
    draws_control = stats.cluster_bootstrap_indices(control_groups, n_boot, seed + 1)
    gaps = [
        main_correct[a].mean() - control_correct[b].mean()
        for a, b in zip(draws_main, draws_control, strict=True)
    ]
    return list(stats.percentile_interval(np.asarray(gaps)))


def control_summary(controls: list[dict], n_boot: int, seed: int) -> dict[str, Any]:
    """Pooled control accuracy, its binomial p-value and its patient-cluster interval."""
    import numpy as np

    from brainsynth.metrics import stats

    correct = np.concatenate([c["correct"] for c in controls])
    groups = np.concatenate([held_out_clusters(c, "control") for c in controls])
    k, n = int(correct.sum()), len(correct)
    means = [correct[rows].mean() for rows in stats.cluster_bootstrap_indices(groups, n_boot, seed)]
    return {
        "c2st_control_accuracy": k / n,
        "c2st_control_p_value": stats.binomial_p_value(k, n),
        "c2st_control_accuracy_ci95": list(stats.percentile_interval(np.asarray(means))),
        "c2st_control_n_test": n,
        "c2st_control_repeats": len(controls),
        "c2st_control_epochs": [c["training"]["epochs"] for c in controls],
        "c2st_control_converged": all(c["training"]["converged"] for c in controls),
    }


def run(data: Any) -> dict[str, Any]:
    from brainsynth.metrics import c2st

    cfg = data.config
    main = data.c2st()
    out: dict[str, Any] = {
        "c2st_accuracy": main["accuracy"],
        "c2st_p_value": main["p_value"],
        "c2st_ci95": main["ci95"],
        "c2st_n_train": main["n_train"],
        "c2st_n_val": main["n_val"],
        "c2st_n_test": main["n_test"],
        "c2st_epochs": main["training"]["epochs"],
        "c2st_best_epoch": main["training"]["best_epoch"],
        "c2st_converged": main["training"]["converged"],
    }
    background = data.real.mean(axis=0)[0] < 0.02
    sal = c2st.saliency_summary(main, background, data.path(MONTAGE), cfg.montage_count)
    out["c2st_saliency_background_share"] = sal["saliency_background_share"]
    out["c2st_background_area_share"] = sal["background_area_share"]
    out["c2st_saliency_montage"] = sal.get("montage")
    controls = [data.c2st(repeat) for repeat in range(cfg.c2st_control_repeats)]
    if not controls or controls[0] is None:
        out["c2st_control_note"] = (
            "not run: the control needs at least 6 real patients" if controls
            else "not run: c2st_control_repeats is 0"
        )  # fmt: skip
        return out
    out.update(control_summary(controls, cfg.n_bootstrap, cfg.seed + 3))
    out["c2st_gap"] = main["accuracy"] - out["c2st_control_accuracy"]
    out["c2st_gap_ci95"] = gap_interval(main, controls, cfg.n_bootstrap, cfg.seed + 2)
    return out


def real_side(data: Any) -> None:
    """The real-vs-real controls (one CNN per patient halving), cached beside the prepared set."""
    for repeat in range(data.config.c2st_control_repeats):
        data.c2st(repeat)


def verdict(metrics: dict[str, Any]) -> str:
    """One line on what the C2ST says, weighing the gap against its interval."""
    gap, ci = metrics.get("c2st_gap"), metrics.get("c2st_gap_ci95")
    if gap is None or not ci:
        if metrics.get("c2st_accuracy") is None:
            return "C2ST not run"
        return "no real-vs-real control (too few patients): judge the accuracy against 0.5"
    if ci[0] > 0.1:
        return "synthetic images are clearly told apart, beyond patient differences"
    if ci[0] > 0:
        return "synthetic images are somewhat easier to tell apart than other real patients"
    return "synthetic images are no more separable than other real patients"


def summary(m: dict[str, Any]) -> list[str]:
    if m.get("c2st_accuracy") is None:
        return []
    conv = "converged" if m.get("c2st_converged") else "NOT converged (epoch cap)"
    # Patients' slices are correlated: the binomial p counts them as independent images.
    slices = " (slices as independent; read the gap)" if m.get("fake_groups") == "patient" else ""
    return [
        f"  C2ST (CNN): accuracy {with_ci(m, 'c2st_accuracy', 'c2st_ci95')}, "
        f"p={m['c2st_p_value']:.2g} vs chance{slices}, n_test={m.get('c2st_n_test')}, "
        f"{conv} after {m.get('c2st_epochs')} epochs",
        f"    real-vs-real control {with_ci(m, 'c2st_control_accuracy')}; "
        f"gap {with_ci(m, 'c2st_gap')} -> {verdict(m)}",
        f"    where it looks: {100 * m['c2st_saliency_background_share']:.0f}% of saliency "
        f"on background ({100 * m['c2st_background_area_share']:.0f}% of the area)",
    ]


METRIC = Metric(
    name="c2st",
    order=10,
    help="CNN classifier two-sample test, real split by patient, trained to convergence; "
    "real-vs-real control between patient-disjoint halves; gap = accuracy - control; "
    "saliency montage of where the classifier looks",
    run=run,
    summary=summary,
    cost_s=8.0,  # the main test (more when the synthetic images are hard to tell apart)
    real_side=real_side,
    real_cost_s=lambda config: 7.0 * config.c2st_control_repeats,  # a CNN per control
    required=("c2st_accuracy", "c2st_p_value", "c2st_ci95", "c2st_control_accuracy", "c2st_gap"),
    figures=(MONTAGE,),
    multichannel=True,
    headlines=(
        Headline("c2st_accuracy", "C2ST accuracy (CNN; 0.5 = indistinguishable)", True),
        Headline("c2st_control_accuracy", "C2ST real-vs-real control", True),
        Headline("c2st_gap", "C2ST gap (accuracy − control)", True),
        Headline("c2st_p_value", "C2ST p-value against chance"),
    ),
    descriptions={
        "c2st_accuracy": "Held-out accuracy of a CNN trained to tell real from synthetic images (both sides split by patient, or by image for a generator's independent samples); 0.5 = indistinguishable, the computational analogue of the paper's Table 1 accuracy.",
        "c2st_p_value": "Exact two-sided binomial p-value of the C2ST accuracy against chance (0.5), held-out images counted as independent (for real patients' slices judge by the gap's interval).",
        "c2st_ci95": "Exact (Clopper-Pearson) 95% interval of the C2ST accuracy, held-out images counted as independent.",
        "c2st_n_train": "Images (both classes, balanced) the C2ST CNN trained on.",
        "c2st_n_val": "Images (balanced, patient-disjoint) used for the CNN's early stopping.",
        "c2st_n_test": "Held-out images (balanced, patient-disjoint) the C2ST accuracy is measured on.",
        "c2st_epochs": "Epochs the C2ST CNN trained before early stopping (or the cap).",
        "c2st_best_epoch": "Epoch with the lowest validation loss, whose weights were scored.",
        "c2st_converged": "True when training stopped because the validation loss stopped improving (not at the epoch cap).",
        "c2st_control_accuracy": "The same CNN test between two patient-disjoint halves of the real data (pooled over several random halvings): how separable real patients alone are; centres on 0.5.",
        "c2st_control_p_value": "Binomial p-value of the pooled real-vs-real control accuracy against 0.5 (approximate: repeats reuse images and a patient's slices are correlated; the interval accounts for both).",
        "c2st_control_accuracy_ci95": CI + "the pooled control accuracy (bootstrap over held-out patients, each with all its items).",
        "c2st_control_n_test": "Held-out images the control accuracy is pooled over (all repeats).",
        "c2st_control_repeats": "Number of random patient halvings behind the control.",
        "c2st_control_epochs": "Epochs each control CNN trained before early stopping.",
        "c2st_control_converged": "True when every control CNN stopped on its validation loss.",
        "c2st_control_note": "Why the real-vs-real control was not run.",
        "c2st_gap": "Headline: C2ST accuracy minus the real-vs-real control; near 0 = synthetic images are no more separable than other real patients.",
        "c2st_gap_ci95": CI + "the C2ST gap (bootstrap over held-out patients of both tests, each with all its items; a synthetic image is its own cluster).",
        "c2st_saliency_background_share": "Share of the C2ST classifier's input saliency falling on the black background of the real images.",
        "c2st_background_area_share": "Share of the image area that is background (mean real image below 0.02), to compare with the saliency share.",
        "c2st_saliency_montage": "PNG: most confidently detected synthetic images, their saliency maps, and mean saliency for real and synthetic (where the classifier looks).",
    },
)  # fmt: skip
