"""Conditional generators for ``brainsynth augment-eval``: trained per fraction, or given.

The experiment (:mod:`brainsynth.augment_eval`) only knows the
:class:`~brainsynth.augment_eval.synthetic.SyntheticSource` protocol; this module, one layer
up (it composes training and sampling, like the pipeline), provides the real one: for each
fraction and repeat, a tumour-conditional GAN trained on exactly that fraction's patients
(``data.patients`` of its run config) in ``OUT/generators/f<fraction>-r<repeat>``, or the run
given with ``--runs``. A finished generator folder is reused and an unfinished one resumed,
so an interrupted experiment repeats no generator training.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from brainsynth.augment_eval.config import AugmentEvalConfig
from brainsynth.augment_eval.synthetic import (
    GeneratorRequest,
    LabelledGenerator,
    SyntheticSource,
    run_training_patients,
)
from brainsynth.config import config_from_dict
from brainsynth.errors import BrainsynthError
from brainsynth.sampling.config import SamplingConfig
from brainsynth.sampling.images import sample_loaded
from brainsynth.sampling.source import load_generator
from brainsynth.training import TrainConfig, is_finished, resume_training, run_training

DEFAULT_GEN_ITERS = 2000
"""Generator iterations per fraction when neither --gen-iters nor --gen-config says."""


class RunGenerator:
    """A trained conditional run as a :class:`LabelledGenerator` (EMA weights if kept), drawn
    through the one generation path: its background floor and its sampler's defaults apply
    as they do in ``brainsynth sample``."""

    def __init__(self, run: str | Path, device: str = "auto", batch: int = 256) -> None:
        self.generator, self.record = load_generator(run, "auto", device)
        self.label_names = self.record.label_names
        self.patients = run_training_patients(run)
        self.batch, self.device = batch, device

    def sample(self, labels: np.ndarray, seed: int) -> np.ndarray:
        ids = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        config = SamplingConfig(n=len(ids), seed=seed, batch=self.batch, device=self.device)
        return sample_loaded(self.generator, self.record, config, labels=ids)[0]


def generator_config(config: AugmentEvalConfig, request: GeneratorRequest) -> TrainConfig:
    """The TrainConfig of one fraction's generator: ``--gen-config`` (a TrainConfig YAML),
    with the data, patients, condition, architecture, iterations, seed and folder set here."""
    data: dict[str, Any] = {}
    if config.gen_config:
        try:
            data = yaml.safe_load(Path(config.gen_config).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise BrainsynthError(f"--gen-config {config.gen_config}: unreadable ({exc})") from exc
        if not isinstance(data, dict):
            raise BrainsynthError(f"--gen-config {config.gen_config}: expected config sections")
    data.setdefault("data", {}).update(
        prepared=config.data,
        sequence=config.sequence,
        condition="tumor",
        label_names=[],
        tumor_threshold=config.tumor_threshold,
        patients=list(request.patients),
    )
    model = data.setdefault("model", {})
    if config.arch:
        model["arch"] = config.arch
    run = data.setdefault("run", {})
    run.update(out=str(request.folder), seed=request.seed, progress=False)
    if config.gen_iters is not None:
        run["iters"] = config.gen_iters
    run.setdefault("iters", DEFAULT_GEN_ITERS)
    run.setdefault("device", config.device)
    train = config_from_dict(TrainConfig, data)
    return dataclasses.replace(train, run=dataclasses.replace(train.run, out=str(request.folder)))


def training_source(config: AugmentEvalConfig) -> SyntheticSource:
    """Per request: the ``--runs`` run for that fraction and repeat, else a generator trained
    (or reused, or resumed) in the request's folder on exactly its patients."""

    def source(request: GeneratorRequest) -> LabelledGenerator:
        given = config.runs_for(request.fraction, request.repeat)
        if given is not None:
            return RunGenerator(given, config.device)
        folder = request.folder
        if (folder / "config.yaml").is_file():
            if run_training_patients(folder) != frozenset(request.patients):
                raise BrainsynthError(
                    f"{folder}: holds a generator of other patients; use a new --out"
                )
            if not is_finished(folder):
                resume_training(folder, progress=False)
        else:
            run_training(generator_config(config, request))
        return RunGenerator(folder, config.device)

    return source


def default_source(config: AugmentEvalConfig) -> SyntheticSource | None:
    """The source ``augment-eval`` uses; None when no arm is synthetic."""
    return training_source(config) if config.uses_synthetic else None
