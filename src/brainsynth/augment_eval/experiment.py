"""The augmentation benefit experiment: arms x fractions x repeats, one classifier each.

Per repeat ``r``: the fractions' training patients are drawn (nested, :mod:`.splits`); per
fraction, one conditional generator is obtained from the source (trained on exactly those
patients, or a run given with ``--runs`` and checked to be) and sampled once for both
synthetic arms; then every arm trains a classifier with the same seed (same initial weights,
same batch order of the real slices) and predicts the test slices. Validation patients choose
each classifier's epoch and its decision threshold; test patients are only predicted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from brainsynth.augment_eval.classic import ClassicAugment
from brainsynth.augment_eval.classifier import predict, train_classifier, youden_threshold
from brainsynth.augment_eval.config import AugmentEvalConfig
from brainsynth.augment_eval.splits import PatientSplit, fraction_patients, split_patients
from brainsynth.augment_eval.synthetic import (
    GeneratorRequest,
    LabelledGenerator,
    SyntheticSource,
    check_patients,
    run_training_patients,
)
from brainsynth.data.dataset import load_prepared
from brainsynth.data.labels import TUMOR_LABEL_NAMES, tumor_labels
from brainsynth.errors import BrainsynthError
from brainsynth.paper import SEQUENCES


@dataclass
class Cohort:
    """The labelled slices the classifier sees: uint8 (N, C, H, W), labels, patients."""

    images: np.ndarray
    labels: np.ndarray
    patients: np.ndarray

    def select(self, patients: tuple[str, ...]) -> np.ndarray:
        """Indices of the slices of ``patients``, in slice order."""
        return np.flatnonzero(np.isin(self.patients, patients))


def load_cohort(data: str, sequence: str, tumor_threshold: float) -> Cohort:
    """The classifier's input channel(s) of a prepared folder, with tumour labels."""
    prepared = load_prepared(data)
    channels = list(range(len(SEQUENCES))) if sequence == "joint" else [SEQUENCES.index(sequence)]
    images = np.ascontiguousarray(prepared.images[:, channels])
    labels = tumor_labels(prepared.slices, tumor_threshold)
    return Cohort(images=images, labels=labels, patients=prepared.patients)


@dataclass
class ExperimentResult:
    """Everything the report needs: test slices, and each classifier's test probabilities."""

    split: PatientSplit
    fraction_patients: list[dict[float, tuple[str, ...]]]  # per repeat
    test_labels: np.ndarray
    test_patients: np.ndarray
    scores: dict[tuple[str, float, int], np.ndarray] = field(default_factory=dict)
    thresholds: dict[tuple[str, float, int], float] = field(default_factory=dict)
    counts: dict[tuple[str, float, int], dict[str, int]] = field(default_factory=dict)

    def save(self, out: Path) -> None:
        """``predictions.npz`` (test labels, patients, per-classifier probabilities) and
        ``splits.json`` (the patient split and every fraction's patients per repeat)."""
        arrays: dict[str, np.ndarray] = {
            "test_labels": self.test_labels,
            "test_patients": self.test_patients.astype(str),
        }
        for (arm, fraction, repeat), scores in self.scores.items():
            arrays[f"{arm}|{fraction:g}|{repeat}"] = scores
        np.savez_compressed(out / "predictions.npz", **arrays)
        splits = {
            **self.split.as_dict(),
            "fractions": [
                {f"{f:g}": list(p) for f, p in repeat.items()} for repeat in self.fraction_patients
            ],
        }
        (out / "splits.json").write_text(json.dumps(splits, indent=2))


def choose_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise BrainsynthError("--device cuda: no CUDA device is available")
    return torch.device(name)


def check_given_runs(config: AugmentEvalConfig, fractions: list[dict[float, tuple[str, ...]]]):
    """Refuse, before any training, a ``--runs`` run whose recorded training patients are
    not a subset of its fraction's patients in some repeat."""
    for repeat, chosen in enumerate(fractions):
        for fraction, patients in chosen.items():
            run = config.runs_for(fraction, repeat)
            if run is None:
                continue
            extra = sorted(run_training_patients(run) - set(patients))
            if extra:
                shown = ", ".join(extra[:5]) + (f" +{len(extra) - 5}" if len(extra) > 5 else "")
                raise BrainsynthError(
                    f"--runs {run}: trained on patient(s) outside the {len(patients)} training "
                    f"patients of fraction {fraction:g} (repeat {repeat}): {shown}; train it on "
                    "the patients listed in splits.json (written by --plan-only)"
                )


def synthetic_labels(real_labels: np.ndarray, ratio: float, seed: int) -> np.ndarray:
    """``round(ratio * n_real)`` class ids in the real training slices' proportions."""
    n = round(ratio * len(real_labels))
    positives = round(n * float(real_labels.mean())) if len(real_labels) else 0
    labels = np.array([1] * positives + [0] * (n - positives), dtype=np.int64)
    return np.random.default_rng(seed).permutation(labels)


