"""The short human-readable summary of a metrics dict (printed by ``brainsynth evaluate``):
a header with the sample sizes, then each metric family's own lines (its ``summary``)."""

from __future__ import annotations

from typing import Any

from brainsynth.metrics import families


def _chosen(metrics: dict[str, Any], side: str) -> str:
    """How many of the available images of one side were used: "all 1120" or
    "random(0) subset of 1120"."""
    available, subset = metrics.get(f"n_{side}_available"), metrics.get(f"{side}_subset")
    if available is None or subset is None:
        return ""
    return f"all {available}" if subset == "all" else f"{subset} subset of {available}"


def format_summary(metrics: dict[str, Any]) -> str:
    """A few lines: sizes, then every family's lines (C2ST with control and gap, distances,
    diversity, memorisation ...), then the time."""
    m = metrics
    real_chosen, fake_chosen = _chosen(m, "real"), _chosen(m, "fake")
    grouped = " by patient" if str(m.get("fake_groups", "")).startswith("patient") else ""
    lines = [
        f"brainsynth evaluation: {m.get('sequence', '?')} {m.get('image_size', '?')}px, "
        f"{m.get('n_real')} real images ({m.get('n_real_patients', '?')} patients"
        f"{'; ' + real_chosen if real_chosen else ''}) vs {m.get('n_fake')} synthetic"
        f"{' (' + fake_chosen + ')' if fake_chosen else ''}{grouped}"
    ]
    for metric in families.registered().values():
        lines += metric.summary(m)
    if m.get("timings_s"):
        total = sum(m["timings_s"].values())
        lines.append(f"  time {total:.1f} s")
    return "\n".join(lines)
