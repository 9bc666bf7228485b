"""``augment-auc.png``: AUC against the fraction of real training patients, one line per arm,
each point with its 95% interval, chance (AUC 0.5) drawn (the one plotting module draws it)."""

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
