"""Segmentation scores by BraTS region: Dice and HD95, empty cases, patients, bootstrap.

Follows the BraTS conventions (``shared/conventions/segmentation.md``):

- Regions, not labels: whole tumour {1, 2, 3}, tumour core {1, 3}, enhancing tumour {3}
  (:data:`brainsynth.data.masks.REGIONS`), in the order of :data:`REGION_NAMES`.
- Dice from MONAI's ``DiceMetric``; HD95 (the 95th percentile of the symmetric surface
  distance, the larger of the two directed 95th percentiles) from MONAI's
  ``HausdorffDistanceMetric(percentile=95)``, on each 2D slice, **in pixels**.
- Empty cases: reference and prediction both empty -> Dice 1, HD95 0; exactly one empty ->
  Dice 0 and HD95 = the image diagonal in pixels (:func:`worst_hd95`; the 2D analogue of the
  374 mm of the 2023 3D evaluation).
- Per patient: **Dice of the stacked slices** (the patient's slices as one volume, so a
  patient's score weighs its slices by their tumour, and a slice without tumour in reference
  and prediction neither helps nor hurts); **HD95 = the mean of the 2D HD95 over the
  patient's slices in which the reference or the prediction holds the region** (a slice
  empty in both would add a 0 that only reflects how many tumour-free slices the patient
  has). A patient whose reference and prediction are both empty throughout scores Dice 1,
  HD95 0, as one empty case.
- Across patients: the mean, with a percentile bootstrap over patients (a patient's slices
  are not independent; :func:`patient_bootstrap`).

:class:`PatientScores` also counts the slices whose reference is empty per region: slice
counts say how much of a test set is tumour-free.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from monai.metrics import DiceMetric, HausdorffDistanceMetric

from brainsynth.data.masks import REGIONS, region
from brainsynth.errors import BrainsynthError
from brainsynth.metrics.stats import percentile_interval

REGION_NAMES: tuple[str, ...] = tuple(REGIONS)
"""whole_tumor, tumor_core, enhancing: the second axis of every score array here."""


def region_maps(masks: np.ndarray) -> np.ndarray:
    """Label maps (N, H, W) with labels 0..3 -> bool (N, 3, H, W), one map per region."""
    masks = np.asarray(masks)
    if masks.ndim != 3:
        raise BrainsynthError(f"label maps must be (N, H, W), got shape {masks.shape}")
    return np.stack([region(masks, name) for name in REGION_NAMES], axis=1)


def empty_reference_slices(masks: np.ndarray) -> np.ndarray:
    """(3,) how many label maps (N, H, W) lack each region."""
    return (~region_maps(masks).any(axis=(2, 3))).sum(axis=0)


def worst_hd95(height: int, width: int) -> float:
    """HD95 of a slice where exactly one of reference and prediction is empty: the image
    diagonal in pixels, the largest distance two pixels of the image can have."""
    return math.hypot(height, width)


def check_pair(prediction: np.ndarray, reference: np.ndarray) -> None:
    if prediction.shape != reference.shape or prediction.ndim != 3:
        raise BrainsynthError(
            f"prediction {prediction.shape} and reference {reference.shape}: expected label "
            "maps of one shape (N, H, W)"
        )


def slice_hd95(prediction: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(N, 3) HD95 in pixels per slice and region, with the empty-case rules."""
    check_pair(prediction, reference)
    pred, ref = region_maps(prediction), region_maps(reference)
    pred_any, ref_any = pred.any(axis=(2, 3)), ref.any(axis=(2, 3))
    out = np.where(pred_any == ref_any, 0.0, worst_hd95(*prediction.shape[1:]))
    metric = HausdorffDistanceMetric(include_background=True, percentile=95, reduction="none")
    for k in range(len(REGION_NAMES)):
        both = np.flatnonzero(pred_any[:, k] & ref_any[:, k])
        if len(both):
            y_pred = torch.from_numpy(pred[both, k : k + 1].astype(np.float64))
            y = torch.from_numpy(ref[both, k : k + 1].astype(np.float64))
            with warnings.catch_warnings():  # MONAI 1.6 warns about its own internal call
                warnings.filterwarnings("ignore", category=FutureWarning, module="monai")
                out[both, k] = metric(y_pred, y)[:, 0].double().numpy()
    return out


