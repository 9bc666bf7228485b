"""Where a generator comes from: a run's checkpoint or an export, read into one typed record.

:func:`load_generator` reads a run folder (its ``checkpoints/last.pt``), a ``.pt``
checkpoint or an export folder (:mod:`.exported`) and returns the generator with a
:class:`GeneratorRecord`: what it is (family, settings, shape), which weights, what its
images are (image set, classes) and its sampling defaults, the same fields whatever the
source. Every later step (sampling, ``sampling.json``, augment-eval's generators, the
Python API) reads that record; nothing below looks the family up again.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import yaml

from brainsynth.errors import BrainsynthError
from brainsynth.models.checkpoint import (
    find_checkpoint,
    load_checkpoint,
    load_state_checked,
    model_record,
    resolve_device,
)
from brainsynth.models.upgrade import run_folder_of
from brainsynth.sampling.exported import is_export, load_export_generator
from brainsynth.sampling.record import GeneratorRecord
from brainsynth.vocabulary import description_problems, floor_problem


def load_generator(
    source: str | os.PathLike[str], weights: str = "auto", device: str = "auto"
) -> tuple[torch.nn.Module, GeneratorRecord]:
    """The generator of a run folder (its ``checkpoints/last.pt``), a ``.pt`` checkpoint or an
    export folder, in eval mode on ``device``, and its :class:`GeneratorRecord`.

    ``weights``: ``ema`` | ``raw`` | ``auto`` (EMA when the source has it).
    """
    if is_export(source):
        return load_export_generator(source, weights, device)
    path = find_checkpoint(source)
    state = load_checkpoint(path)
    record = model_record(state, path)
    if not isinstance(state["train"], dict) or not isinstance(state["trainer"], dict):
        raise BrainsynthError(f"{path}: bad checkpoint (train and trainer must be mappings)")
    generator = record.build()[0]
    parts = state["trainer"]
    has_ema = "generator_ema" in parts
    if weights == "ema" and not has_ema:
        raise BrainsynthError(
            f"{path}: this run kept no EMA generator (train --ema-half-life); use --weights raw"
        )
    use_ema = has_ema and weights in ("ema", "auto")
    key = "generator_ema" if use_ema else "generator"
    load_state_checked(generator, parts[key], key.replace("_", " "), path)
    generator.to(resolve_device(device)).eval()
    train = dict(state["train"])
    data = train.get("data") if isinstance(train.get("data"), dict) else {}
    objective = train.get("objective") if isinstance(train.get("objective"), dict) else {}
    loaded = GeneratorRecord(
        source=str(source),
        path=str(path),
        kind="checkpoint",
        iteration=int(state["iteration"]),
        model=record,
        weights="ema" if use_ema else "raw",
        objective=objective.get("name"),
        image_set=data.get("sequence"),
        label_names=label_names_of(train),
        condition=data.get("condition") or "none",
        tumor_threshold=data.get("tumor_threshold"),
        background_floor=0.0,
        train=train,
        version=state.get("upgraded_from", state["version"]),
    )
    problems = description_problems(
        loaded.image_set, loaded.condition, list(loaded.label_names), record.shape.channels,
        record.shape.num_classes,
    )  # fmt: skip
    if problems:
        raise BrainsynthError(f"{path}: bad training config in checkpoint ({problems[0]})")
    floor = run_default_floor(path, state)
    return generator, replace(loaded, background_floor=floor)


def run_default_floor(path: Path, checkpoint: dict[str, Any]) -> float:
    """The background floor a run asked for: 0.1.0's checkpoint (its training config held
    it), or ``RUN/sampling.yaml`` (in [0, 0.5], else one line naming the file)."""
    if "background_floor" in checkpoint:
        floor, where = checkpoint["background_floor"], path
    else:
        where = run_folder_of(path) / "sampling.yaml"
        try:
            recorded = yaml.safe_load(where.read_text()) or {}
        except (OSError, yaml.YAMLError, RecursionError):
            return 0.0
        floor = recorded.get("background_floor") if isinstance(recorded, dict) else None
        floor = 0.0 if floor is None else floor
    problem = floor_problem(floor)
    if problem:
        raise BrainsynthError(f"{where}: {problem}")
    return float(floor)


def label_names_of(train: dict[str, Any]) -> tuple[str, ...]:
    """The class names a training config recorded; () for unconditional runs."""
    data = train.get("data")
    if not isinstance(data, dict) or data.get("condition", "none") == "none":
        return ()
    return tuple(data.get("label_names") or ())
