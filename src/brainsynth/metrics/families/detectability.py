# ruff: noqa: E501  (one sentence per key reads better unwrapped)
"""Detectability: how many training images the C2ST's CNN needs to tell synthetic from real
(issue 17), and the same between patient-disjoint halves of the real set (the control)."""

from __future__ import annotations

from typing import Any

from brainsynth.metrics.metric import CI, Headline, Metric, with_ci

FIGURE = "detectability_curve.png"


def _curve(data: Any, x0, g0, x1, g1, seed: int, full: dict[str, Any]) -> dict[str, Any]:
    from brainsynth.metrics import detectability
    from brainsynth.metrics.evaldata import c2st_settings

    cfg = data.config
    settings = detectability.curve_settings(c2st_settings(cfg), cfg.detectability_max_epochs)
    curve = detectability.learning_curve(
        x0, g0, x1, g1, cfg.detectability_sizes, settings, seed, cfg.detectability_repeats,
        full=full,
    )  # fmt: skip
    curve["summary"] = detectability.summarise(curve, cfg.n_bootstrap, seed + 7)
    return curve


def control_curve(data: Any) -> dict[str, Any] | None:
    """The curve between the first patient halving of the real images (its full point is
    the first C2ST control), cached beside the prepared set; None with too few patients."""
    cfg = data.config
    half_a = data.halves(0)
    if half_a is None:
        return None
    x, g = data.real, data.real_groups

    def compute() -> dict[str, Any]:
        return _curve(data, x[half_a], g[half_a], x[~half_a], g[~half_a], cfg.seed + 1,
                      data.c2st(0))  # fmt: skip

    settings = (cfg.detectability_sizes, cfg.detectability_max_epochs,
                cfg.detectability_repeats, cfg.n_bootstrap)  # fmt: skip
    return data.real_record("detectability-control", [settings], compute)


def run(data: Any) -> dict[str, Any]:
    cfg = data.config
    main = _curve(
        data, data.real, data.real_groups, data.fake, data.fake_groups, cfg.seed, data.c2st()
    )
    out: dict[str, Any] = {
        "detectability": main["summary"]["area"],
        "detectability_ci95": main["summary"]["ci95"],
        "detectability_n75": main["summary"]["n75"],
        "detectability_curve": main["points"],
        "detectability_n_test": main["n_test"],
        "detectability_n_val": main["n_val"],
        "detectability_control": None,
        "detectability_control_ci95": None,
        "detectability_control_curve": None,
    }
    control = control_curve(data)
    if control is None:
        out["detectability_control_note"] = "not run: the control needs at least 6 real patients"
    else:
        out["detectability_control"] = control["summary"]["area"]
        out["detectability_control_ci95"] = control["summary"]["ci95"]
        out["detectability_control_curve"] = control["points"]
    path = data.path(FIGURE)
    if path is not None:
        figure(out, path)
        out["detectability_figure"] = str(path)
    return out


def figure(metrics: dict[str, Any], path) -> None:
    """Held-out accuracy vs training images (log2 axis ticked at the sizes measured) for real
    vs synthetic and for the control, each point with its 95% interval, chance drawn."""
    from brainsynth.metrics.plots import Series, line_chart

    series = []
    for key, label in (
        ("detectability_curve", "real vs synthetic"),
        ("detectability_control_curve", "real vs real (control)"),
    ):
        points = metrics.get(key) or []
        series.append(Series(label, [p["n_train"] for p in points],
                             [p["accuracy"] for p in points], [p["ci95"] for p in points]))  # fmt: skip
    line_chart(
        series, "C2ST training images (both classes; log2 scale)", "held-out accuracy", path,
        log2x=True, ylim=(0.0, 1.02), chance=0.5, spread=0.06,
        title=f"detectability {metrics.get('detectability') or 0:.2f}",
    )  # fmt: skip


def summary(m: dict[str, Any]) -> list[str]:
    if m.get("detectability") is None:
        return []
    points = ", ".join(
        f"{p['n_train']}: {p['accuracy']:.2f}" for p in m.get("detectability_curve") or []
    )
    return [
        f"  detectability {with_ci(m, 'detectability')} (0 = chance at every training "
        f"size; real-vs-real {with_ci(m, 'detectability_control')}); "
        f"accuracy by training images {points}"
    ]


METRIC = Metric(
    name="detectability",
    order=20,
    help="the same CNN trained on 4 ... 512 and all training images: accuracy per size (a "
    "curve, with the real-vs-real control), summarised as the area under it; ranks models "
    "whose full C2ST is stuck at 100% (--detectability-sizes)",
    run=run,
    summary=summary,
    cost_s=30.0,  # the real-vs-synthetic curve (longer when the images are hard to tell apart)
    real_side=control_curve,
    real_cost_s=25.0,  # the real-vs-real curve
    figures=(FIGURE,),
    table_order=5,  # the headline ranking measure leads the tables
    headlines=(
        Headline("detectability", "Detectability (0 = never detected, 1 = from a handful of examples)"),
        Headline("detectability_control", "Detectability real-vs-real control (about 0)"),
    ),
    descriptions={
        "detectability": "Headline ranking measure: how easily synthetic images are detected when the C2ST classifier gets only a few training images; normalised area under 2*(accuracy-0.5) over log2 training size (0 = never told apart, 1 = told apart from the smallest training set on). A better model scores lower even when the full C2ST is stuck at 100%.",
        "detectability_ci95": CI + "detectability (cluster bootstrap over the held-out images, a real patient's slices together).",
        "detectability_n75": "Training images (both classes) the classifier needed to reach 75% held-out accuracy (log-linear interpolation); null when never reached.",
        "detectability_curve": "Points of the detectability curve: training size, held-out accuracy with its exact (Clopper-Pearson) 95% interval, held-out size, repeats and epochs; the last point (all training images) is the CNN C2ST itself.",
        "detectability_n_test": "Held-out images (balanced, patient-disjoint) every point of the curve is scored on.",
        "detectability_n_val": "Images (balanced, patient-disjoint) used for early stopping at every point of the curve.",
        "detectability_control": "The same detectability between two patient-disjoint halves of the real images (the first halving of the C2ST control): about 0 means the curve's classifier finds nothing between real patients.",
        "detectability_control_ci95": CI + "the real-vs-real detectability.",
        "detectability_control_curve": "Points of the real-vs-real detectability curve.",
        "detectability_control_note": "Why the real-vs-real detectability was not run.",
        "detectability_figure": "PNG: held-out accuracy vs training images (log2 scale) for real vs synthetic and real vs real, with 95% intervals and chance.",
    },
)  # fmt: skip
