"""Render the HTML reports from Jinja2 templates, and format metric values for them."""

from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from brainsynth import __version__
from brainsynth.config import write_text_atomic


def environment() -> Environment:
    return Environment(
        loader=PackageLoader("brainsynth.report", "templates"),
        autoescape=select_autoescape(["html"]),
        keep_trailing_newline=True,
    )


def render_html(template: str, path: str | os.PathLike[str], **context: Any) -> Path:
    """Render ``template`` with ``context`` into ``path`` (atomically) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    context.setdefault("version", __version__)
    context.setdefault("generated", dt.datetime.now().isoformat(timespec="seconds"))
    write_text_atomic(path, environment().get_template(template).render(**context))
    return path


def format_value(value: Any, interval: Any = None, percent: bool = False) -> str:
    """A number with an optional 95% interval, e.g. ``0.932 [0.901, 0.958]``; '–' if missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, float):
        return str(value)

    def fmt(x: float) -> str:
        return f"{100 * x:.1f}" if percent else f"{x:.3g}"

    text = fmt(value)
    if isinstance(interval, (list, tuple)) and len(interval) == 2 and None not in interval:
        text += f" [{fmt(float(interval[0]))}, {fmt(float(interval[1]))}]"
    return text


def interval_of(metrics: dict[str, Any], key: str) -> Any:
    """The 95% interval of ``key``: ``c2st_ci95`` for the C2ST accuracy, else ``<key>_ci95``."""
    return metrics.get("c2st_ci95" if key == "c2st_accuracy" else f"{key}_ci95")


def metric_cell(metrics: dict[str, Any], key: str, percent: bool = False) -> str:
    """Format ``metrics[key]`` with its 95% interval when the metrics carry one."""
    return format_value(metrics.get(key), interval_of(metrics, key), percent)
