"""Scoring a Visual Turing Test: the paper's Table 1 and the statistics it lacked (§3.3, §4.2).

Table 1 reports, per GAN and image set, the accuracy and the confusion matrix of one
physician (Real as Real, Real as Synt, Synt as Real, Synt as Synt); 50 % accuracy means the
rater could not tell the images apart. Here, per rater and pooled over raters, we add an
exact two-sided binomial test against 50 %, a Wilson 95 % interval for the accuracy, the
agreement between raters (Cohen's kappa for two, Fleiss' kappa for more) and the median
response time. In the results ``accuracy`` and the Wilson bounds are fractions in [0, 1]
(like every other metric of brainsynth); tables show them in percent, like Table 1.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from typing import Any

from brainsynth.errors import BrainsynthError
from brainsynth.metrics.stats import binomial_p_value, wilson
from brainsynth.vtt import db as vttdb

LABELS: tuple[str, str] = ("real", "synthetic")


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's kappa of two raters' labels of the same items (None when undefined)."""
    if len(a) != len(b):
        raise ValueError("both raters must label the same items")
    n = len(a)
    if n == 0:
        return None
    categories = sorted(set(a) | set(b))
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    expected = sum((list(a).count(c) / n) * (list(b).count(c) / n) for c in categories)
    if expected == 1.0:
        return None
    return (observed - expected) / (1 - expected)


def fleiss_kappa(counts: Sequence[Sequence[int]]) -> float | None:
    """Fleiss' kappa from a table ``counts[item][category]`` (same number of raters per item)."""
    if not counts:
        return None
    raters = sum(counts[0])
    if raters < 2 or any(sum(row) != raters for row in counts):
        raise ValueError("every item needs the same number (>= 2) of ratings")
    n_items = len(counts)
    n_cat = len(counts[0])
    p_cat = [sum(row[j] for row in counts) / (n_items * raters) for j in range(n_cat)]
    p_items = [(sum(c * c for c in row) - raters) / (raters * (raters - 1)) for row in counts]
    p_bar = sum(p_items) / n_items
    p_e = sum(p * p for p in p_cat)
    if p_e == 1.0:
        return None
    return (p_bar - p_e) / (1 - p_e)


def summarize(answers: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Table 1 row plus statistics for a list of answers (dicts with truth/answer/response_ms)."""
    cells = {f"{t}_as_{a}": 0 for t in LABELS for a in LABELS}
    for row in answers:
        cells[f"{row['truth']}_as_{row['answer']}"] += 1
    n = len(answers)
    correct = cells["real_as_real"] + cells["synthetic_as_synthetic"]
    low, high = wilson(correct, n)
    times = [row["response_ms"] / 1000.0 for row in answers]
    return {
        "accuracy": correct / n if n else None,
        **cells,
        "n": n,
        "correct": correct,
        "p_value": binomial_p_value(correct, n) if n else None,
        "wilson_ci": [low, high] if n else None,
        "median_response_s": statistics.median(times) if times else None,
    }


def agreement(answers: Sequence[dict[str, Any]]) -> tuple[float | None, str | None]:
    """Kappa between raters on the items every rater answered: Cohen for 2, Fleiss for more."""
    by_rater: dict[str, dict[int, str]] = {}
    for row in answers:
        by_rater.setdefault(row["rater"], {})[row["item"]] = row["answer"]
    if len(by_rater) < 2:
        return None, None
    common = sorted(set.intersection(*(set(v) for v in by_rater.values())))
    if not common:
        return None, None
    labels = list(by_rater.values())
    if len(labels) == 2:
        a, b = labels
        return cohen_kappa([a[i] for i in common], [b[i] for i in common]), "cohen"
    table = [[sum(r[i] == c for r in labels) for c in LABELS] for i in common]
    return fleiss_kappa(table), "fleiss"


def load_answers(conn: Any, study_id: str) -> list[dict[str, Any]]:
    """Every answer of a study, joined with its rater and the truth, in answer order."""
    rows = conn.execute(
        "SELECT r.name AS rater, a.position, a.item_id AS item, i.truth, a.answer, "
        "a.shown_at, a.answered_at, a.response_ms "
        "FROM answers a JOIN raters r ON r.id = a.rater_id JOIN items i ON i.id = a.item_id "
        "WHERE r.study_id = ? ORDER BY r.id, a.position",
        (study_id,),
    )
    return [dict(row) for row in rows]


def _study_row(conn: Any, study_id: str) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM studies WHERE id = ?", (study_id,)).fetchone()
    if row is None:
        raise BrainsynthError(f"--study {study_id}: no such study")
    return dict(row)


def study_results(db: str | os.PathLike[str], study_id: str) -> dict[str, Any]:
    """Pooled and per-rater results of one study.

    Keys: ``id``, ``name``, ``sequence``, ``n_items``, ``complete`` (every invited rater
    answered every image), the pooled :func:`summarize` keys (``accuracy`` in [0, 1],
    ``real_as_real`` ..., ``n``, ``p_value``, ``wilson_ci``, ``median_response_s``),
    ``kappa`` / ``kappa_method`` and ``raters``: one entry per rater with ``name``,
    ``answered`` and the same summary keys.
    """
    with vttdb.opened(db) as conn:
        study = _study_row(conn, study_id)
        answers = load_answers(conn, study_id)
        raters = [
            row["name"]
            for row in conn.execute(
                "SELECT name FROM raters WHERE study_id = ? ORDER BY id", (study_id,)
            )
        ]
    n_items = study["n_real"] + study["n_fake"]
    per_rater = []
    for name in raters:
        mine = [a for a in answers if a["rater"] == name]
        per_rater.append({"name": name, "answered": len(mine), **summarize(mine)})
    kappa, method = agreement(answers)
    return {
        "id": study_id,
        "name": study["name"],
        "sequence": study["sequence"],
        "n_real": study["n_real"],
        "n_fake": study["n_fake"],
        "n_items": n_items,
        "complete": bool(raters) and all(r["answered"] == n_items for r in per_rater),
        **summarize(answers),
        "kappa": kappa,
        "kappa_method": method,
        "raters": per_rater,
    }


def list_studies(db: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every study (oldest first) with ``id``, ``name``, ``sequence``, ``n_items``,
    ``raters`` (count), ``answers`` (count) and ``complete``."""
    with vttdb.opened(db) as conn:
        rows = conn.execute(
            "SELECT s.id, s.name, s.sequence, s.n_real + s.n_fake AS n_items, s.created_at, "
            "(SELECT COUNT(*) FROM raters r WHERE r.study_id = s.id) AS raters, "
            "(SELECT COUNT(*) FROM answers a JOIN raters r ON r.id = a.rater_id "
            " WHERE r.study_id = s.id) AS answers "
            "FROM studies s ORDER BY s.created_at, s.id"
        ).fetchall()
    studies = [dict(row) for row in rows]
    for s in studies:
        s["complete"] = s["raters"] > 0 and s["answers"] == s["raters"] * s["n_items"]
    return studies
