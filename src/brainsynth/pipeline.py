"""train -> sample -> evaluate -> record, in one experiment-folder layout.

``brainsynth demo``, ``brainsynth reproduce`` and ``brainsynth evaluate`` all go through
here, so an experiment looks the same wherever it came from. An experiment folder ``EXP/``:

- ``run/``: the training run (``config.yaml``, ``checkpoints/``, ``metrics.jsonl``, ...);
- ``samples/``: ``000000.png``..., ``samples.npy``, ``sampling.json`` and ``grid.png``;
- ``evaluation/``: the evaluation's montages;
- ``metrics.json``: every metric, plus ``fake_sampling`` (how the synthetic images were
  made) and whatever the caller records beside them (e.g. the Table 1 configuration).

Finished steps are skipped: a finished run is not trained again, an unfinished one resumes.
Importing this module does not import torch (training and sampling load it on first use), so
the commands built on it start fast.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from brainsynth import sampling, training
from brainsynth.config import write_text_atomic
from brainsynth.errors import BrainsynthError
from brainsynth.imageio import is_generator_source, load_image_source
from brainsynth.metrics.evaluate import EvalConfig, evaluate, format_summary
from brainsynth.models.upgrade import upgrade_sampling_record
from brainsynth.sampling import SamplingConfig
from brainsynth.training import TrainConfig, is_finished


@dataclass(frozen=True)
class Experiment:
    """The paths of one experiment folder (see the module docstring)."""

    folder: Path

    @property
    def run(self) -> Path:
        return self.folder / "run"

    @property
    def samples(self) -> Path:
        return self.folder / "samples"

    @property
    def evaluation(self) -> Path:
        return self.folder / "evaluation"

    @property
    def metrics(self) -> Path:
        return self.folder / "metrics.json"


def sampling_record(source: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The ``sampling.json`` beside saved synthetic images, if any (records post-processing),
    with this version's keys (:func:`~brainsynth.models.upgrade.upgrade_sampling_record`)."""
    source = Path(source)
    folder = source if source.is_dir() else source.parent
    for candidate in (folder / "sampling.json", folder / "samples" / "sampling.json"):
        if candidate.is_file():
            try:
                record = json.loads(candidate.read_text(encoding="utf-8"))
            except (ValueError, RecursionError) as exc:
                raise BrainsynthError(f"{candidate}: not valid JSON ({exc})") from None
            if not isinstance(record, dict):
                raise BrainsynthError(f"{candidate}: not a sampling record (a JSON object)")
            return upgrade_sampling_record(record)
    return None


def load_fake_images(
    source: str | os.PathLike[str], n: int, seed: int = 0, device: str = "auto"
) -> tuple[np.ndarray, dict[str, Any] | None]:
    """Synthetic images from any source, and how they were made.

    A run folder or checkpoint is sampled (``n`` images, ``seed``); a PNG folder, ``.npy``
    or samples folder is read whole, with its ``sampling.json`` when there is one.
    """
    if is_generator_source(source):
        return sampling.sample_images(source, SamplingConfig(n=n, seed=seed, device=device))
    return load_image_source(source), sampling_record(source)


def load_fake_pairs(
    source: str | os.PathLike[str],
    n: int,
    seed: int = 0,
    device: str = "auto",
    real_masks: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any] | None]:
    """:func:`load_fake_images` with the tumour masks the images carry, if any: a samples
    folder's ``masks.npy`` (beside ``samples.npy``, row for row), a pair model's generated
    masks, or, for a generator of images for given masks, ``n`` of ``real_masks`` drawn
    with ``seed`` (recorded as ``masks: given``). The masks are None for images alone."""
    from brainsynth.data.masks import read_mask_file

    if is_generator_source(source):
        from brainsynth.sampling.images import sample_loaded_pairs
        from brainsynth.sampling.source import load_generator

        config = SamplingConfig(n=n, seed=seed, device=device)
        generator, record = load_generator(source, config.weights, config.device)
        given = None
        if record.shape.condition_channels:
            if real_masks is None or not len(real_masks):
                raise BrainsynthError(f"{source}: draws images for given tumour masks; the real "
                                      "folder has no segmented slice to draw them for")  # fmt: skip
            pick = np.random.default_rng(seed).choice(
                len(real_masks), n, replace=n > len(real_masks)
            )
            given = np.ascontiguousarray(real_masks[np.sort(pick)], dtype=np.uint8)
        images, masks, info = sample_loaded_pairs(generator, record, config, masks=given)
        if given is not None:
            info["masks_source"] = f"real masks of the evaluated folder, drawn with seed {seed}"
        return images, masks, info
    images, record = load_image_source(source), sampling_record(source)
    path = Path(source)
    beside = (path if path.is_dir() else path.parent) / "masks.npy"
    if not beside.is_file() or beside == path:
        return images, None, record
    masks = read_mask_file(beside)
    if masks.shape != (len(images), *images.shape[2:]):
        raise BrainsynthError(
            f"{beside}: {masks.shape} masks do not match the {len(images)} images of "
            f"{images.shape[-1]} px beside them"
        )
    return images, masks, record


def train_or_resume(config: TrainConfig) -> Path:
    """Train ``config`` into ``config.run.out``; resume it if unfinished; skip it if done."""
    run = Path(config.run.out)
    if not (run / "config.yaml").is_file():
        return training.train(config)
    if not is_finished(run):
        training.resume(run, iters=config.run.iters)
    return run


def sample_experiment(
    experiment: Experiment, config: SamplingConfig
) -> tuple[np.ndarray, dict[str, Any]]:
    """Sample the experiment's run into ``samples/`` (with ``grid.png``)."""
    images, info = sampling.sample_images(experiment.run, config)
    grid = experiment.samples / "grid.png"
    sampling.write_samples(images, experiment.samples, grid=grid, meta=info)
    return images, info


def evaluate_and_record(
    real: np.ndarray,
    fake: np.ndarray,
    config: EvalConfig,
    metrics_path: Path,
    montages: Path,
    fake_sampling: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    progress: bool = True,
    real_labels: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Evaluate, then write ``metrics_path`` (metrics + ``fake_sampling`` + ``extra``);
    ``real_labels`` (slice position, tumour per real image) train the domain encoder."""
    metrics = evaluate(
        real, fake, config, out_dir=montages, progress=progress, real_labels=real_labels
    )
    if fake_sampling is not None:
        metrics["fake_sampling"] = fake_sampling
    metrics.update(extra or {})
    write_text_atomic(metrics_path, json.dumps(metrics, indent=2, default=str) + "\n")
    print(format_summary(metrics), flush=True)
    return metrics


def run_experiment(
    experiment: Experiment,
    train_config: TrainConfig,
    real: np.ndarray,
    sampling: SamplingConfig,
    evaluation: EvalConfig,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """train (or resume) -> sample -> evaluate -> record, into ``experiment``.

    The run is trained in ``experiment.run`` whatever ``train_config.run.out`` says.
    """
    run = dataclasses.replace(train_config.run, out=str(experiment.run))
    train_or_resume(dataclasses.replace(train_config, run=run))
    fake, info = sample_experiment(experiment, sampling)
    return evaluate_and_record(
        real, fake, evaluation, experiment.metrics, experiment.evaluation, info, extra
    )
