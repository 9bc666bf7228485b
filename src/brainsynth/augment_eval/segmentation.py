"""``augment-eval --task segmentation``: does synthetic labelled data help a tumour segmenter?

The same design as the classification task (:mod:`.experiment`), with the reference
segmenter of :mod:`brainsynth.metrics.segmenter` as the downstream model and labelled data:

- Patients with a segmentation are split into train / validation / test (:mod:`.splits`);
  per repeat, training sets of several sizes are drawn nested from one permutation of the
  training patients: fractions (``--fractions 0.5,1``) and patient counts
  (``--train-patients 2,4``, the low-data regime), keyed ``"0.5"``, ``"1"``, ``"2p"``, ``"4p"``.
- Arms (:data:`~.config.SEGMENTATION_ARMS`): ``real``; ``real+classic`` (flips, rotations,
  scaling move image and label map alike, the label map with nearest neighbour; intensity
  changes touch the image only); ``real+synthetic`` (pairs from a :class:`~.synthetic.
  PairGenerator`); ``real+synthetic-from-masks`` (images a :class:`~.synthetic.
  MaskConditionedGenerator` draws for the training set's own label maps, edited by a
  :data:`~.synthetic.MaskEdit`); ``synthetic`` (the generator's pairs only, tested on real).
  ``--synthetic-ratio`` synthetic pairs per real training slice. The validation patients
  (real) choose the epoch in every arm, ``synthetic`` included.
- Every generator is asked for with the training set's patients and refused when trained on
  any other (:func:`~.synthetic.check_patients`); every arm of a training set and repeat
  takes the same optimiser steps with the same seed (initial weights, order of the real
  slices); validation patients choose each segmenter's epoch; test patients are only scored
  (:mod:`brainsynth.metrics.seg_scores`), and reported by :mod:`.seg_report`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from brainsynth.augment_eval.classic import ClassicAugment
from brainsynth.augment_eval.config import AugmentEvalConfig
from brainsynth.augment_eval.experiment import choose_device
from brainsynth.augment_eval.splits import PatientSplit, fraction_count, split_patients
from brainsynth.augment_eval.synthetic import (
    GeneratorRequest,
    MaskConditionedSource,
    MaskEdit,
    PairSource,
    check_patients,
)
from brainsynth.data.dataset import load_prepared
from brainsynth.errors import BrainsynthError
from brainsynth.metrics.seg_config import MIN_SEGMENTER_SIZE
from brainsynth.metrics.seg_scores import PatientScores, score_patients
from brainsynth.metrics.segmenter import ValidationSet, segment, train_segmenter
from brainsynth.paper import SEQUENCES

PAIR_ARMS = ("real+synthetic", "synthetic")
FROM_MASKS_ARM = "real+synthetic-from-masks"


@dataclass
class SegmentationCohort:
    """The segmented slices: images uint8 (N, C, H, W), label maps uint8 (N, H, W), patients."""

    images: np.ndarray
    masks: np.ndarray
    patients: np.ndarray

    def select(self, patients: tuple[str, ...]) -> np.ndarray:
        """Indices of the slices of ``patients``, in slice order."""
        return np.flatnonzero(np.isin(self.patients, patients))


def load_segmentation_cohort(data: str, sequence: str) -> SegmentationCohort:
    """The segmenter's input channel(s) and label maps of the slices of segmented cases."""
    prepared = load_prepared(data)
    if not prepared.has_masks:
        raise BrainsynthError(
            f"{data}: no masks.npy (prepared before brainsynth 0.4.0): re-run brainsynth "
            "prepare; --task segmentation learns the tumour label maps"
        )
    if prepared.size < MIN_SEGMENTER_SIZE:
        raise BrainsynthError(
            f"{data}: {prepared.size}x{prepared.size} slices; the segmenter's U-Net needs at "
            f"least {MIN_SEGMENTER_SIZE}x{MIN_SEGMENTER_SIZE} (prepare --size 64)"
        )
    keep = np.flatnonzero(prepared.segmented)
    if not len(keep):
        raise BrainsynthError(f"{data}: no case has a segmentation")
    channels = list(range(len(SEQUENCES))) if sequence == "joint" else [SEQUENCES.index(sequence)]
    images = np.ascontiguousarray(prepared.images[keep][:, channels])
    return SegmentationCohort(images, np.asarray(prepared.masks[keep]), prepared.patients[keep])


