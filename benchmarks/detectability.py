"""Rank the models of a realism benchmark by detectability, by FD/recall and by the C2ST.

Issue 17: a converged CNN C2ST tells every CPU-budget model from real slices at 99.6-100%, so
it cannot rank them; the detectability curve (C2ST accuracy per number of training images)
can. Reads OUT/realism.json of ``benchmarks/realism.py`` and prints (and writes
OUT/detectability.md) one row per model with each measure, its 95% interval and its rank,
whether each ordering agrees with the order of the handcrafted FD and of recall, and the
real-vs-real detectability, which should sit at chance (0).

    .venv/bin/python benchmarks/detectability.py --out bench-realism
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from arglists import budget_pairs

RANKED = [  # (key, title, better)
    ("detectability", "detectability", "low"), ("fid", "FD", "low"),
    ("fid_domain", "FD domain", "low"), ("fid_inception", "FD Inception", "low"),
    ("recall", "recall", "high"), ("c2st_accuracy", "C2ST", "low"),
]  # fmt: skip


def ranks(values: list[float | None], better: str) -> list[str]:
    """Competition ranks ("1", "=2"...); equal values (as printed, 2 digits) share a rank."""
    key = [None if v is None else round(v if better == "low" else -v, 2) for v in values]
    present = sorted(k for k in key if k is not None)
    out = []
    for k in key:
        if k is None:
            out.append("-")
            continue
        rank = present.index(k) + 1
        out.append(f"={rank}" if present.count(k) > 1 else str(rank))
    return out


def order(labels: list[str], values: list[float | None], better: str) -> list[str]:
    pairs = [(v if better == "low" else -v, label) for label, v in zip(labels, values, strict=True)
             if v is not None]  # fmt: skip
    return [label for _, label in sorted(pairs)]


def interval_key(key: str) -> str:
    return "c2st_ci95" if key == "c2st_accuracy" else f"{key}_ci95"


def _cell(value: float | None, ci: Any) -> str:
    if value is None:
        return "-"
    digits = 1 if abs(value) >= 10 else 3
    text = f"{value:.{digits}f}"
    if isinstance(ci, list) and None not in ci:
        text += f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"
    return text


def ranking_markdown(rows: list[dict[str, Any]], variant: str = "raw") -> str:
    """The ranking section: a table of every model and the orderings it implies."""
    rows = sorted(rows, key=lambda r: (r["budget_min"], r["candidate"]))
    labels = [f"{r['budget_min']:g} min {r['candidate']}" for r in rows]
    titles = [t for _, t, _ in RANKED]
    lines = [
        f"## Ranking ({variant} samples): detectability vs FD/recall vs the full C2ST", "",
        "| model | " + " | ".join(f"{t} (rank)" for t in titles) + " | real-vs-real detect. |",
        "|---|" + "---|" * (len(titles) + 1),
    ]  # fmt: skip
    columns = {key: [r[variant].get(key) for r in rows] for key, _, _ in RANKED}
    rank_of = {key: ranks(columns[key], better) for key, _, better in RANKED}
    for i, (label, row) in enumerate(zip(labels, rows, strict=True)):
        m = row[variant]
        cells = [
            f"{_cell(m.get(k), m.get(interval_key(k)))} ({rank_of[k][i]})" for k, _, _ in RANKED
        ]
        control = _cell(m.get("detectability_control"), m.get("detectability_control_ci95"))
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {control} |")
    lines.append("")
    reference = {k: order(labels, columns[k], b) for k, _, b in RANKED}
    for key, title, _ in RANKED:
        tied = len(set(rank_of[key]) - {"-"}) < len([v for v in columns[key] if v is not None])
        agree = {ref: reference[key] == reference[ref] for ref in ("fid", "recall")}
        lines.append(
            f"- {title}, best first: {' > '.join(reference[key]) or '-'}"
            f"{' (ties at 2 digits)' if tied else ''}; same order as FD: "
            f"{'yes' if agree['fid'] else 'no'}, as recall: {'yes' if agree['recall'] else 'no'}"
        )
    controls = [(label, r[variant].get("detectability_control_ci95")) for label, r in
                zip(labels, rows, strict=True)]  # fmt: skip
    at_chance = [label for label, ci in controls if ci and None not in ci and ci[0] <= 0 <= ci[1]]
    lines.append(
        f"- real vs real: detectability interval contains 0 (chance) in {len(at_chance)} of "
        f"{len(controls)} evaluations"
    )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench-realism", help="a realism benchmark's folder")
    parser.add_argument("--variant", choices=("raw", "floor"), default="raw")
    parser.add_argument("--only", default="", type=budget_pairs,
                        help="rank these models only: budget:candidate pairs, e.g. "
                        "4:paper-dcgan,4:stylegan2,12:stylegan2 (default: every row)")  # fmt: skip
    args = parser.parse_args()
    source = Path(args.out) / "realism.json"
    if not source.is_file():
        print(f"{source}: not found; run benchmarks/realism.py --out {args.out} first")
        return 2
    rows = json.loads(source.read_text())["rows"]
    if args.only:
        wanted = args.only
        rows = [r for r in rows if (float(r["budget_min"]), r["candidate"]) in wanted]
        if len(rows) != len(wanted):
            print(f"--only: {len(wanted) - len(rows)} of these pairs are not in {source}")
            return 2
    text = ranking_markdown(rows, args.variant)
    name = "detectability.md" if not args.only else "detectability-only.md"
    (Path(args.out) / name).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
