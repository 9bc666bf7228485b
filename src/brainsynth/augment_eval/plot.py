"""The charts of ``augment-eval``, drawn by the one plotting module
(:mod:`brainsynth.metrics.plots`): ``augment-auc.png`` (AUC against the fraction of real
training patients, chance drawn) and ``augment-dice.png`` (Dice against the number of
training patients), one line per arm, each point with its 95% interval."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from brainsynth.metrics.plots import Series, line_chart


def auc_plot(summary: dict[str, Any], path: Path) -> Path:
    """Draw the AUC of every arm (mean over repeats, 95% interval) against the fraction."""
    arms = summary["arms"]
    fractions = sorted(float(f) for f in next(iter(arms.values())))
    log_x = len(fractions) > 1 and fractions[-1] / fractions[0] >= 4
    series = [
        Series(
            arm,
            fractions,
            [by_fraction[f"{f:g}"]["auc"] for f in fractions],
            [by_fraction[f"{f:g}"]["auc_ci95"] for f in fractions],
        )
        for arm, by_fraction in arms.items()
    ]
    path = Path(path)
    line_chart(
        series,
        "fraction of real training patients" + (" (log scale)" if log_x else ""),
        "test AUC (mean over repeats, 95% CI)",
        path,
        title="AUC vs fraction of real training patients",
        logx=log_x,
        chance=0.5,
        chance_label="chance (AUC 0.5)",
        spread=0.04 if log_x else 0.004 * (fractions[-1] - fractions[0] or 1),
        size=(6.4, 4.0),
        ticks_at_data=True,
    )
    return path


def dice_plot(summary: dict[str, Any], path: Path) -> Path:
    """Mean Dice over the three regions (mean over repeats, 95% interval) of every arm against
    its training patients; a log axis when they span a factor of four or more."""
    arms = summary["arms"]
    series = []
    for arm, by_size in arms.items():
        points = sorted((e["patients"], e["dice"], e["dice_ci95"]) for e in by_size.values())
        series.append(Series(arm, [p[0] for p in points], [p[1] for p in points],
                             [p[2] for p in points]))  # fmt: skip
    counts = sorted({x for line in series for x in line.x})
    log_x = len(counts) > 1 and counts[-1] >= 4 * counts[0]
    span = counts[-1] - counts[0] if len(counts) > 1 else 1
    path = Path(path)
    line_chart(
        series,
        "training patients" + (" (log scale)" if log_x else ""),
        "Dice, mean of WT, TC, ET (mean over repeats, 95% CI)",
        path,
        title="Dice on held-out test patients",
        logx=log_x,
        ylim=(0.0, 1.02),
        spread=0.03 if log_x else 0.015 * span,  # interval bars of the arms kept apart
        size=(6.4, 4.0),
        ticks_at_data=True,
    )
    return path
