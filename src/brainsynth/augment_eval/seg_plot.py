"""``augment-dice.png``: Dice against the number of training patients, one line per arm, with
95% intervals as error bars (matplotlib, drawn on a ``Figure`` with the Agg canvas: no
display and no global pyplot state)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def dice_plot(summary: dict[str, Any], path: Path) -> Path:
    """Mean Dice over the three regions (mean over repeats, 95% interval) of every arm against
    its training patients; a log axis when they span a factor of four or more."""
    figure = Figure(figsize=(6.4, 4.0), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    arms = summary["arms"]
    counts = sorted({e["patients"] for by_size in arms.values() for e in by_size.values()})
    for i, (arm, by_size) in enumerate(arms.items()):
        points = sorted((e["patients"], e["dice"], e["dice_ci95"]) for e in by_size.values())
        shift = 1 + (i - (len(arms) - 1) / 2) * 0.015  # keep the error bars of arms apart
        x = [p * shift for p, _, _ in points]
        y = [d for _, d, _ in points]
        error = [
            [max(0.0, d - ci[0]) for _, d, ci in points],
            [max(0.0, ci[1] - d) for _, d, ci in points],
        ]
        axes.errorbar(x, y, yerr=error, marker="o", capsize=3, label=arm)
    if counts and counts[-1] >= 4 * counts[0]:
        axes.set_xscale("log")
    axes.set_xticks(counts, [str(c) for c in counts])
    axes.minorticks_off()
    axes.set_xlabel("training patients")
    axes.set_ylabel("Dice (mean of WT, TC, ET)")
    axes.set_title("Dice on held-out test patients (mean over repeats, 95% CI)", fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    path = Path(path)
    figure.savefig(path)
    return path
