"""The rows of a ``metrics.json`` a model card shows: each headline metric with its interval.

The headline keys and their readable names come from the metric families' registry
(:func:`brainsynth.metrics.families.headlines`), in its table order; then any other number
with an interval (``<key>_ci95``, or ``c2st_ci95`` for the C2ST accuracy), so nothing a
metrics file holds is hidden.
"""

from __future__ import annotations

from typing import Any

from brainsynth.export.markdown import escape


def known() -> dict[str, str]:
    """Readable name of every headline key, in table order."""
    from brainsynth.metrics import families

    return {h.key: h.label for h in families.headlines()}


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
    names = known()
    keys = [k for k in names if _number(metrics.get(k))]
    others = sorted(
        k[: -len("_ci95")]
        for k in metrics
        if k.endswith("_ci95") and k[: -len("_ci95")] not in names
        and _number(metrics.get(k[: -len("_ci95")]))
    )  # fmt: skip
    return [(names.get(k) or escape(k), _fmt(metrics[k]), interval_of(metrics, k))
            for k in keys + others]  # fmt: skip


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