@dataclass(frozen=True)
class TrainingSize:
    """One training-set size: a fraction of the training patients, or a number of them."""

    key: str  # "0.5" for a fraction, "4p" for four patients
    fraction: float | None = None
    count: int | None = None

    def patients_of(self, n_train: int) -> int:
        if self.count is not None:
            return self.count
        return fraction_count(self.fraction or 0.0, n_train)

    def folder(self, repeat: int) -> str:
        """Generator folder name: ``f0.5-r0`` (as the classification task) or ``p4-r0``."""
        return f"p{self.count}-r{repeat}" if self.count is not None else f"{self.key}-r{repeat}"


def training_sizes(config: AugmentEvalConfig) -> list[TrainingSize]:
    """Patient counts first, then fractions, each ascending."""
    counts = [TrainingSize(f"{k}p", count=k) for k in sorted(config.train_patients)]
    return counts + [TrainingSize(f"{f:g}", fraction=f) for f in sorted(config.fractions)]


def plan_sizes(
    config: AugmentEvalConfig, patients: np.ndarray
) -> tuple[PatientSplit, list[dict[str, tuple[str, ...]]]]:
    """The patient split and, per repeat, each size's training patients: nested, the first
    patients of one permutation per repeat (the permutation of the classification task's
    :func:`~.splits.fraction_patients`, so fractions pick the same patients there and here)."""
    split = split_patients(patients, config.val_fraction, config.test_fraction, config.seed)
    n_train = len(split.train)
    for size in training_sizes(config):
        if size.count is not None and size.count > n_train:
            raise BrainsynthError(
                f"--train-patients {size.count}: there are {n_train} training patients "
                f"({len(split.val)} validation and {len(split.test)} test patients are held out)"
            )
    chosen = []
    for r in range(config.repeats):
        permutation = np.random.default_rng(config.seed + 1000 * (r + 1)).permutation(n_train)
        order = [split.train[i] for i in permutation]
        chosen.append(
            {s.key: tuple(sorted(order[: s.patients_of(n_train)])) for s in training_sizes(config)}
        )
    return split, chosen


def check_sources(
    config: AugmentEvalConfig,
    pair_source: PairSource | None,
    mask_source: MaskConditionedSource | None,
) -> None:
    """Refuse, before any work, an arm whose generator source is missing."""
    for arm in config.arms:
        if arm in PAIR_ARMS and pair_source is None:
            raise BrainsynthError(
                f"--arms {arm} needs a pair generator (image + mask pairs, train --with-mask): "
                "none was given"
            )
        if arm == FROM_MASKS_ARM and mask_source is None:
            raise BrainsynthError(
                f"--arms {arm} needs a mask-conditioned generator (train --condition mask): "
                "none was given"
            )
    if config.runs and pair_source is None and mask_source is None:
        raise BrainsynthError("--runs with --task segmentation needs a pair generator source")


def checked_masks(masks: np.ndarray, n: int, side: tuple[int, ...], what: str) -> np.ndarray:
    """``n`` label maps of ``side`` (H, W) with labels 0..3 as uint8, or a one-line refusal."""
    masks = np.asarray(masks)
    if masks.shape != (n, *side):
        raise BrainsynthError(f"{what} returned label maps {masks.shape}, not {(n, *side)}")
    if not np.issubdtype(masks.dtype, np.integer) or (n and (masks.min() < 0 or masks.max() > 3)):
        raise BrainsynthError(f"{what} returned label maps outside the labels 0..3")
    return masks.astype(np.uint8)