def label_ids(generator: LabelledGenerator) -> np.ndarray:
    """Map the classifier's 0/1 to the generator's class ids, by name."""
    missing = [n for n in TUMOR_LABEL_NAMES if n not in generator.label_names]
    if missing:
        raise BrainsynthError(
            f"the generator's classes are {', '.join(generator.label_names) or 'none'}: a "
            "tumour-conditional generator (train --condition tumor) is needed"
        )
    return np.array([generator.label_names.index(n) for n in TUMOR_LABEL_NAMES])


def plan(config: AugmentEvalConfig, cohort: Cohort):
    split = split_patients(cohort.patients, config.val_fraction, config.test_fraction, config.seed)
    fractions = [
        fraction_patients(split.train, config.fractions, config.seed + 1000 * (r + 1))
        for r in range(config.repeats)
    ]
    return split, fractions


def run_experiment(
    config: AugmentEvalConfig,
    source: SyntheticSource | None,
    out: Path,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> ExperimentResult:
    """Run every arm at every fraction and repeat; returns the test predictions."""
    cohort = load_cohort(config.data, config.sequence, config.tumor_threshold)
    split, fractions = plan(config, cohort)
    check_given_runs(config, fractions)
    if config.uses_synthetic and source is None:
        raise BrainsynthError("the synthetic arms need a generator source")
    device = choose_device(config.device)
    test_index = cohort.select(split.test)
    val_index = cohort.select(split.val)
    result = ExperimentResult(
        split=split,
        fraction_patients=fractions,
        test_labels=cohort.labels[test_index],
        test_patients=cohort.patients[test_index],
    )
    test_images = torch.from_numpy(cohort.images[test_index]).to(device)
    val_images = torch.from_numpy(cohort.images[val_index]).to(device)
    val_labels = cohort.labels[val_index]
    epochs = config.classifier.epochs * len(config.arms) * len(config.fractions) * config.repeats
    bar = tqdm(total=epochs, desc="augment-eval", unit="epoch", disable=not progress)
    classic = ClassicAugment()
    try:
        for repeat, chosen in enumerate(fractions):
            for fraction, patients in chosen.items():
                train_index = cohort.select(patients)
                real_labels = cohort.labels[train_index]
                if real_labels.min() == real_labels.max():
                    raise BrainsynthError(
                        f"the {len(patients)} training patients of fraction {fraction:g} have "
                        "slices of one class only: use a larger fraction or more patients"
                    )
                seed = config.seed + 7919 * repeat + round(1000 * fraction)
                synthetic = None
                if config.uses_synthetic:
                    bar.set_postfix_str(f"generator f={fraction:g} r={repeat}")
                    request = GeneratorRequest(
                        fraction=fraction,
                        repeat=repeat,
                        patients=patients,
                        seed=seed,
                        folder=out / "generators" / f"f{fraction:g}-r{repeat}",
                    )
                    generator = source(request)  # type: ignore[misc]
                    check_patients(generator, request, "the generator")
                    labels = synthetic_labels(real_labels, config.synthetic_ratio, seed)
                    images = generator.sample(label_ids(generator)[labels], seed)
                    if images.shape[1:] != cohort.images.shape[1:]:
                        raise BrainsynthError(
                            f"the generator makes {tuple(images.shape[1:])} images, the "
                            f"classifier reads {tuple(cohort.images.shape[1:])}"
                        )
                    as_uint8 = np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8)
                    synthetic = (as_uint8, labels)
                for arm in config.arms:
                    bar.set_postfix_str(f"{arm} f={fraction:g} r={repeat}")
                    images = cohort.images[train_index]
                    labels = real_labels
                    if "synthetic" in arm and synthetic is not None:
                        images = np.concatenate([images, synthetic[0]])
                        labels = np.concatenate([labels, synthetic[1]])
                    model = train_classifier(
                        torch.from_numpy(images).to(device),
                        torch.from_numpy(labels).to(device),
                        n_real=len(train_index),
                        val_images=val_images,
                        val_labels=val_labels,
                        config=config.classifier,
                        seed=seed,
                        augment=classic if "classic" in arm else None,
                        on_epoch=lambda: bar.update(1),
                    )
                    key = (arm, fraction, repeat)
                    result.scores[key] = predict(model, test_images)
                    val_scores = predict(model, val_images)
                    result.thresholds[key] = youden_threshold(val_scores, val_labels)
                    result.counts[key] = {
                        "real": len(train_index),
                        "synthetic": len(images) - len(train_index),
                        "patients": len(patients),
                    }
    finally:
        bar.close()
    return result
