"""Conditional generators for ``brainsynth augment-eval``: trained per fraction, or given.

The experiment (:mod:`brainsynth.augment_eval`) only knows the
:class:`~brainsynth.augment_eval.synthetic.SyntheticSource` protocol; this module, one layer
up (it composes training and sampling, like the pipeline), provides the real one: for each
fraction and repeat, a tumour-conditional GAN trained on exactly that fraction's patients
(``data.patients`` of its run config) in ``OUT/generators/f<fraction>-r<repeat>``, or the run
given with ``--runs``. A finished generator folder is reused and an unfinished one resumed,
so an interrupted experiment repeats no generator training.

``--task segmentation`` gets its generators of labelled data the same way (issue 25), per
training set and repeat, each trained on exactly that set's patients: a **pair generator**
(``train --with-mask``: image + tumour mask, for the ``real+synthetic`` and ``synthetic``
arms) in ``OUT/generators/<set>-pairs`` and a **mask-conditioned generator** (``train
--condition mask``: an image for a given mask, for ``real+synthetic-from-masks``) in
``OUT/generators/<set>-from-masks``. ``--arch`` (or ``--gen-config``'s ``model.arch``)
names the family of both; a family that cannot do what an arm needs is refused before any
work. Without one, pairs come from the paper's DCGAN and images for masks from the
SPADE-DCGAN (:data:`~brainsynth.models.DEFAULT_MASK_FAMILY`). ``--gen-iters`` and
``--gen-config`` mean what they mean for the classification task; ``--runs`` gives trained
pair runs.

The masks the from-masks arm draws images for are the training set's own, edited so that the
segmenter sees tumour shapes and places it has not seen: :func:`random_tumour_edits`.
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
    MaskConditionedSource,
    PairSource,
    SyntheticSource,
    run_training_patients,
)
from brainsynth.config import config_from_dict
from brainsynth.data.mask_edit import edit_mask
from brainsynth.errors import BrainsynthError
from brainsynth.models import DEFAULT_FAMILY, DEFAULT_MASK_FAMILY, family, family_names
from brainsynth.sampling.config import SamplingConfig
from brainsynth.sampling.images import sample_loaded, sample_loaded_pairs
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


def generator_config(
    config: AugmentEvalConfig,
    request: GeneratorRequest,
    labelled: dict[str, Any] | None = None,
    arch: str | None = None,
) -> TrainConfig:
    """The TrainConfig of one fraction's generator: ``--gen-config`` (a TrainConfig YAML),
    with the data, patients, condition, architecture, iterations, seed and folder set here.
    ``labelled``: the data settings of a generator of labelled data (segmentation), instead
    of the tumour classes; ``arch``: its family."""
    data: dict[str, Any] = read_gen_config(config)
    data.setdefault("data", {}).update(
        {
            "prepared": config.data,
            "sequence": config.sequence,
            "condition": "tumor",
            "label_names": [],
            "tumor_threshold": config.tumor_threshold,
            "patients": list(request.patients),
            **(labelled or {}),
        }
    )
    model = data.setdefault("model", {})
    if arch or config.arch:
        model["arch"] = arch or config.arch
    run = data.setdefault("run", {})
    run.update(out=str(request.folder), seed=request.seed, progress=False)
    if config.gen_iters is not None:
        run["iters"] = config.gen_iters
    run.setdefault("iters", DEFAULT_GEN_ITERS)
    run.setdefault("device", config.device)
    train = config_from_dict(TrainConfig, data)
    return dataclasses.replace(train, run=dataclasses.replace(train.run, out=str(request.folder)))


def read_gen_config(config: AugmentEvalConfig) -> dict[str, Any]:
    """``--gen-config``'s sections (empty without one)."""
    data: dict[str, Any] = {}
    if config.gen_config:
        try:
            data = yaml.safe_load(Path(config.gen_config).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise BrainsynthError(f"--gen-config {config.gen_config}: unreadable ({exc})") from exc
        if not isinstance(data, dict):
            raise BrainsynthError(f"--gen-config {config.gen_config}: expected config sections")
    return data


def training_source(config: AugmentEvalConfig) -> SyntheticSource:
    """Per request: the ``--runs`` run for that fraction and repeat, else a generator trained
    (or reused, or resumed) in the request's folder on exactly its patients."""

    def source(request: GeneratorRequest) -> LabelledGenerator:
        given = config.runs_for(request.fraction, request.repeat)
        if given is not None:
            return RunGenerator(given, config.device)
        train_in(request.folder, request, lambda: generator_config(config, request))
        return RunGenerator(request.folder, config.device)

    return source


def train_in(folder: Path, request: GeneratorRequest, make_config: Any) -> None:
    """Train the generator of ``request`` in ``folder``: reuse it when finished, resume it
    when not, refuse a folder that holds a generator of other patients."""
    if (folder / "config.yaml").is_file():
        if run_training_patients(folder) != frozenset(request.patients):
            raise BrainsynthError(f"{folder}: holds a generator of other patients; use a new --out")
        if not is_finished(folder):
            resume_training(folder, progress=False)
    else:
        run_training(make_config())


def default_source(config: AugmentEvalConfig) -> SyntheticSource | None:
    """The source ``augment-eval`` uses; None when no arm is synthetic."""
    return training_source(config) if config.uses_synthetic else None


class PairRunGenerator:
    """A trained pair run (``train --with-mask``) as a :class:`PairGenerator`: image + mask
    pairs through the one generation path (EMA weights if kept)."""

    def __init__(self, run: str | Path, device: str = "auto", batch: int = 256) -> None:
        self.generator, self.record = load_generator(run, "auto", device)
        if not self.record.shape.mask_channels:
            raise BrainsynthError(f"{run}: not a generator of image + mask pairs (train it with "
                                  "--with-mask)")  # fmt: skip
        self.patients = run_training_patients(run)
        self.batch, self.device = batch, device

    def sample_pairs(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        config = SamplingConfig(n=n, seed=seed, batch=self.batch, device=self.device)
        images, masks, _ = sample_loaded_pairs(self.generator, self.record, config)
        return images, masks


class MaskRunGenerator:
    """A trained mask-conditioned run (``train --condition mask``) as a
    :class:`MaskConditionedGenerator`: one image per given label map."""

    def __init__(self, run: str | Path, device: str = "auto", batch: int = 256) -> None:
        self.generator, self.record = load_generator(run, "auto", device)
        if not self.record.shape.condition_channels:
            raise BrainsynthError(f"{run}: does not draw images for given masks (train it with "
                                  "--condition mask)")  # fmt: skip
        self.patients = run_training_patients(run)
        self.batch, self.device = batch, device

    def sample_from_masks(self, masks: np.ndarray, seed: int) -> np.ndarray:
        masks = np.ascontiguousarray(masks, dtype=np.uint8)
        config = SamplingConfig(n=len(masks), seed=seed, batch=self.batch, device=self.device)
        return sample_loaded_pairs(self.generator, self.record, config, masks=masks)[0]


def labelled_arch(config: AugmentEvalConfig, what: str) -> str:
    """The family of a generator of labelled data (``what``: ``pairs`` or ``mask``):
    ``--arch`` (or ``--gen-config``'s), else the default for it; a one-line error when that
    family cannot do it."""
    named = config.arch or (read_gen_config(config).get("model") or {}).get("arch")
    if named is None:
        return DEFAULT_MASK_FAMILY if what == "mask" else DEFAULT_FAMILY
    chosen = family(str(named))
    if what == "mask" and "mask" not in chosen.conditioning:
        able = [f for f in family_names() if "mask" in family(f).conditioning]
        raise BrainsynthError(f"--arch {chosen.name} cannot draw images for a tumour mask "
                              f"(arm real+synthetic-from-masks): use --arch {' | '.join(able)}, "
                              "or leave that arm out")  # fmt: skip
    if what == "pairs" and chosen.requires:
        able = [f for f in family_names() if not family(f).requires]
        raise BrainsynthError(f"--arch {chosen.name} draws images for given masks; it cannot "
                              "generate image + mask pairs (arms real+synthetic, synthetic): use "
                              f"--arch {' | '.join(able)}, or leave those arms out")  # fmt: skip
    return chosen.name


PAIR_DATA = {"condition": "none", "with_mask": True}
MASK_DATA = {"condition": "mask", "with_mask": False}


def pair_training_source(config: AugmentEvalConfig) -> PairSource:
    """Per request: the ``--runs`` pair run for that fraction and repeat, else a pair
    generator trained (or reused, or resumed) in ``<request folder>-pairs`` on its patients."""
    arch = labelled_arch(config, "pairs")

    def source(request: GeneratorRequest) -> PairRunGenerator:
        given = config.runs_for(request.fraction, request.repeat) if not request.key else None
        if given is not None:
            return PairRunGenerator(given, config.device)
        folder = request.folder.with_name(request.folder.name + "-pairs")
        asked = dataclasses.replace(request, folder=folder)
        train_in(folder, asked, lambda: generator_config(config, asked, PAIR_DATA, arch))
        return PairRunGenerator(folder, config.device)

    return source


def mask_training_source(config: AugmentEvalConfig) -> MaskConditionedSource:
    """Per request: a mask-conditioned generator trained (or reused, or resumed) in
    ``<request folder>-from-masks`` on exactly its patients."""
    arch = labelled_arch(config, "mask")

    def source(request: GeneratorRequest) -> MaskRunGenerator:
        folder = request.folder.with_name(request.folder.name + "-from-masks")
        asked = dataclasses.replace(request, folder=folder)
        train_in(folder, asked, lambda: generator_config(config, asked, MASK_DATA, arch))
        return MaskRunGenerator(folder, config.device)

    return source


def segmentation_sources(
    config: AugmentEvalConfig,
) -> tuple[PairSource | None, MaskConditionedSource | None]:
    """The pair and mask-conditioned sources the asked arms need (None for a source no arm
    uses), their families checked before any work."""
    pairs = any(arm in ("real+synthetic", "synthetic") for arm in config.arms)
    masks = "real+synthetic-from-masks" in config.arms
    return (
        pair_training_source(config) if pairs else None,
        mask_training_source(config) if masks else None,
    )


EDIT_SCALE = (0.8, 1.25)
"""Range of the tumour's scale factor (its area changes by 0.64..1.56), drawn log-uniformly."""
EDIT_ROTATION = 30.0
"""Rotation about the tumour's centroid: uniform in +-30 degrees."""
EDIT_SHIFT = 1 / 16
"""Largest move in each direction, as a share of the image side (4 px at 64 px)."""


def random_tumour_edits(
    masks: np.ndarray, rng: np.random.Generator, brains: np.ndarray
) -> np.ndarray:
    """The default mask edit of ``real+synthetic-from-masks``: every tumour scaled by a factor
    drawn log-uniformly from :data:`EDIT_SCALE`, rotated by up to :data:`EDIT_ROTATION`
    degrees, moved by up to :data:`EDIT_SHIFT` of the side in each direction and mirrored
    left-right with probability 1/2 (:mod:`brainsynth.data.mask_edit`: nearest-neighbour,
    nested labels kept, clipped to the slice's brain). The draws come from ``rng`` in a fixed
    order, five per mask, tumour or not, so the edits are reproducible. A tumour-free mask
    stays tumour-free; an edit that would leave no tumour inside the brain keeps the mask
    as it was."""
    out = np.array(masks, dtype=np.uint8, copy=True)
    reach = max(1, round(EDIT_SHIFT * masks.shape[-1]))
    for i, (mask, brain) in enumerate(zip(masks, brains, strict=True)):
        factor = float(np.exp(rng.uniform(*np.log(EDIT_SCALE))))
        degrees = float(rng.uniform(-EDIT_ROTATION, EDIT_ROTATION))
        dx, dy = (int(v) for v in rng.integers(-reach, reach + 1, size=2))
        mirror = bool(rng.random() < 0.5)
        if not mask.any():
            continue
        spec = f"scale={factor:.4f};rotate={degrees:.2f};move={dx},{dy}"
        try:
            out[i] = edit_mask(mask, spec + (";flip=lr" if mirror else ""), brain)
        except BrainsynthError:
            continue  # the tumour would leave the brain: this slice keeps its own
    return out
