"""Sensitivity, specificity and AUC per arm and fraction, with patient-level bootstrap
intervals and a paired comparison of every arm with real-only; ``augment.json`` and
``augment.md``.

Uncertainty: each bootstrap resample draws the test patients with replacement (all slices of
a drawn patient, :func:`~brainsynth.metrics.stats.cluster_bootstrap_indices`) and, with two
or more repeats, the repeats with replacement too, so an interval holds both the test
sampling and the training variability (seeds, fraction draws, generators). A metric of an arm
and fraction is the mean over repeats; resamples are shared by all arms, so the difference of
an arm and real-only is paired (same test patients, same repeats, same initial weights).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from brainsynth.augment_eval.config import AugmentEvalConfig
from brainsynth.augment_eval.experiment import ExperimentResult
from brainsynth.augment_eval.plot import auc_plot
from brainsynth.config import config_to_dict
from brainsynth.metrics.stats import (
    bootstrap_p_value,
    cluster_bootstrap_indices,
    percentile_interval,
    roc_auc,
)

METRICS: tuple[str, ...] = ("sensitivity", "specificity", "auc")
METRIC_LABELS = {"sensitivity": "Sensitivity", "specificity": "Specificity", "auc": "AUC"}


def metric_values(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """Sensitivity and specificity at ``threshold`` (positive when score >= threshold), AUC."""
    labels = labels.astype(bool)
    called = scores >= threshold
    return {
        "sensitivity": float(called[labels].mean()) if labels.any() else float("nan"),
        "specificity": float((~called[~labels]).mean()) if (~labels).any() else float("nan"),
        "auc": roc_auc(scores, labels),
    }


def bootstrap_metrics(
    result: ExperimentResult, config: AugmentEvalConfig
) -> dict[tuple[str, float], dict[str, np.ndarray]]:
    """Per arm and fraction, each metric's repeat-mean on every shared bootstrap resample."""
    resamples = cluster_bootstrap_indices(result.test_patients, config.n_boot, config.seed)
    rng = np.random.default_rng(config.seed + 1)
    repeats = config.repeats
    drawn_repeats = (
        rng.integers(0, repeats, size=(config.n_boot, repeats))
        if repeats > 1
        else np.zeros((config.n_boot, 1), dtype=np.int64)
    )
    out: dict[tuple[str, float], dict[str, np.ndarray]] = {}
    labels = result.test_labels
    for arm in config.arms:
        for fraction in config.fractions:
            per_repeat = np.empty((repeats, config.n_boot, len(METRICS)))
            for r in range(repeats):
                scores = result.scores[(arm, fraction, r)]
                threshold = result.thresholds[(arm, fraction, r)]
                for b, index in enumerate(resamples):
                    values = metric_values(scores[index], labels[index], threshold)
                    per_repeat[r, b] = [values[m] for m in METRICS]
            chosen = per_repeat[drawn_repeats, np.arange(config.n_boot)[:, None]]
            means = chosen.mean(axis=1)
            out[(arm, fraction)] = {m: means[:, k] for k, m in enumerate(METRICS)}
    return out


def summarise(result: ExperimentResult, config: AugmentEvalConfig) -> dict[str, Any]:
    """The content of ``augment.json``."""
    boot = bootstrap_metrics(result, config)
    arms: dict[str, dict[str, Any]] = {}
    for arm in config.arms:
        arms[arm] = {}
        for fraction in config.fractions:
            per_repeat = [
                metric_values(
                    result.scores[(arm, fraction, r)],
                    result.test_labels,
                    result.thresholds[(arm, fraction, r)],
                )
                for r in range(config.repeats)
            ]
            entry: dict[str, Any] = {}
            for m in METRICS:
                values = np.array([v[m] for v in per_repeat])
                entry[m] = float(np.mean(values))
                entry[f"{m}_ci95"] = list(percentile_interval(boot[(arm, fraction)][m]))
                entry[f"{m}_repeats"] = [float(v) for v in values]
            counts = result.counts[(arm, fraction, 0)]
            entry["patients"] = counts["patients"]
            entry["real_slices"] = counts["real"]
            entry["synthetic_slices"] = counts["synthetic"]
            if arm != "real":
                reference = arms["real"][f"{fraction:g}"]
                entry["vs_real"] = {}
                for m in METRICS:
                    diff = boot[(arm, fraction)][m] - boot[("real", fraction)][m]
                    entry["vs_real"][m] = {
                        "difference": entry[m] - reference[m],
                        "difference_ci95": list(percentile_interval(diff)),
                        "p_value": bootstrap_p_value(diff),
                    }
            arms[arm][f"{fraction:g}"] = entry
    labels = result.test_labels
    return {
        "config": config_to_dict(config),
        "task": "tumour / no-tumour classification of a slice",
        "split": {
            "patients": {k: len(v) for k, v in result.split.as_dict().items()},
            "test_slices": int(len(labels)),
            "test_with_tumor": int(labels.sum()),
        },
        "bootstrap": {
            "resamples": config.n_boot,
            "unit": "test patients" + (" and repeats" if config.repeats > 1 else ""),
        },
        "arms": arms,
    }


