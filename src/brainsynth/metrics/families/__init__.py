"""The metric families: every module of this package is one, found here and read by all.

A family is one file in this folder defining ``METRIC = Metric(...)``
(:class:`brainsynth.metrics.metric.Metric`): its name, the keys it writes with one sentence
each, its figures, its summary lines and its headline keys. Nothing else lists families:
``evaluate``, ``--metrics``, the printed summary, ``metrics.json``'s descriptions, the model
card's metrics table and the demo report all read :func:`registered`. Adding a metric is
adding a file here (and its test). Metrics on image+mask pairs (issue 25) register the same
way with ``needs=frozenset({"pairs"})`` and read ``EvalData.pairs``.

Family modules import only torch-free modules at their top (heavy work is imported inside
``run``), so ``brainsynth evaluate --help`` stays quick.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from brainsynth.metrics.metric import Headline, Metric

__all__ = ["Headline", "Metric", "default_names", "describe", "headlines", "registered"]


@cache
def registered() -> dict[str, Metric]:
    """Every family by name, in their declared order."""
    found: dict[str, Metric] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        metric = getattr(module, "METRIC", None)
        if not isinstance(metric, Metric):
            raise TypeError(f"{module.__name__} defines no METRIC = Metric(...)")
        if metric.name in found:
            raise ValueError(f"two metric families are named {metric.name!r}")
        found[metric.name] = metric
    return dict(sorted(found.items(), key=lambda item: (item[1].order, item[0])))


def default_names() -> list[str]:
    """The families ``--metrics all`` runs."""
    return [name for name, metric in registered().items() if metric.default]


def describe() -> dict[str, str]:
    """One sentence per key any family writes."""
    return {key: text for m in registered().values() for key, text in m.descriptions.items()}


def headlines() -> list[Headline]:
    """Every family's headline keys, in table order (the model card, the demo report)."""
    ordered = sorted(
        registered().values(),
        key=lambda m: m.order if m.table_order is None else m.table_order,
    )
    return [h for m in ordered for h in m.headlines]
