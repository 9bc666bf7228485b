"""Metric families of issue 17: the detectability curve and the "why detected" diagnostics."""

from __future__ import annotations

from typing import Any

import numpy as np

from brainsynth.metrics import detectability, intensity, spectrum
from brainsynth.metrics.evaldata import EvalData, c2st_settings
from brainsynth.metrics.families import split_patients_in_halves

MONTAGE_FILES: dict[str, str] = {
    "detectability": "detectability_curve.png",
    "diagnostics": "spectrum.png",
}
"""The figure each family writes beside the metrics JSON (diagnostics writes two more)."""
EXTRA_FILES: tuple[str, ...] = ("intensity_histograms.png",)


def _curve(data: EvalData, x0, g0, x1, g1, seed: int) -> dict[str, Any]:
    cfg = data.config
    settings = detectability.curve_settings(c2st_settings(cfg), cfg.detectability_max_epochs)
    curve = detectability.learning_curve(
        x0, g0, x1, g1, cfg.detectability_sizes, settings, seed, cfg.detectability_repeats
    )
    curve["summary"] = detectability.summarise(curve, cfg.n_bootstrap, seed + 7)
    return curve


def detectability_family(data: EvalData) -> dict[str, Any]:
    """C2ST accuracy per training size for real vs synthetic and for real vs real."""
    cfg = data.config
    main = _curve(data, data.real, data.real_groups, data.fake, data.fake_groups, cfg.seed)
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
    half_a = split_patients_in_halves(data.real_groups, cfg.seed + 300)
    if min(len(np.unique(data.real_groups[m])) for m in (half_a, ~half_a)) < 3:
        out["detectability_control_note"] = "not run: the control needs at least 6 real patients"
    else:
        control = _curve(
            data, data.real[half_a], data.real_groups[half_a],
            data.real[~half_a], data.real_groups[~half_a], cfg.seed + 301,
        )  # fmt: skip
        out["detectability_control"] = control["summary"]["area"]
        out["detectability_control_ci95"] = control["summary"]["ci95"]
        out["detectability_control_curve"] = control["points"]
    path = data.path(MONTAGE_FILES["detectability"])
    if path is not None:
        detectability_figure(out, path)
        out["detectability_figure"] = str(path)
    return out


def detectability_figure(metrics: dict[str, Any], path) -> None:
    """Accuracy vs training size (log axis) with 95% intervals: synthetic and control."""
    from brainsynth.metrics.plots import line_plot

    series = {}
    for key, label in (
        ("detectability_curve", "real vs synthetic"),
        ("detectability_control_curve", "real vs real (control)"),
    ):
        points = metrics.get(key) or []
        series[label] = (
            [p["n_train"] for p in points],
            [p["accuracy"] for p in points],
            [p["ci95"] for p in points],
        )
    line_plot(
        path, series, "C2ST training images (log scale)", "held-out accuracy",
        logx=True, ylim=(0.3, 1.02), hline=0.5,
        title=f"detectability {metrics.get('detectability') or 0:.2f}",
    )  # fmt: skip


def diagnostics_family(data: EvalData) -> dict[str, Any]:
    """Why a sample is detected: power spectrum, intensity inside/outside the brain, black
    background pixels (the saliency split is part of the c2st family)."""
    cfg = data.config
    out = spectrum.spectrum_metrics(
        data.real, data.fake, cfg.n_bootstrap, cfg.seed, data.path(MONTAGE_FILES["diagnostics"])
    )
    out.update(
        intensity.intensity_metrics(
            data.real, data.fake, cfg.n_bootstrap, cfg.seed, data.path(EXTRA_FILES[0])
        )
    )
    return out
