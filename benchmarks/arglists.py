"""Parsers of the benchmarks' list-like arguments: a malformed value is refused up front.

Each parser raises ``argparse.ArgumentTypeError`` with a message naming what was expected,
so, given as an argument's ``type`` (or called with :func:`checked`), a wrong value ends
the script with argparse's usage and one ``error:`` line and exit status 2, before any
work starts, never with a traceback (``detectability.py --only 4``, ``realism.py
--budgets abc`` used to raise ValueError / IndexError).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterable
from typing import Any


def names(text: str, choices: Iterable[str], what: str = "names") -> list[str]:
    """A comma list of names, each one of ``choices``; at least one."""
    choices = list(choices)
    items = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [item for item in items if item not in choices]
    if unknown or not items:
        problem = f"unknown {', '.join(unknown)}" if unknown else f"no {what} given"
        raise argparse.ArgumentTypeError(f"{text!r}: {problem}; choose from {', '.join(choices)}")
    return items


def minutes(text: str) -> list[float]:
    """A comma list of positive budgets in minutes (``4,12,36``)."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or not all(math.isfinite(v) and v > 0 for v in values):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma list of positive minutes, e.g. 4,12,36"
        )
    return values


def counts(text: str, minimum: int = 1) -> list[int]:
    """A comma list of integers of at least ``minimum`` (``4,8,16``)."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or min(values) < minimum:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma list of whole numbers of {minimum} or more"
        )
    return values


def budget_pairs(text: str) -> set[tuple[float, str]]:
    """``budget:candidate`` pairs, comma-separated (``4:paper-dcgan,12:stylegan2``); an
    empty text is no pair (every row)."""
    pairs: set[tuple[float, str]] = set()
    for part in (p.strip() for p in text.split(",") if p.strip()):
        budget, sep, name = part.partition(":")
        try:
            value = float(budget) if sep and name.strip() and ":" not in name else math.nan
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(
                f"{part!r} is not a budget:candidate pair, e.g. 4:paper-dcgan,12:stylegan2"
            )
        pairs.add((value, name.strip()))
    return pairs


def image_size(text: str) -> int:
    """An image side length: a power of two from 16 to 1024 (what every architecture takes)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 16 or value > 1024 or value & (value - 1):
        raise argparse.ArgumentTypeError(f"{text!r} is not a power of two from 16 to 1024")
    return value


def checked(parser: argparse.ArgumentParser, flag: str, parse: Callable[..., Any], *args) -> Any:
    """``parse(*args)``, or the parser's one-line error naming ``flag``."""
    try:
        return parse(*args)
    except argparse.ArgumentTypeError as exc:
        parser.error(f"argument {flag}: {exc}")
