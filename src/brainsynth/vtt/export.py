"""Visual Turing Test results as text: the paper's Table 1 layout, a CSV of every answer, JSON."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from brainsynth.errors import BrainsynthError
from brainsynth.vtt import db as vttdb
from brainsynth.vtt.scoring import load_answers

TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Accuracy (%)", "accuracy"),
    ("Real as Real", "real_as_real"),
    ("Real as Synt", "real_as_synthetic"),
    ("Synt as Real", "synthetic_as_real"),
    ("Synt as Synt", "synthetic_as_synthetic"),
    ("n", "n"),
    ("p (binomial)", "p_value"),
    ("Wilson 95% CI (%)", "wilson_ci"),
    ("Median time (s)", "median_response_s"),
)
"""Table 1's five columns (§4.2) followed by the statistics the paper did not report."""

CSV_COLUMNS = (
    "study_id",
    "study_name",
    "sequence",
    "rater",
    "position",
    "item",
    "truth",
    "answer",
    "correct",
    "shown_at",
    "answered_at",
    "response_ms",
)


def format_cell(key: str, value: Any) -> str:
    """One value as the tables show it (accuracy and interval in %, p to 3 significant digits)."""
    if value is None:
        return "-"
    if key == "accuracy":
        return f"{100 * value:.1f}"
    if key == "p_value":
        return f"{value:.3g}" if value >= 1e-4 else f"{value:.1e}"
    if key == "wilson_ci":
        return f"{100 * value[0]:.1f}–{100 * value[1]:.1f}"
    if key == "median_response_s":
        return f"{value:.2f}"
    if key == "kappa":
        return f"{value:.3f}"
    return str(value)


def printable(text: str) -> str:
    """``text`` with any non-printable character escaped (``\\n``, ``\\x1b``): names in
    databases written before names had to be printable cannot move the terminal's cursor."""
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )


def format_table(results: Sequence[dict[str, Any]]) -> str:
    """Table 1 as aligned text: one pooled row per study, then one row per rater."""
    header = ["Study", "Rater", *(title for title, _ in TABLE_COLUMNS), "Kappa"]
    rows = []
    for study in results:
        kappa = "-"
        if study["kappa"] is not None:
            kappa = f"{format_cell('kappa', study['kappa'])} ({study['kappa_method']})"
        rows.append(
            [
                printable(study["name"]),
                "all raters",
                *(format_cell(key, study[key]) for _, key in TABLE_COLUMNS),
                kappa,
            ]
        )
        for rater in study["raters"]:
            rows.append(
                [
                    "",
                    printable(rater["name"]),
                    *(format_cell(key, rater[key]) for _, key in TABLE_COLUMNS),
                    "",
                ]
            )
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def answers_csv(db: str | os.PathLike[str], study_ids: Sequence[str]) -> str:
    """Every answer of the given studies, one CSV row each (truth included: admin only)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    with vttdb.opened(db) as conn:
        for study_id in study_ids:
            study = conn.execute("SELECT * FROM studies WHERE id = ?", (study_id,)).fetchone()
            if study is None:
                raise BrainsynthError(f"--study {study_id}: no such study")
            for row in load_answers(conn, study_id):
                writer.writerow(
                    {
                        "study_id": study_id,
                        "study_name": study["name"],
                        "sequence": study["sequence"],
                        **{k: row[k] for k in ("rater", "position", "item", "truth", "answer")},
                        "correct": int(row["truth"] == row["answer"]),
                        "shown_at": _iso(row["shown_at"]),
                        "answered_at": _iso(row["answered_at"]),
                        "response_ms": row["response_ms"],
                    }
                )
    return out.getvalue()


def results_json(results: Sequence[dict[str, Any]], single: bool) -> str:
    """The results as JSON: one object when ``single`` (one study asked for), else a list."""
    body: Any = results[0] if single else list(results)
    return json.dumps(body, indent=2)
