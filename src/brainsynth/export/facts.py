"""What an export says about its generator, read from the run folder and its training data.

Each function returns plain JSON-able dicts and never a patient identifier or a path (those
go into ``provenance`` only with ``--with-provenance``, :func:`provenance`). Missing files
are stated as missing, not guessed: a run whose prepared folder has moved gets
``training_data = {"available": False, ...}`` and the model card says so.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

from brainsynth.errors import BrainsynthError
from brainsynth.paper import SEQUENCES

CONCAT_NOTE = "T1, T1c, T2 and FLAIR images pooled as one image set (the paper's Concat)"


def channel_names(image_set: str, channels: int) -> list[str]:
    """What each image channel holds, in order: ``joint`` -> the four sequences."""
    if image_set == "joint":
        return list(SEQUENCES)[:channels]
    return [image_set] * channels


def image_set_note(image_set: str) -> str:
    if image_set == "concat":
        return CONCAT_NOTE
    if image_set == "joint":
        return "the four co-registered sequences of one slice as a 4-channel image (T1, T1c, " \
            "T2, FLAIR)"  # fmt: skip
    return f"{image_set.upper()} images"


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``; None when the file is missing or unreadable."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _training_patients(prepared: Path, chosen: list[str]) -> tuple[int, int | None]:
    """(patients, slices) the run trained on: all of ``slices.csv`` or the chosen patients."""
    try:
        with (prepared / "slices.csv").open(newline="") as handle:
            rows = [row.get("patient", "") for row in csv.DictReader(handle)]
    except OSError:
        return len(chosen), None
    if chosen:
        keep = set(chosen)
        rows = [p for p in rows if p in keep]
    return len(set(rows)), len(rows)


def training_data(train: dict[str, Any]) -> dict[str, Any]:
    """A summary of the prepared folder the run trained on (no identifiers, no paths).
    ``train``: a checkpoint's training config (nested: older layouts are upgraded when the
    checkpoint is read, :mod:`brainsynth.models.upgrade`)."""
    data = train.get("data") if isinstance(train.get("data"), dict) else {}
    prepared = Path(str(data.get("prepared") or ""))
    image_set = str(data.get("sequence") or "")
    meta = read_json(prepared / "dataset.json") if prepared.parts else None
    if meta is None:
        missing = "the prepared data folder was not found when this export was made"
        return {"available": False, "image_set": image_set, "note": missing}
    chosen = [str(p) for p in data.get("patients") or []]
    patients, slices = _training_patients(prepared, chosen)
    per_slice = 4 if image_set == "concat" else 1
    grades = Counter(str(g) for g in (meta.get("grades") or {}).values())
    layouts = Counter(str(v) for v in (meta.get("layouts") or {}).values())
    return {
        "available": True,
        "dataset_json_sha256": hashlib.sha256((prepared / "dataset.json").read_bytes()).hexdigest(),
        "phantom": bool(meta.get("phantom")) or (Path(str(meta.get("source", ""))) /
                                                  "PHANTOM.json").is_file(),
        "layouts": dict(sorted(layouts.items())),
        "grades": dict(sorted(grades.items())),
        "grade_filter": (meta.get("filters") or {}).get("grade"),
        "tumor_filter": (meta.get("filters") or {}).get("tumor"),
        "plane": meta.get("plane"),
        "slice_range": meta.get("slice_range"),
        "size": meta.get("size"),
        "resize": meta.get("resize"),
        "normalization": (meta.get("normalization") or {}).get("method"),
        "patients": patients,
        "patients_in_folder": (meta.get("counts") or {}).get("cases"),
        "patients_restricted": bool(chosen),
        "slices": slices,
        "images": slices * per_slice if slices is not None else None,
        "image_set": image_set,
    }  # fmt: skip


def compute(run: Path, train: dict[str, Any], iteration: int) -> dict[str, Any]:
    """Iterations, images shown, wall/CPU time and device, from ``done.json`` and the config."""
    section = train.get("run") if isinstance(train.get("run"), dict) else {}
    batch = section.get("batch")
    done = read_json(run / "done.json") or {}
    facts: dict[str, Any] = {
        "iterations": iteration,
        "iterations_requested": section.get("iters"),
        "batch": batch,
        "images_shown": iteration * int(batch) if batch else None,
        "finished": bool(done),
        "precision": section.get("precision"),
        "processes": done.get("world_size") or section.get("world_size") or 1,
        "wall_seconds": done.get("seconds"),
        "cpu_seconds": done.get("cpu_seconds"),
        "device": done.get("device") or section.get("device"),
        "stop_reason": done.get("reason"),
    }
    if not done:
        facts["wall_seconds"] = last_logged_seconds(run / "metrics.jsonl")
    return facts


def last_logged_seconds(path: Path) -> float | None:
    """The ``seconds`` of the last line of ``metrics.jsonl`` (an unfinished run's time)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            return float(json.loads(line)["seconds"])
        except (ValueError, KeyError, TypeError):
            continue
    return None


def training_settings(train: dict[str, Any]) -> dict[str, Any]:
    """The objective, optimiser, EMA and augmentation a run used (config.yaml sections)."""
    return {key: train.get(key) for key in ("objective", "optimizer", "ema", "augment")}


def evaluation(path: Path) -> dict[str, Any]:
    """A ``metrics.json`` written by ``brainsynth evaluate`` (or the pipeline)."""
    metrics = read_json(path)
    if metrics is None:
        raise BrainsynthError(f"--evaluation {path}: not a readable metrics.json")
    return metrics


def pipeline_evaluation(run: Path) -> Path | None:
    """``EXP/metrics.json`` beside a pipeline's ``EXP/run`` (demo, reproduce), if any."""
    candidate = run.parent / "metrics.json"
    return candidate if run.name == "run" and candidate.is_file() else None


def provenance(run: Path, checkpoint: Path, train: dict[str, Any]) -> dict[str, Any]:
    """Paths and patient identifiers: written only with ``--with-provenance``."""
    data = train.get("data") if isinstance(train.get("data"), dict) else {}
    prepared = Path(str(data.get("prepared") or ""))
    patients = [str(p) for p in data.get("patients") or []]
    if not patients:
        try:
            with (prepared / "slices.csv").open(newline="") as handle:
                patients = sorted({row["patient"] for row in csv.DictReader(handle)})
        except (OSError, KeyError):
            patients = []
    return {"run": str(run.resolve()), "checkpoint": str(checkpoint.resolve()),
            "prepared": str(prepared), "patients": patients}  # fmt: skip