def checked_images(images: np.ndarray, n: int, shape: tuple[int, ...], what: str) -> np.ndarray:
    """``n`` finite images of ``shape`` (C, H, W) in [0, 1] as uint8 0..255, or a refusal."""
    images = np.asarray(images)
    if images.shape != (n, *shape):
        raise BrainsynthError(
            f"{what} returned images {images.shape}; the segmenter reads {(n, *shape)}"
        )
    if images.dtype == np.uint8:
        return images
    if not np.isfinite(images).all():
        raise BrainsynthError(f"{what} returned non-finite pixels")
    return np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8)


@dataclass
class SegmentationResult:
    """The split, every training set, and each segmenter's test predictions and scores."""

    split: PatientSplit
    sizes: list[TrainingSize]
    size_patients: list[dict[str, tuple[str, ...]]]  # per repeat
    test_masks: np.ndarray
    test_patients: np.ndarray  # per test slice
    scores: dict[tuple[str, str, int], PatientScores] = field(default_factory=dict)
    predictions: dict[tuple[str, str, int], np.ndarray] = field(default_factory=dict)
    counts: dict[tuple[str, str, int], dict[str, int]] = field(default_factory=dict)

    def save(self, out: Path) -> None:
        """``predictions.npz`` (test label maps and patients; per segmenter its predicted label
        maps and per-patient Dice and HD95) and ``splits.json``."""
        arrays: dict[str, np.ndarray] = {
            "test_masks": self.test_masks,
            "test_patients": self.test_patients.astype(str),
        }
        for (arm, key, repeat), predicted in self.predictions.items():
            arrays[f"masks|{arm}|{key}|{repeat}"] = predicted
            arrays[f"dice|{arm}|{key}|{repeat}"] = self.scores[(arm, key, repeat)].dice
            arrays[f"hd95|{arm}|{key}|{repeat}"] = self.scores[(arm, key, repeat)].hd95
        np.savez_compressed(out / "predictions.npz", **arrays)
        splits = {
            **self.split.as_dict(),
            "sizes": [{k: list(p) for k, p in repeat.items()} for repeat in self.size_patients],
        }
        (out / "splits.json").write_text(json.dumps(splits, indent=2))


@dataclass
class ArmData:
    """The training slices of one arm: ``n_real`` real ones first, then synthetic ones."""

    images: np.ndarray
    masks: np.ndarray
    n_real: int


