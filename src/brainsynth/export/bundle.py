"""``brainsynth export RUN OUT``: a generator another lab can sample, without the run folder.

OUT gets four files (see :mod:`brainsynth.sampling.exported` for how they are read):

- ``model.safetensors``: the generator's state dict only (EMA weights by default), no
  discriminator, optimiser, RNG state or pickle;
- ``config.json``: format name and version, architecture, its settings and shape, image set
  and channel order, class names, output mapping, background floor, brainsynth version,
  checkpoint iteration, the sha256 of the weights and of the training data's
  ``dataset.json``, patient and image counts; patient identifiers and paths only with
  ``with_provenance``;
- ``README.md``: the model card (:mod:`.card`);
- ``manifest.json``: the sha256 of the three files above (:mod:`brainsynth.sampling.manifest`),
  so an edited or damaged file is refused when the export is read.

OUT follows the output rule (:mod:`brainsynth.outputs`): new, empty, or an earlier export's
folder, checked before anything is read; the files are built in a scratch folder and moved
into place together.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from brainsynth import __version__
from brainsynth.errors import BrainsynthError
from brainsynth.export import facts
from brainsynth.export.card import model_card
from brainsynth.models.checkpoint import (
    ModelRecord,
    find_checkpoint,
    load_checkpoint,
    load_state_checked,
    model_record,
)
from brainsynth.models.upgrade import run_folder_of
from brainsynth.outputs import claim_folder
from brainsynth.sampling.exported import (
    BUNDLE_FILES,
    CARD_FILE,
    CONFIG_FILE,
    FORMAT,
    FORMAT_VERSION,
    WEIGHTS_FILE,
    flatten_state,
)
from brainsynth.sampling.manifest import MANIFEST_FILE, manifest_text, sha256_of
from brainsynth.sampling.source import label_names_of, run_default_floor
from brainsynth.vocabulary import description_problems

EXPORT_FILES: tuple[str, ...] = (*BUNDLE_FILES, MANIFEST_FILE)


@dataclass
class ExportOptions:
    weights: str = "auto"  # ema | raw | auto (ema when the run kept one)
    evaluation: str | None = None  # a metrics.json to report in the card
    vtt_db: str | None = None  # a VTT database ...
    study: str | None = None  # ... and the study of this generator in it
    with_provenance: bool = False  # paths and patient identifiers in config.json
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.weights not in ("auto", "ema", "raw"):
            raise BrainsynthError(f"--weights {self.weights!r}: choose auto, ema or raw")
        if (self.vtt_db is None) != (self.study is None):
            raise BrainsynthError("--vtt-db and --study go together")
        if self.evaluation is not None and not Path(self.evaluation).is_file():
            raise BrainsynthError(f"--evaluation {self.evaluation}: no such file")
        if self.vtt_db is not None and not Path(self.vtt_db).is_file():
            raise BrainsynthError(f"--vtt-db {self.vtt_db}: no such file")


def generator_state(
    checkpoint: dict[str, Any], path: Path, record: ModelRecord, weights: str
) -> tuple[torch.nn.Module, dict[str, Any], str]:
    """The generator of ``record`` with the chosen weights, its state dict and which weights
    they are (``ema`` | ``raw``)."""
    parts = checkpoint["trainer"]
    if weights == "auto":
        weights = "ema" if "generator_ema" in parts else "raw"
    key = "generator_ema" if weights == "ema" else "generator"
    if key not in parts:
        raise BrainsynthError(
            f"{path}: this run kept no EMA generator (train --ema-half-life); use --weights raw"
        )
    generator = record.build()[0]
    load_state_checked(generator, parts[key], key.replace("_", " "), path)
    return generator, generator.state_dict(), weights


def export_config(
    checkpoint: dict[str, Any],
    path: Path,
    record: ModelRecord,
    generator: torch.nn.Module,
    options: ExportOptions,
) -> dict[str, Any]:
    """``config.json`` without the weights' sha256 (added once the file is written)."""
    train = dict(checkpoint["train"])
    data = train.get("data") if isinstance(train.get("data"), dict) else {}
    objective = train.get("objective") if isinstance(train.get("objective"), dict) else {}
    image_set = str(data.get("sequence"))
    iteration = int(checkpoint["iteration"])
    run = run_folder_of(path)
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "brainsynth_version": __version__,
        **record.as_dict(),
        "weights": options.weights,
        "objective": objective.get("name"),
        "image_set": image_set,
        "image_set_description": facts.image_set_note(image_set),
        "channels": facts.channel_names(image_set, record.shape.channels),
        "label_names": list(label_names_of(train)),
        "condition": data.get("condition", "none"),
        "tumor_threshold": data.get("tumor_threshold"),
        "output_mapping": generator.output_mapping,
        "value_range": [0.0, 1.0],
        "background_floor": run_default_floor(path, checkpoint),
        "checkpoint_iteration": iteration,
        "training_data": facts.training_data(train),
        "training": facts.compute(run, train, iteration),
    }
    if options.with_provenance:
        config["provenance"] = facts.provenance(run, path, train)
    problems = description_problems(
        image_set, config["condition"], config["label_names"], record.shape.channels,
        record.shape.num_classes, config["channels"],
    )  # fmt: skip
    if problems:  # what loading the export would refuse
        raise BrainsynthError(f"{path}: bad training config in checkpoint ({problems[0]})")
    return config