def stacked_dice(prediction: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(3,) Dice of the slices stacked as one volume, per region (1 when both are empty)."""
    check_pair(prediction, reference)
    pred = torch.from_numpy(region_maps(prediction).transpose(1, 0, 2, 3)[None].astype(np.float64))
    ref = torch.from_numpy(region_maps(reference).transpose(1, 0, 2, 3)[None].astype(np.float64))
    # ignore_empty=False: an empty reference scores 1 against an empty prediction, else 0
    metric = DiceMetric(include_background=True, reduction="none", ignore_empty=False)
    return metric(pred, ref)[0].double().numpy()


def overlap_counts(prediction: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(N, 3, 2) per slice and region: |prediction AND reference|, |prediction| + |reference|.
    Summed over any set of slices, :func:`dice_from_counts` gives that set's stacked Dice."""
    check_pair(prediction, reference)
    pred, ref = region_maps(prediction), region_maps(reference)
    both = (pred & ref).sum(axis=(2, 3))
    total = pred.sum(axis=(2, 3)) + ref.sum(axis=(2, 3))
    return np.stack([both, total], axis=-1).astype(np.int64)


def dice_from_counts(counts: np.ndarray) -> np.ndarray:
    """Dice from summed :func:`overlap_counts` (..., 2): 2|A and B| / (|A| + |B|), 1 when
    both are empty."""
    both, total = counts[..., 0].astype(np.float64), counts[..., 1].astype(np.float64)
    return np.where(total > 0, 2 * both / np.maximum(total, 1), 1.0)


@dataclass
class PatientScores:
    """Per patient (sorted ids) and region: Dice of the stacked slices, mean 2D HD95 over the
    slices that hold the region in reference or prediction, and slice counts."""

    patients: np.ndarray  # (P,) str
    dice: np.ndarray  # (P, 3)
    hd95: np.ndarray  # (P, 3), pixels
    slices: np.ndarray  # (P,) slices per patient
    empty_reference: np.ndarray  # (P, 3) slices whose reference lacks the region

    def as_dict(self) -> dict[str, Any]:
        return {
            "patients": [str(p) for p in self.patients],
            "regions": list(REGION_NAMES),
            "dice": self.dice.tolist(),
            "hd95": self.hd95.tolist(),
            "slices": self.slices.tolist(),
            "empty_reference": self.empty_reference.tolist(),
        }


def score_patients(
    prediction: np.ndarray, reference: np.ndarray, patients: np.ndarray
) -> PatientScores:
    """Score label maps (N, H, W) of many patients' slices, patient by patient."""
    check_pair(prediction, reference)
    patients = np.asarray(patients).astype(str)
    if len(patients) != len(reference):
        raise BrainsynthError(f"{len(patients)} patient ids for {len(reference)} slices")
    hd = slice_hd95(prediction, reference)
    pred_any = region_maps(prediction).any(axis=(2, 3))
    ref_any = region_maps(reference).any(axis=(2, 3))
    names = np.unique(patients)
    dice = np.empty((len(names), len(REGION_NAMES)))
    hd95 = np.empty_like(dice)
    slices = np.empty(len(names), dtype=np.int64)
    empty = np.empty((len(names), len(REGION_NAMES)), dtype=np.int64)
    for i, name in enumerate(names):
        index = np.flatnonzero(patients == name)
        dice[i] = stacked_dice(prediction[index], reference[index])
        scored = pred_any[index] | ref_any[index]  # (n, 3)
        count = scored.sum(axis=0)
        hd95[i] = np.where(count > 0, (hd[index] * scored).sum(axis=0) / np.maximum(count, 1), 0)
        slices[i] = len(index)
        empty[i] = (~ref_any[index]).sum(axis=0)
    return PatientScores(names, dice, hd95, slices, empty)


def patient_bootstrap(n_patients: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n_patients) indices of patients drawn with replacement; one array serves
    every model scored on the same patients, so their differences are paired."""
    return np.random.default_rng(seed).integers(0, n_patients, size=(n_boot, n_patients))


def summarise_scores(scores: PatientScores, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Mean over patients with 95% patient-bootstrap intervals: ``dice`` and ``hd95`` (means
    over the three regions) and per region ``regions[NAME]`` with ``dice``, ``dice_ci95``,
    ``hd95``, ``hd95_ci95``; ``patients``, ``slices`` and ``empty_reference_slices``."""
    index = patient_bootstrap(len(scores.patients), n_boot, seed)
    out: dict[str, Any] = {}
    for metric in ("dice", "hd95"):
        values = getattr(scores, metric)
        boot = values[index].mean(axis=1)  # (n_boot, 3)
        out[metric] = float(values.mean())
        out[f"{metric}_ci95"] = list(percentile_interval(boot.mean(axis=1)))
        for k, name in enumerate(REGION_NAMES):
            entry = out.setdefault("regions", {}).setdefault(name, {})
            entry[metric] = float(values[:, k].mean())
            entry[f"{metric}_ci95"] = list(percentile_interval(boot[:, k]))
    for k, name in enumerate(REGION_NAMES):
        out["regions"][name]["empty_reference_slices"] = int(scores.empty_reference[:, k].sum())
    out["patients"] = len(scores.patients)
    out["slices"] = int(scores.slices.sum())
    out["hd95_unit"] = "pixels (2D slices)"
    return out
