"""What a metric family declares about itself (torch-free): the one record the registry holds.

In the spirit of stylegan2-ada's ``metric_main.register_metric``: a family's file builds one
:class:`Metric` and everything else reads it, so adding a metric touches its file and its
test. ``evaluate`` runs :attr:`Metric.run` and records :attr:`Metric.figures` as its output
files; the summary prints :attr:`Metric.summary`; ``metrics.json``'s key descriptions, the
model card's metrics table and the demo report come from :attr:`Metric.descriptions` and
:attr:`Metric.headlines`. See :mod:`brainsynth.metrics.families` for how files are found.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

INPUTS: frozenset[str] = frozenset({"images", "pairs"})
"""What a metric can need. ``images``: real and synthetic image sets (every metric today).
``pairs``: images with their tumour masks (issue 25's joint image+mask samples); a metric
needing them runs only when the evaluation was given them (``EvalData.pairs``)."""


@dataclass(frozen=True)
class Headline:
    """A key shown in tables: the model card, the demo report (``percent``: as a percentage)."""

    key: str
    label: str
    percent: bool = False


@dataclass(frozen=True)
class Metric:
    """One metric family: its name (``evaluate --metrics``), what it writes and how to run it.

    ``run(data)`` takes the :class:`~brainsynth.metrics.evaldata.EvalData` of one evaluation
    and returns flat JSON-ready keys, every one of them described in ``descriptions``;
    ``required`` keys are written as null when the family is not run (the contract of
    ``metrics.json``); ``figures`` are the files it writes beside the JSON (``more_files``:
    those that depend on the settings, e.g. the domain encoder). ``summary(metrics)`` gives
    its lines of the printed summary (none when its keys are absent). ``order`` places it
    among the others (run order, summary and tables); ``default`` puts it in ``--metrics
    all``; ``multichannel`` lets it run on four-channel joint stacks; ``table_order`` moves
    its headlines up or down in tables (the model card's, the demo report's); ``cost_s``, the
    CPU seconds it takes for 1,000 vs 1,000 64x64 images on one quiet thread
    (``benchmarks/evaluate.py``) with the real images' side already cached, lets an
    evaluation with a time budget skip what would not fit
    (:class:`brainsynth.metrics.budget.Budget`). ``real_side(data)`` is the family's work on
    the real images alone (real-vs-real controls, an encoder trained on them, their
    features): every evaluation against one prepared set repeats it, so it is kept in the
    set's cache (:mod:`brainsynth.metrics.cache`) and can be done ahead
    (:func:`brainsynth.metrics.evaluate.warm_real_side`); ``real_cost_s`` is its CPU seconds
    for 1,000 real 64x64 images when nothing is cached.
    """

    name: str
    order: int
    help: str
    run: Callable[[Any], dict[str, Any]]
    descriptions: Mapping[str, str]
    summary: Callable[[dict[str, Any]], list[str]]
    required: tuple[str, ...] = ()
    figures: tuple[str, ...] = ()
    more_files: Callable[[Any], tuple[str, ...]] | None = None
    headlines: tuple[Headline, ...] = ()
    needs: frozenset[str] = field(default_factory=lambda: frozenset({"images"}))
    default: bool = True
    multichannel: bool = False
    table_order: int | None = None  # place of its headlines in tables (default: ``order``)
    cost_s: float | Callable[[Any], float] = 1.0  # CPU s, 1,000 vs 1,000 64x64, one thread
    real_side: Callable[[Any], object] | None = None  # work on the real images alone (cached)
    real_cost_s: float | Callable[[Any], float] = 0.0  # CPU s of real_side, 1,000 real, cold

    def __post_init__(self) -> None:
        unknown = set(self.needs) - INPUTS
        missing = [k for k in (*self.required, *(h.key for h in self.headlines))
                   if k not in self.descriptions]  # fmt: skip
        if unknown or missing or not self.name.isidentifier():
            raise ValueError(
                f"metric {self.name!r}: unknown inputs {sorted(unknown)} or undescribed keys "
                f"{missing}"
            )

    def cost(self, config: Any) -> float:
        """Reference CPU seconds of this family under ``config`` (see ``cost_s``)."""
        return float(self.cost_s(config) if callable(self.cost_s) else self.cost_s)

    def real_cost(self, config: Any) -> float:
        """Reference CPU seconds of :attr:`real_side` under ``config`` when not cached."""
        if self.real_side is None:
            return 0.0
        cost = self.real_cost_s
        return float(cost(config) if callable(cost) else cost)

    def files(self, config: Any) -> tuple[str, ...]:
        """Every file this family writes beside ``metrics.json`` under ``config``."""
        return (*self.figures, *(self.more_files(config) if self.more_files else ()))


CI = "95% interval of "
"""How a description of an interval key starts."""


def num(value: Any, digits: int = 3) -> str:
    """A value for the printed summary: 3 significant digits, ``n/a`` when missing."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e4 else f"{value:.3e}"
    return str(value)


def with_ci(metrics: dict[str, Any], key: str, ci_key: str | None = None) -> str:
    """``value [low, high]`` of ``key`` and its interval (``<key>_ci95`` unless named)."""
    text = num(metrics.get(key))
    ci = metrics.get(ci_key or f"{key}_ci95")
    if metrics.get(key) is not None and isinstance(ci, (list, tuple)) and None not in ci:
        text += f" [{num(ci[0])}, {num(ci[1])}]"
    return text
