"""Dice and HD95 per arm and training-set size, with patient-level bootstrap intervals and
paired differences against ``real`` and ``real+classic``: ``augment.json``, ``augment.md``
and ``augment-dice.png`` of ``augment-eval --task segmentation``.

Per segmenter, each test patient has a Dice (of its stacked slices) and an HD95 (mean 2D
HD95 in pixels over its slices holding the region) per region
(:mod:`brainsynth.metrics.seg_scores`). An arm's value at a size is the mean over test
patients, then over repeats; ``dice`` and ``hd95`` are the means over the three regions.
Uncertainty as in the classification task (:mod:`.report`): each bootstrap resample draws
the test patients with replacement and, with two or more repeats, the repeats too; the
resamples are shared by all arms, so a difference between arms is paired.

``augment.json``: ``arms[ARM][SIZE]`` (SIZE ``"0.5"`` for a fraction, ``"4p"`` for four
patients) holds ``patients``, ``real_slices``, ``synthetic_slices``, ``steps``, ``dice``,
``dice_ci95``, ``hd95``, ``hd95_ci95``, ``dice_repeats``, ``regions[REGION]`` with ``dice``,
``dice_ci95``, ``hd95``, ``hd95_ci95``, and for arms other than the reference
``vs_real`` (and ``vs_real_classic`` for arms other than real and real+classic when that arm
ran): ``dice`` and ``hd95`` with ``difference``, ``difference_ci95``, ``p_value``, and
``regions[REGION].dice`` / ``.hd95`` alike.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from brainsynth.augment_eval.config import AugmentEvalConfig
from brainsynth.augment_eval.plot import dice_plot
from brainsynth.augment_eval.segmentation import SegmentationResult
from brainsynth.config import config_to_dict
from brainsynth.metrics.seg_scores import (
    REGION_NAMES,
    empty_reference_slices,
    patient_bootstrap,
    worst_hd95,
)
from brainsynth.metrics.stats import bootstrap_p_value, percentile_interval

SEG_METRICS: tuple[str, ...] = ("dice", "hd95")
REGION_LABELS = {"whole_tumor": "WT", "tumor_core": "TC", "enhancing": "ET"}
REFERENCES = {"vs_real": "real", "vs_real_classic": "real+classic"}


def bootstrap_values(
    result: SegmentationResult, config: AugmentEvalConfig
) -> tuple[dict[tuple[str, str], np.ndarray], dict[tuple[str, str], np.ndarray]]:
    """Per arm and size: the estimate (2 metrics, 3 regions) and its bootstrap resamples
    (n_boot, 2, 3), each the mean over test patients and repeats."""
    patients = result.scores[next(iter(result.scores))].patients
    index = patient_bootstrap(len(patients), config.n_boot, config.seed)
    repeats = config.repeats
    rng = np.random.default_rng(config.seed + 1)
    drawn = (
        rng.integers(0, repeats, size=(config.n_boot, repeats))
        if repeats > 1
        else np.zeros((config.n_boot, 1), dtype=np.int64)
    )
    estimates, resamples = {}, {}
    for arm in config.arms:
        for size in result.sizes:
            values = np.stack(
                [
                    np.stack([getattr(result.scores[(arm, size.key, r)], m) for m in SEG_METRICS])
                    for r in range(repeats)
                ]
            )  # (repeats, 2, patients, 3)
            estimates[(arm, size.key)] = values.mean(axis=(0, 2))
            per_repeat = values[:, :, index].mean(axis=3)  # (repeats, 2, n_boot, 3)
            chosen = per_repeat[drawn, :, np.arange(config.n_boot)[:, None]]  # (n_boot, R, 2, 3)
            resamples[(arm, size.key)] = chosen.mean(axis=1)
    return estimates, resamples


def difference(estimate: float, values: np.ndarray) -> dict[str, Any]:
    return {
        "difference": float(estimate),
        "difference_ci95": list(percentile_interval(values)),
        "p_value": bootstrap_p_value(values),
    }


def compare(
    est: np.ndarray, boot: np.ndarray, ref_est: np.ndarray, ref_boot: np.ndarray
) -> dict[str, Any]:
    """Paired differences (arm minus reference) of the region means and of each region."""
    out: dict[str, Any] = {}
    for m, metric in enumerate(SEG_METRICS):
        out[metric] = difference(
            est[m].mean() - ref_est[m].mean(), boot[:, m].mean(axis=1) - ref_boot[:, m].mean(axis=1)
        )
    for k, name in enumerate(REGION_NAMES):
        out.setdefault("regions", {})[name] = {
            metric: difference(est[m, k] - ref_est[m, k], boot[:, m, k] - ref_boot[:, m, k])
            for m, metric in enumerate(SEG_METRICS)
        }
    return out


def arm_entry(
    result: SegmentationResult, arm: str, key: str, est: np.ndarray, boot: np.ndarray
) -> dict[str, Any]:
    counts = result.counts[(arm, key, 0)]
    entry: dict[str, Any] = {
        "patients": counts["patients"],
        "real_slices": counts["real"],
        "synthetic_slices": counts["synthetic"],
        "steps": counts["steps"],
    }
    for m, metric in enumerate(SEG_METRICS):
        entry[metric] = float(est[m].mean())
        entry[f"{metric}_ci95"] = list(percentile_interval(boot[:, m].mean(axis=1)))
    repeats = sorted(r for (a, k, r) in result.scores if a == arm and k == key)
    entry["dice_repeats"] = [float(result.scores[(arm, key, r)].dice.mean()) for r in repeats]
    entry["regions"] = {
        name: {
            field: value
            for m, metric in enumerate(SEG_METRICS)
            for field, value in (
                (metric, float(est[m, k])),
                (f"{metric}_ci95", list(percentile_interval(boot[:, m, k]))),
            )
        }
        for k, name in enumerate(REGION_NAMES)
    }
    return entry


def summarise_segmentation(result: SegmentationResult, config: AugmentEvalConfig) -> dict[str, Any]:
    """The content of ``augment.json`` for ``--task segmentation``."""
    estimates, resamples = bootstrap_values(result, config)
    arms: dict[str, dict[str, Any]] = {}
    for arm in config.arms:
        for size in result.sizes:
            est, boot = estimates[(arm, size.key)], resamples[(arm, size.key)]
            entry = arm_entry(result, arm, size.key, est, boot)
            for name, reference in REFERENCES.items():
                if reference in config.arms and arm not in ("real", reference):
                    ref = (reference, size.key)
                    entry[name] = compare(est, boot, estimates[ref], resamples[ref])
            arms.setdefault(arm, {})[size.key] = entry
    test_masks = result.test_masks
    empty = empty_reference_slices(test_masks)
    patients = next(iter(result.scores.values()))
    absent = (patients.empty_reference == patients.slices[:, None]).sum(axis=0)
    return {
        "config": config_to_dict(config),
        "task": "tumour segmentation of a slice: whole tumour, tumour core, enhancing tumour",
        "split": {
            "patients": {k: len(v) for k, v in result.split.as_dict().items()},
            "test_slices": int(len(test_masks)),
            "test_slices_empty_reference": {n: int(empty[k]) for k, n in enumerate(REGION_NAMES)},
            "test_patients_without_region": {n: int(absent[k]) for k, n in enumerate(REGION_NAMES)},
        },
        "sizes": {s.key: len(result.size_patients[0][s.key]) for s in result.sizes},
        "bootstrap": {
            "resamples": config.n_boot,
            "unit": "test patients" + (" and repeats" if config.repeats > 1 else ""),
        },
        "scoring": {
            "dice": "per test patient, Dice of its stacked slices; then the mean over patients "
            "(and repeats); dice = mean over the three regions",
            "hd95": "per test patient, mean 2D HD95 over its slices holding the region in "
            "reference or prediction; pixels",
            "empty": "Both empty: Dice 1, HD95 0; exactly one empty: Dice 0, HD95 = the image "
            f"diagonal ({worst_hd95(*test_masks.shape[1:]):.1f} pixels)",
        },
        "arms": arms,
    }


def fmt(value: float, interval: list[float], digits: int = 3) -> str:
    return f"{value:.{digits}f} [{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"


def fmt_difference(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return ""
    low, high = entry["difference_ci95"]
    return f"{entry['difference']:+.3f} [{low:+.3f}, {high:+.3f}]"


def size_heading(key: str, entry: dict[str, Any]) -> str:
    what = f"{entry['patients']} training patients" if key.endswith("p") else f"{float(key):.0%}"
    if not key.endswith("p"):
        what += f" of the training patients ({entry['patients']})"
    return f"## {what}, {entry['real_slices']} real slices"


def markdown(summary: dict[str, Any]) -> str:
    """``augment.md``: one table per training-set size, then how to read it."""
    config, split = summary["config"], summary["split"]
    empty = split["test_slices_empty_reference"]
    lines = [
        "# Does synthetic labelled data help a segmenter? (brainsynth augment-eval "
        "--task segmentation)",
        "",
        f"Task: {summary['task']} on `{config['data']}` ({config['sequence']}). Patients: "
        f"{split['patients']['train']} train, {split['patients']['val']} validation, "
        f"{split['patients']['test']} test ({split['test_slices']} test slices; empty in the "
        f"reference: {empty['whole_tumor']} WT, {empty['tumor_core']} TC, "
        f"{empty['enhancing']} ET). {config['repeats']} repeat(s); a 2D U-Net (MONAI BasicUNet, "
        f"width {config['segmenter']['width']}), {config['segmenter']['epochs']} epochs.",
        "",
    ]
    real = summary["arms"]["real"]
    for key in real:
        lines += [
            size_heading(key, real[key]),
            "",
            "| Arm | Synthetic slices | Dice [95% CI] | WT | TC | ET | HD95 px [95% CI] "
            "| Dice vs real | Dice vs real+classic |",
            "|---|---:|---|---|---|---|---|---|---|",
        ]
        for arm, by_size in summary["arms"].items():
            e = by_size[key]
            regions = " | ".join(f"{e['regions'][n]['dice']:.3f}" for n in REGION_NAMES)
            lines.append(
                f"| {arm} | {e['synthetic_slices']} | {fmt(e['dice'], e['dice_ci95'])} | "
                f"{regions} | {fmt(e['hd95'], e['hd95_ci95'], 1)} | "
                f"{fmt_difference(e.get('vs_real', {}).get('dice'))} | "
                f"{fmt_difference(e.get('vs_real_classic', {}).get('dice'))} |"
            )
        lines.append("")
    lines += [
        "Dice and HD95 per test patient (Dice of its stacked slices; HD95 the mean 2D HD95 "
        "in pixels over its slices holding the region), averaged over patients and repeats; "
        "Dice and HD95 columns are the means over whole tumour (WT), tumour core (TC) and "
        f"enhancing tumour (ET). {summary['scoring']['empty']}. Intervals: 95% percentile "
        f"bootstrap over {summary['bootstrap']['unit']} ({summary['bootstrap']['resamples']} "
        "resamples); differences are paired on the same resamples.",
        "",
        "![Dice against the number of training patients](augment-dice.png)",
        "",
    ]
    return "\n".join(lines)


def write_segmentation_report(summary: dict[str, Any], out: Path) -> None:
    """``augment.json``, ``augment.md`` and ``augment-dice.png`` in ``out``."""
    (out / "augment.json").write_text(json.dumps(summary, indent=2))
    (out / "augment.md").write_text(markdown(summary))
    dice_plot(summary, out / "augment-dice.png")
