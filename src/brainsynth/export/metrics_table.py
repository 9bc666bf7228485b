"""The rows of a ``metrics.json`` a model card shows: each headline metric with its interval.

Read generically (a metric is a number whose interval is ``<key>_ci95``, or ``c2st_ci95`` for
the C2ST accuracy), so metrics added later appear without a change here; the known ones get
their readable names and come first.
"""

from __future__ import annotations

from typing import Any

from brainsynth.export.markdown import escape

KNOWN: dict[str, str] = {
    "detectability": "Detectability (0 = never detected, 1 = from a handful of examples)",
    "detectability_control": "Detectability real-vs-real control (about 0)",
    "c2st_accuracy": "C2ST accuracy (CNN; 0.5 = indistinguishable)",
    "c2st_control_accuracy": "C2ST real-vs-real control",
    "c2st_gap": "C2ST gap (accuracy − control)",
    "c2st_knn_accuracy": "kNN C2ST accuracy (pixels)",
    "c2st_knn_control_accuracy": "kNN C2ST real-vs-real control",
    "fid": "Fréchet distance (handcrafted features)",
    "fid_inception": "Inception FID (comparable with papers)",
    "fid_domain": "Fréchet distance (domain encoder features)",
    "kid": "KID",
    "precision": "Precision",
    "recall": "Recall",
    "density": "Density",
    "coverage": "Coverage",
    "ms_ssim_real": "MS-SSIM within real",
    "ms_ssim_fake": "MS-SSIM within synthetic",
    "histogram_distance": "Histogram distance (EMD)",
    "memorized_fraction": "Memorised fraction (pixels)",
    "memorized_fraction_features": "Memorised fraction (features)",
}
CI_KEYS: dict[str, str] = {"c2st_accuracy": "c2st_ci95"}


def _fmt(value: Any) -> str:
    """A number as the card shows it; anything else (read from the file) escaped."""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.3e}"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return escape(value)


def interval_of(metrics: dict[str, Any], key: str) -> str:
    ci = metrics.get(CI_KEYS.get(key, f"{key}_ci95"))
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and None not in ci:
        return f"[{_fmt(ci[0])}, {_fmt(ci[1])}]"
    return "–"


def metrics_rows(metrics: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(name, value, interval) of the known metrics present, then any other with an interval;
    every part is Markdown-safe (a metric key from the file is escaped)."""
    keys = [k for k in KNOWN if isinstance(metrics.get(k), (int, float))]
    others = sorted(
        k[: -len("_ci95")]
        for k in metrics
        if k.endswith("_ci95") and k[: -len("_ci95")] not in KNOWN
        and isinstance(metrics.get(k[: -len("_ci95")]), (int, float))
    )  # fmt: skip
    return [(KNOWN.get(k) or escape(k), _fmt(metrics[k]), interval_of(metrics, k))
            for k in keys + others]  # fmt: skip