def card_inputs(run: Path, options: ExportOptions) -> dict[str, Any]:
    """The evaluation and Visual Turing Test results the card reports, if any."""
    found: dict[str, Any] = {"evaluation": None, "evaluation_file": None, "vtt": None}
    metrics_path = Path(options.evaluation) if options.evaluation else None
    metrics_path = metrics_path or facts.pipeline_evaluation(run)
    if metrics_path is not None:
        found["evaluation"] = facts.evaluation(metrics_path)
        found["evaluation_file"] = metrics_path.name
    if options.vtt_db is not None:
        from brainsynth.vtt.scoring import study_results

        found["vtt"] = study_results(options.vtt_db, str(options.study))
    return found


def export_run(
    source: str | os.PathLike[str], out: str | os.PathLike[str], options: ExportOptions
) -> Path:
    """Write ``out`` (see the module docstring) from a run folder or ``.pt`` checkpoint."""
    claim = claim_folder(out, "export", "OUT", EXPORT_FILES, overwrite=options.overwrite)
    path = find_checkpoint(source)
    checkpoint = load_checkpoint(path)
    run = run_folder_of(path)
    record = model_record(checkpoint, path)  # the one lookup of its family
    generator, state, weights = generator_state(checkpoint, path, record, options.weights)
    config = export_config(checkpoint, path, record, generator, options)
    config["weights"] = weights
    extra = card_inputs(run, options)
    train_settings = facts.training_settings(dict(checkpoint["train"]))
    tmp = claim.scratch()
    try:
        from safetensors.torch import save_file

        flat, nested = flatten_state(state)
        save_file(flat, str(tmp / WEIGHTS_FILE), metadata={"format": FORMAT})
        config["nested"] = nested
        config["weights_sha256"] = sha256_of(tmp / WEIGHTS_FILE)
        config["tensors"] = len(flat)
        config["parameters"] = int(sum(t.numel() for t in generator.parameters()))
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        card = model_card(config, record, train_settings, **extra)
        (tmp / CARD_FILE).write_text(card, encoding="utf-8")
        (tmp / MANIFEST_FILE).write_text(manifest_text(tmp, BUNDLE_FILES), encoding="utf-8")
        # safetensors writes its file private (0600); the export is meant to be shared
        (tmp / WEIGHTS_FILE).chmod((tmp / CONFIG_FILE).stat().st_mode & 0o777)
        return claim.install(tmp, last=[CONFIG_FILE, MANIFEST_FILE])
    except BaseException:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        raise