def fmt(value: float, interval: list[float], digits: int = 3) -> str:
    return f"{value:.{digits}f} [{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"


def markdown(summary: dict[str, Any]) -> str:
    """``augment.md``: one table per fraction, then how to read it."""
    config = summary["config"]
    split = summary["split"]
    generator = f"--arch {config['arch']}" if config["arch"] else "--gen-config's, else the default"
    lines = [
        "# Does synthetic data help? (brainsynth augment-eval)",
        "",
        f"Task: {summary['task']} on `{config['data']}` ({config['sequence']}; tumour when "
        f"tumor_pixels > {config['tumor_threshold']:g}). Patients: {split['patients']['train']} "
        f"train, {split['patients']['val']} validation, {split['patients']['test']} test "
        f"({split['test_slices']} test slices, {split['test_with_tumor']} with tumour). "
        f"{config['repeats']} repeat(s)."
        + (
            f" Synthetic: {config['synthetic_ratio']:g} per real slice from a tumour-conditional "
            f"generator ({generator}) trained per fraction and repeat on that fraction's "
            f"patients only ({config['gen_iters'] or 'the --gen-config number of'} iterations)."
            if any("synthetic" in arm for arm in config["arms"])
            else ""
        ),
        "",
    ]
    fractions = list(next(iter(summary["arms"].values())).keys())
    for fraction in fractions:
        first = summary["arms"]["real"][fraction]
        lines += [
            f"## {float(fraction):.0%} of the training patients ({first['patients']} patients, "
            f"{first['real_slices']} real slices)",
            "",
            "| Arm | Synthetic slices | Sensitivity | Specificity | AUC | AUC vs real [95% CI] "
            "| p |",
            "|---|---:|---|---|---|---|---:|",
        ]
        for arm, by_fraction in summary["arms"].items():
            e = by_fraction[fraction]
            if "vs_real" in e:
                v = e["vs_real"]["auc"]
                vs = f"{v['difference']:+.3f} [{v['difference_ci95'][0]:+.3f}, "
                vs += f"{v['difference_ci95'][1]:+.3f}]"
                p = f"{v['p_value']:.3f}"
            else:
                vs, p = "(reference)", ""
            lines.append(
                f"| {arm} | {e['synthetic_slices']} | "
                + " | ".join(fmt(e[m], e[f"{m}_ci95"]) for m in METRICS)
                + f" | {vs} | {p} |"
            )
        lines.append("")
    lines += [
        "Each value is the mean over repeats with a 95% percentile bootstrap interval over "
        f"{summary['bootstrap']['unit']} ({summary['bootstrap']['resamples']} resamples). "
        "'AUC vs real' is the paired difference with real-only on the same resamples; p is its "
        "two-sided bootstrap p-value. Sensitivity and specificity are at the threshold that "
        "maximised Youden's J on the validation patients.",
        "",
        "![AUC against the fraction of real training patients](augment-auc.png)",
        "",
    ]
    return "\n".join(lines)


def write_report(summary: dict[str, Any], out: Path) -> None:
    """``augment.json``, ``augment.md`` and ``augment-auc.png`` in ``out``."""
    (out / "augment.json").write_text(json.dumps(summary, indent=2))
    (out / "augment.md").write_text(markdown(summary))
    auc_plot(summary, out / "augment-auc.png")