class Synthesiser:
    """The synthetic pairs of one training set and repeat, drawn once for all its arms."""

    def __init__(
        self,
        config: AugmentEvalConfig,
        pair_source: PairSource | None,
        mask_source: MaskConditionedSource | None,
        mask_edit: MaskEdit | None,
    ) -> None:
        self.config, self.mask_edit = config, mask_edit
        self.pair_source, self.mask_source = pair_source, mask_source

    def draw(
        self, request: GeneratorRequest, real: ArmData
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        n = round(self.config.synthetic_ratio * real.n_real)
        shape = real.images.shape[1:]
        drawn: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if n == 0 and self.config.uses_synthetic:
            raise BrainsynthError(
                f"--synthetic-ratio {self.config.synthetic_ratio:g} gives no synthetic pair "
                f"for the {real.n_real} real slices of {request.describe()}"
            )
        if any(arm in PAIR_ARMS for arm in self.config.arms) and self.pair_source is not None:
            generator = self.pair_source(request)
            check_patients(generator, request, "the pair generator")
            images, masks = generator.sample_pairs(n, request.seed)
            drawn["pairs"] = (
                checked_images(images, n, shape, "the pair generator"),
                checked_masks(masks, n, shape[1:], "the pair generator"),
            )
        if FROM_MASKS_ARM in self.config.arms and self.mask_source is not None:
            generator = self.mask_source(request)
            check_patients(generator, request, "the mask-conditioned generator")
            rng = np.random.default_rng(request.seed)
            pick = np.sort(rng.choice(real.n_real, size=n, replace=n > real.n_real))
            masks = real.masks[pick]
            if self.mask_edit is not None:
                masks = self.mask_edit(masks.copy(), rng, real.images[pick].max(axis=1) > 0)
            masks = checked_masks(masks, n, shape[1:], "the mask edit")
            images = generator.sample_from_masks(masks, request.seed)
            what = "the mask-conditioned generator"
            drawn["from_masks"] = (checked_images(images, n, shape, what), masks)
        return drawn


def arm_data(arm: str, real: ArmData, drawn: dict[str, tuple[np.ndarray, np.ndarray]]) -> ArmData:
    if arm == "synthetic":
        return ArmData(*drawn["pairs"], n_real=0)
    extra = {"real+synthetic": "pairs", FROM_MASKS_ARM: "from_masks"}.get(arm)
    if extra is None:
        return real
    images, masks = drawn[extra]
    return ArmData(
        np.concatenate([real.images, images]), np.concatenate([real.masks, masks]), real.n_real
    )


def classic_pairs() -> Callable:
    augment = ClassicAugment()
    return lambda x, y, generator: augment.with_masks(x, y, generator)


def run_segmentation(
    config: AugmentEvalConfig,
    out: Path,
    pair_source: PairSource | None = None,
    mask_source: MaskConditionedSource | None = None,
    mask_edit: MaskEdit | None = None,
    progress: bool = True,
    cohort: SegmentationCohort | None = None,
) -> SegmentationResult:
    """Train and score one segmenter per arm, training-set size and repeat (``cohort``: the
    data already loaded by :func:`load_segmentation_cohort`)."""
    check_sources(config, pair_source, mask_source)
    if cohort is None:
        cohort = load_segmentation_cohort(config.data, config.sequence)
    split, chosen = plan_sizes(config, cohort.patients)
    sizes = training_sizes(config)
    device = choose_device(config.device)
    test_index, val_index = cohort.select(split.test), cohort.select(split.val)
    result = SegmentationResult(
        split, sizes, chosen, cohort.masks[test_index], cohort.patients[test_index]
    )
    test_images = torch.from_numpy(cohort.images[test_index]).to(device)
    validation = ValidationSet(
        torch.from_numpy(cohort.images[val_index]).to(device),
        cohort.masks[val_index],
        cohort.patients[val_index],
    )
    synthesiser = Synthesiser(config, pair_source, mask_source, mask_edit)
    epochs = config.segmenter.epochs * len(config.arms) * len(sizes) * config.repeats
    bar = tqdm(total=epochs, desc="augment-eval", unit="epoch", disable=not progress)
    try:
        for repeat, by_size in enumerate(chosen):
            for size in sizes:
                patients = by_size[size.key]
                index = cohort.select(patients)
                real = ArmData(cohort.images[index], cohort.masks[index], len(index))
                seed = config.seed + 7919 * repeat + 101 * len(patients)
                request = GeneratorRequest(
                    fraction=len(patients) / len(split.train),
                    repeat=repeat,
                    patients=patients,
                    seed=seed,
                    folder=out / "generators" / size.folder(repeat),
                    key=size.key if size.count is not None else "",
                )
                bar.set_postfix_str(f"generators {size.key} r={repeat}")
                drawn = synthesiser.draw(request, real)
                for arm in config.arms:
                    bar.set_postfix_str(f"{arm} {size.key} r={repeat}")
                    data = arm_data(arm, real, drawn)
                    model, log = train_segmenter(
                        torch.from_numpy(data.images).to(device),
                        torch.from_numpy(data.masks).to(device),
                        n_real=data.n_real,
                        validation=validation,
                        config=config.segmenter,
                        seed=seed,
                        steps_per_epoch=math.ceil(real.n_real / config.segmenter.batch),
                        augment=classic_pairs() if arm == "real+classic" else None,
                        on_epoch=lambda: bar.update(1),
                    )
                    key = (arm, size.key, repeat)
                    result.predictions[key] = segment(model, test_images)
                    result.scores[key] = score_patients(
                        result.predictions[key], result.test_masks, result.test_patients
                    )
                    result.counts[key] = {
                        "real": data.n_real,
                        "synthetic": len(data.images) - data.n_real,
                        "patients": len(patients),
                        "steps": log.steps,
                        "best_epoch": log.best_epoch,
                    }
    finally:
        bar.close()
    return result
