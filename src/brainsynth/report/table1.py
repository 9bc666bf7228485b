"""Table 1 in the paper's shape: Markdown, CSV (one line per configuration) and HTML."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from brainsynth.config import write_text_atomic
from brainsynth.paper import PAPER_TABLE1
from brainsynth.report.render import format_value, interval_of, metric_cell, render_html
from brainsynth.vtt.scoring import list_studies, study_results

COLUMNS: tuple[tuple[str, str, str], ...] = (
    # (column title, metrics key, meaning)
    (
        "C2ST accuracy (%)",
        "c2st_accuracy",
        "held-out accuracy of a CNN telling real from synthetic (95% interval); 50% = chance",
    ),
    (
        "Real-vs-real control (%)",
        "c2st_control_accuracy",
        "the same test between two patient-disjoint halves of the real data",
    ),
    ("C2ST gap (%)", "c2st_gap", "C2ST accuracy minus the control: what the GAN adds"),
    ("kNN C2ST (%)", "c2st_knn_accuracy", "nearest-neighbour two-sample test accuracy"),
    ("FID", "fid", "Fréchet distance of feature statistics (lower is closer)"),
    ("KID", "kid", "kernel inception-style distance (lower is closer)"),
    ("Precision", "precision", "share of synthetic images inside the real feature manifold"),
    ("Recall", "recall", "share of real images inside the synthetic feature manifold"),
    ("MS-SSIM real", "ms_ssim_real", "mean pairwise MS-SSIM within real images"),
    (
        "MS-SSIM synthetic",
        "ms_ssim_fake",
        "the same within synthetic images; much higher than real hints at mode collapse",
    ),
    (
        "Memorised",
        "memorized_fraction",
        "share of synthetic images closer to a training image than held-out real images are",
    ),
)
PERCENT_KEYS = {"c2st_accuracy", "c2st_control_accuracy", "c2st_gap", "c2st_knn_accuracy"}
VTT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("VTT accuracy (%)", "accuracy"),
    ("Real as Real", "real_as_real"),
    ("Real as Synt", "real_as_synthetic"),
    ("Synt as Real", "synthetic_as_real"),
    ("Synt as Synt", "synthetic_as_synthetic"),
)


def load_metrics(out: Path, slug: str) -> dict[str, Any] | None:
    path = out / slug / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else None


def vtt_results_by_name(db: str | None) -> dict[str, dict[str, Any]]:
    """Results of Visual Turing Test studies named after a configuration, keyed by name.

    Names match case-insensitively, with ``x`` or ``×`` in the size (``T1 (WGAN, 128x128)``).
    Only complete studies count (every invited rater answered every image).
    """
    if not db or not Path(db).is_file():
        return {}
    found = {}
    for study in list_studies(db):
        if study["complete"]:
            found[normalise_label(study["name"])] = study_results(db, study["id"])
    return found


def normalise_label(name: str) -> str:
    return name.replace("×", "x").replace(" ", "").lower()


def table_rows(
    config: Any, configurations: list[Any]
) -> tuple[list[str], list[list[str]], list[dict[str, Any]]]:
    """Column titles, formatted rows, and machine-readable rows for the CSV."""
    out = Path(config.out)
    vtt = vtt_results_by_name(config.vtt_db)
    titles = ["Configuration", *[c[0] for c in COLUMNS], "Paper VTT accuracy (%)"]
    titles += [c[0] for c in VTT_COLUMNS]
    rows, records = [], []
    for configuration in configurations:
        metrics = load_metrics(out, configuration.slug) or {}
        study = vtt.get(normalise_label(configuration.label), {})
        paper = PAPER_TABLE1[configuration.label]
        row = [configuration.label]
        row += [metric_cell(metrics, key, key in PERCENT_KEYS) for _, key, _ in COLUMNS]
        row.append(str(paper[0]))
        row += [vtt_cell(study, key) for _, key in VTT_COLUMNS]
        rows.append(row)
        record: dict[str, Any] = {
            "configuration": configuration.label,
            "status": "done" if metrics else "pending",
        }
        for _, key, _ in COLUMNS:
            record[key] = metrics.get(key)
            interval = interval_of(metrics, key)
            record[f"{key}_ci95_low"], record[f"{key}_ci95_high"] = (
                interval if isinstance(interval, (list, tuple)) else (None, None)
            )
        record["fid_feature_space"] = metrics.get("fid_feature_space")
        record["paper_vtt_accuracy"] = paper[0]
        for _, key in VTT_COLUMNS:
            record[f"vtt_{key}"] = study.get(key)
        records.append(record)
    return titles, rows, records


def vtt_cell(study: dict[str, Any], key: str) -> str:
    if key not in study:
        return "–"
    value = study[key]
    return format_value(value, percent=True) if key == "accuracy" else str(value)


def findings(config: Any, configurations: list[Any]) -> str:
    """Whether the paper's two qualitative findings hold on this data, in one line."""
    out = Path(config.out)
    metrics = {c.label: load_metrics(out, c.slug) for c in configurations}
    if any(m is None for m in metrics.values()):
        done = sum(m is not None for m in metrics.values())
        return f"Findings pending: {done} of {len(metrics)} configurations finished."

    def distance(m: dict[str, Any]) -> float:
        return abs(float(m["c2st_accuracy"]) - 0.5)

    pairs = [
        (c.label, c.label.replace("DCGAN", "WGAN")) for c in configurations if c.gan == "dcgan"
    ]
    wins = sum(distance(metrics[w]) < distance(metrics[d]) for d, w in pairs)
    ties = sum(distance(metrics[w]) == distance(metrics[d]) for d, w in pairs)
    first = "holds" if wins > len(pairs) / 2 else "does not hold"
    dc64 = metrics["Concat (DCGAN, 64x64)"]
    collapsed = bool(dc64.get("collapse_suspected")) or (
        dc64.get("ms_ssim_fake") is not None
        and dc64.get("ms_ssim_real") is not None
        and float(dc64["ms_ssim_fake"]) > float(dc64["ms_ssim_real"]) + 0.1
    )
    second = "holds" if collapsed else "does not hold"
    return (
        f"WGAN more realistic than DCGAN (C2ST accuracy nearer 50%) on {wins} of {len(pairs)} "
        f"image sets{f' ({ties} tied)' if ties else ''}: the paper's finding {first}. "
        f"DCGAN mode collapse on Concat 64x64 "
        f"(synthetic far less diverse than real): the paper's finding {second}."
    )


def write_table1(config: Any, configurations: list[Any]) -> Path:
    out = Path(config.out)
    titles, rows, records = table_rows(config, configurations)
    line = findings(config, configurations)
    markdown = ["| " + " | ".join(titles) + " |", "|" + "---|" * len(titles)]
    markdown += ["| " + " | ".join(row) + " |" for row in rows]
    markdown += ["", line, ""]
    write_text_atomic(out / "table1.md", "\n".join(markdown))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in records)
    write_text_atomic(out / "table1.csv", buffer.getvalue())
    render_html(
        "table1.html",
        out / "table1.html",
        columns=titles,
        rows=rows,
        findings=line,
        has_vtt=bool(config.vtt_db),
        vtt_db=config.vtt_db,
        data64=config.data64,
        data128=config.data128,
        meanings=[(title, meaning) for title, _, meaning in COLUMNS],
    )
    return out / "table1.md"
