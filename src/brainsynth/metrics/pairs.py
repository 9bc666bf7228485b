"""Realism of image + tumour-mask pairs: are the masks plausible, do images and masks agree?

Two measures for generators of labelled data (``train --with-mask``, ``--condition mask``):

**Mask plausibility** (:func:`mask_plausibility`): synthetic label maps against real ones,
feature by feature, each per slice: the share of tumour-free slices; and over the slices
with a whole tumour, its area (pixels), its centroid (row and column, pixels from the top
left) and the share of each label within it (necrotic / non-enhancing core 1, oedema 2,
enhancing 3). Each continuous feature is compared as two samples with the Wasserstein-1
distance (in the feature's unit) and the Kolmogorov-Smirnov statistic (SciPy); the
tumour-free share by the absolute difference. Intervals: 95% bootstrap, real slices
resampled by patient (slices of a patient are not independent), synthetic slices one by
one, shifted by the bootstrap's bias (a resample's duplicates inflate distances). The
**floor** is the same distance between two patient-disjoint halves of the real patients:
what two real samples already differ by. Each half holds half the real slices, so the floor
is that of smaller samples than the synthetic-vs-real distance (larger by sampling noise):
a distance at or below the floor is indistinguishable from real.

**Image-mask consistency** (:func:`image_mask_consistency`): the reference segmenter
(:mod:`.segmenter`) trained on real pairs of training patients segments the synthetic
images; its Dice per region against the generated masks, next to its Dice on held-out real
pairs, and the ratio synthetic / real. Dice here is pooled: the Dice of all slices of a set
stacked (:func:`~.seg_scores.dice_from_counts`), the same definition for a synthetic set
(which has no patients) and the real one; 1 when reference and prediction are both empty.
Intervals: synthetic slices resampled one by one, real ones by patient.

Both return plain dicts (key names in each function's docstring).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy import stats
from torch import nn

from brainsynth.errors import BrainsynthError
from brainsynth.metrics.seg_config import SegmenterConfig
from brainsynth.metrics.seg_scores import (
    REGION_NAMES,
    dice_from_counts,
    empty_reference_slices,
    overlap_counts,
)
from brainsynth.metrics.segmenter import TrainingLog, fit_reference_segmenter, segment
from brainsynth.metrics.stats import percentile_interval

FEATURES: tuple[str, ...] = (
    "area",
    "centroid_row",
    "centroid_col",
    "share_necrotic",
    "share_edema",
    "share_enhancing",
)
"""Per-slice features of the whole tumour, defined on slices that have one."""

FEATURE_UNITS = {
    "area": "pixels",
    "centroid_row": "pixels from the top",
    "centroid_col": "pixels from the left",
    "share_necrotic": "fraction of the whole tumour with label 1",
    "share_edema": "fraction of the whole tumour with label 2",
    "share_enhancing": "fraction of the whole tumour with label 3",
}


def check_masks(masks: np.ndarray, what: str) -> np.ndarray:
    masks = np.asarray(masks)
    if masks.ndim != 3 or not np.issubdtype(masks.dtype, np.integer):
        raise BrainsynthError(f"{what}: expected integer label maps (N, H, W), got {masks.shape}")
    if masks.size and (masks.min() < 0 or masks.max() > 3):
        raise BrainsynthError(f"{what}: labels outside 0..3")
    return masks


def mask_features(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per slice: whether it has a whole tumour (N,), and the :data:`FEATURES` of the slices
    that do, (n_tumour, 6)."""
    masks = check_masks(masks, "label maps")
    tumour = masks > 0
    area = tumour.sum(axis=(1, 2)).astype(np.float64)
    has = area > 0
    rows = np.arange(masks.shape[1], dtype=np.float64)[None, :, None]
    cols = np.arange(masks.shape[2], dtype=np.float64)[None, None, :]
    a = np.maximum(area, 1)
    features = np.stack(
        [
            area,
            (tumour * rows).sum(axis=(1, 2)) / a,
            (tumour * cols).sum(axis=(1, 2)) / a,
            *[(masks == label).sum(axis=(1, 2)) / a for label in (1, 2, 3)],
        ],
        axis=1,
    )
    return has, features[has]


def feature_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(2, 6): Wasserstein-1 and KS statistic per feature; NaN where a side is empty."""
    out = np.full((2, len(FEATURES)), np.nan)
    if len(a) and len(b):
        for k in range(len(FEATURES)):
            out[0, k] = stats.wasserstein_distance(a[:, k], b[:, k])
            out[1, k] = stats.ks_2samp(a[:, k], b[:, k]).statistic
    return out


class SliceSample:
    """Label-map features of a set of slices, resampled by patient or by slice."""

    def __init__(self, masks: np.ndarray, groups: np.ndarray | None) -> None:
        self.has, features = mask_features(masks)
        self.features = np.zeros((len(self.has), len(FEATURES)))
        self.features[self.has] = features
        ids = np.arange(len(self.has)) if groups is None else np.asarray(groups)
        _, self.group_of = np.unique(ids, return_inverse=True)
        self.members = [np.flatnonzero(self.group_of == g) for g in range(self.group_of.max() + 1)]

    def draw(self, rng: np.random.Generator | None) -> tuple[float, np.ndarray]:
        """Tumour-free share and tumour features of a resample (the sample itself for None)."""
        if rng is None:
            index = np.arange(len(self.has))
        else:
            picked = rng.integers(0, len(self.members), size=len(self.members))
            index = np.concatenate([self.members[g] for g in picked])
        has = self.has[index]
        return float(1 - has.mean()), self.features[index][has]


def compare_samples(
    a: SliceSample, b: SliceSample, n_boot: int, rng: np.random.Generator
) -> dict[str, Any]:
    """Distances of ``a`` and ``b``, estimates and bias-shifted percentile intervals."""
    free_a, feat_a = a.draw(None)
    free_b, feat_b = b.draw(None)
    estimate = np.concatenate([[abs(free_a - free_b)], feature_distances(feat_a, feat_b).ravel()])
    boot = np.empty((n_boot, len(estimate)))
    for i in range(n_boot):
        fa, xa = a.draw(rng)
        fb, xb = b.draw(rng)
        boot[i] = np.concatenate([[abs(fa - fb)], feature_distances(xa, xb).ravel()])
    intervals = []
    for k in range(len(estimate)):
        low, high = percentile_interval(boot[:, k])
        finite = boot[np.isfinite(boot[:, k]), k]
        bias = finite.mean() - estimate[k] if len(finite) and np.isfinite(estimate[k]) else 0.0
        intervals.append([float(max(0.0, low - bias)), float(max(0.0, high - bias))])
    return {"estimate": estimate, "intervals": intervals}


def real_halves(patients: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two patient-disjoint halves of the real slices (boolean masks), by a seeded shuffle."""
    names = np.unique(patients)
    if len(names) < 2:
        raise BrainsynthError("the real-vs-real floor needs at least 2 real patients")
    order = np.random.default_rng(seed).permutation(names)
    first = np.isin(patients, order[: len(names) // 2])
    return first, ~first


def mask_plausibility(
    real_masks: np.ndarray,
    real_patients: np.ndarray,
    synthetic_masks: np.ndarray,
    n_boot: int = 500,
    seed: int = 0,
) -> dict[str, Any]:
    """Synthetic label maps against real ones (module docstring for the measures).

    Returns ``tumor_free_share`` with ``real``, ``synthetic``, ``difference``,
    ``difference_ci95``, ``floor`` and ``floor_ci95``; for each of :data:`FEATURES`
    ``real_median``, ``synthetic_median``, ``wasserstein``, ``wasserstein_ci95``, ``ks``,
    ``ks_ci95``, ``floor_wasserstein``, ``floor_wasserstein_ci95``, ``floor_ks``,
    ``floor_ks_ci95`` and ``unit``; and ``slices`` (real, synthetic, real_with_tumor,
    synthetic_with_tumor, real_patients, floor_halves as patient counts). A NaN distance
    means a side has no tumour-bearing slice.
    """
    real_patients = np.asarray(real_patients).astype(str)
    real_masks = check_masks(real_masks, "real label maps")
    synthetic_masks = check_masks(synthetic_masks, "synthetic label maps")
    if len(real_patients) != len(real_masks):
        raise BrainsynthError(f"{len(real_patients)} patient ids for {len(real_masks)} slices")
    if not len(synthetic_masks):
        raise BrainsynthError("no synthetic label maps to compare")
    rng = np.random.default_rng(seed)
    real = SliceSample(real_masks, real_patients)
    synthetic = SliceSample(synthetic_masks, None)
    first, second = real_halves(real_patients, seed)
    half_a = SliceSample(real_masks[first], real_patients[first])
    half_b = SliceSample(real_masks[second], real_patients[second])
    main = compare_samples(synthetic, real, n_boot, rng)
    floor = compare_samples(half_a, half_b, n_boot, rng)
    out: dict[str, Any] = {
        "tumor_free_share": {
            "real": real.draw(None)[0],
            "synthetic": synthetic.draw(None)[0],
            "difference": float(main["estimate"][0]),
            "difference_ci95": main["intervals"][0],
            "floor": float(floor["estimate"][0]),
            "floor_ci95": floor["intervals"][0],
        }
    }
    n = len(FEATURES)
    for k, name in enumerate(FEATURES):
        entry: dict[str, Any] = {
            "real_median": median(real.draw(None)[1][:, k]),
            "synthetic_median": median(synthetic.draw(None)[1][:, k]),
        }
        for prefix, result in (("", main), ("floor_", floor)):
            for j, metric in enumerate(("wasserstein", "ks")):
                entry[f"{prefix}{metric}"] = float(result["estimate"][1 + j * n + k])
                entry[f"{prefix}{metric}_ci95"] = result["intervals"][1 + j * n + k]
        entry["unit"] = FEATURE_UNITS[name]
        out[name] = entry
    out["slices"] = {
        "real": len(real_masks),
        "synthetic": len(synthetic_masks),
        "real_with_tumor": int(real.has.sum()),
        "synthetic_with_tumor": int(synthetic.has.sum()),
        "real_patients": len(np.unique(real_patients)),
        "floor_halves": [len(np.unique(real_patients[h])) for h in (first, second)],
    }
    return out


def median(values: np.ndarray) -> float:
    return float(np.median(values)) if len(values) else float("nan")


def pooled_dice_boot(
    counts: np.ndarray, groups: np.ndarray | None, n_boot: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled Dice per region (3,) of per-slice counts (N, 3, 2), and its bootstrap (n_boot,
    3) resampling ``groups`` (patients) or, for None, slices."""
    if groups is not None:
        _, inverse = np.unique(groups, return_inverse=True)
        grouped = np.zeros((inverse.max() + 1, *counts.shape[1:]), dtype=np.int64)
        np.add.at(grouped, inverse, counts)
        counts = grouped
    index = rng.integers(0, len(counts), size=(n_boot, len(counts)))
    return dice_from_counts(counts.sum(axis=0)), dice_from_counts(counts[index].sum(axis=1))


def safe_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b, NaN where b is 0."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)


def consistency_scores(
    synthetic_predicted: np.ndarray,
    synthetic_masks: np.ndarray,
    real_predicted: np.ndarray,
    real_masks: np.ndarray,
    real_patients: np.ndarray,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Pooled Dice of a segmenter's label maps against generated masks (synthetic) and real
    masks (held-out real), and their ratio.

    Returns ``synthetic``, ``synthetic_ci95``, ``real``, ``real_ci95``, ``ratio``,
    ``ratio_ci95`` (each the mean over the three regions), ``regions[REGION]`` with the same
    six keys, ``empty_reference`` (slices whose reference lacks each region, per side),
    ``synthetic_slices``, ``real_slices``, ``real_patients``. A ratio is NaN when the real
    Dice is 0.
    """
    synthetic_masks = check_masks(synthetic_masks, "generated label maps")
    real_masks = check_masks(real_masks, "held-out real label maps")
    real_patients = np.asarray(real_patients).astype(str)
    if len(real_patients) != len(real_masks):
        raise BrainsynthError(f"{len(real_patients)} patient ids for {len(real_masks)} slices")
    rng = np.random.default_rng(seed)
    syn_counts = overlap_counts(np.asarray(synthetic_predicted), synthetic_masks)
    real_counts = overlap_counts(np.asarray(real_predicted), real_masks)
    syn, syn_boot = pooled_dice_boot(syn_counts, None, n_boot, rng)
    real, real_boot = pooled_dice_boot(real_counts, real_patients, n_boot, rng)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(real > 0, syn / np.where(real > 0, real, 1), np.nan)
        ratio_boot = np.where(
            real_boot > 0, syn_boot / np.where(real_boot > 0, real_boot, 1), np.nan
        )
    mean_ratio = syn.mean() / real.mean() if real.mean() > 0 else float("nan")
    mean_ratio_boot = syn_boot.mean(axis=1) / real_boot.mean(axis=1)
    out: dict[str, Any] = {
        "synthetic": float(syn.mean()),
        "synthetic_ci95": list(percentile_interval(syn_boot.mean(axis=1))),
        "real": float(real.mean()),
        "real_ci95": list(percentile_interval(real_boot.mean(axis=1))),
        "ratio": float(mean_ratio),
        "ratio_ci95": list(percentile_interval(mean_ratio_boot)),
        "regions": {},
    }
    for k, name in enumerate(REGION_NAMES):
        out["regions"][name] = {
            "synthetic": float(syn[k]),
            "synthetic_ci95": list(percentile_interval(syn_boot[:, k])),
            "real": float(real[k]),
            "real_ci95": list(percentile_interval(real_boot[:, k])),
            "ratio": float(ratio[k]),
            "ratio_ci95": list(percentile_interval(ratio_boot[:, k])),
        }
    out["empty_reference"] = {
        side: dict(zip(REGION_NAMES, map(int, empty_reference_slices(masks)), strict=True))
        for side, masks in (("synthetic", synthetic_masks), ("real", real_masks))
    }
    out["synthetic_slices"] = len(synthetic_masks)
    out["real_slices"] = len(real_masks)
    out["real_patients"] = len(np.unique(real_patients))
    return out


def reference_patients(
    patients: np.ndarray, seed: int, heldout_fraction: float = 0.25, val_fraction: float = 0.15
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Held-out and validation patients of the reference segmenter, drawn with ``seed``:
    ``round(fraction * n)`` of the n real patients each (at least one), the rest train it."""
    names = np.unique(np.asarray(patients).astype(str))
    if len(names) < 3:
        raise BrainsynthError(
            f"{len(names)} real patient(s): image-mask consistency needs at least 3 (train, "
            "validation, held-out)"
        )
    n_out = max(1, round(heldout_fraction * len(names)))
    n_val = max(1, round(val_fraction * len(names)))
    if n_out + n_val >= len(names):
        n_out, n_val = 1, 1
    order = np.random.default_rng(seed).permutation(names)
    return tuple(sorted(order[:n_out])), tuple(sorted(order[n_out : n_out + n_val]))


def fit_reference(
    real_images: np.ndarray,
    real_masks: np.ndarray,
    real_patients: np.ndarray,
    config: SegmenterConfig,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> tuple[nn.Module, TrainingLog]:
    """The reference segmenter :func:`image_mask_consistency` trains for ``seed`` (its
    patients drawn by :func:`reference_patients`), trained once for several evaluations."""
    patients = np.asarray(real_patients).astype(str)
    heldout, validation = reference_patients(patients, seed)
    fit = ~np.isin(patients, heldout)
    masks = check_masks(real_masks, "real label maps")
    return fit_reference_segmenter(np.asarray(real_images)[fit], masks[fit], patients[fit],
                                   validation, config, seed=seed, device=device,
                                   progress=progress)  # fmt: skip


def image_mask_consistency(
    real_images: np.ndarray,
    real_masks: np.ndarray,
    real_patients: np.ndarray,
    synthetic_images: np.ndarray,
    synthetic_masks: np.ndarray,
    config: SegmenterConfig | None = None,
    heldout_patients: tuple[str, ...] | None = None,
    validation_patients: tuple[str, ...] | None = None,
    seed: int = 0,
    n_boot: int = 1000,
    device: str | torch.device = "cpu",
    progress: bool = True,
    reference: tuple[nn.Module, TrainingLog] | None = None,
) -> dict[str, Any]:
    """Train the reference segmenter on the real pairs of all but the held-out and validation
    patients (drawn by :func:`reference_patients` unless given), segment the synthetic images
    and the held-out real ones, and score both (:func:`consistency_scores`). ``reference``:
    that segmenter and its log, trained before on the same real pairs, patients and seed
    (:func:`fit_reference`; the evaluation keeps it in the prepared set's cache).

    Images (N, C, H, W) uint8 or float in [0, 1], synthetic ones with the real ones' channels;
    label maps (N, H, W) with labels 0..3. Returns :func:`consistency_scores`'s dict with
    ``segmenter``: ``train_patients``, ``validation_patients``, ``heldout_patients``
    (counts), ``best_epoch``, ``val_dice`` (per epoch) and ``steps``.
    """
    real_patients = np.asarray(real_patients).astype(str)
    real_masks = check_masks(real_masks, "real label maps")
    synthetic_masks = check_masks(synthetic_masks, "generated label maps")
    if np.shape(synthetic_images)[1:] != np.shape(real_images)[1:]:
        raise BrainsynthError(
            f"synthetic images {np.shape(synthetic_images)[1:]} and real images "
            f"{np.shape(real_images)[1:]} differ in shape"
        )
    if len(synthetic_images) != len(synthetic_masks):
        raise BrainsynthError(
            f"{len(synthetic_images)} synthetic images but {len(synthetic_masks)} label maps"
        )
    if heldout_patients is None or validation_patients is None:
        drawn_out, drawn_val = reference_patients(real_patients, seed)
        heldout_patients = heldout_patients or drawn_out
        validation_patients = validation_patients or drawn_val
    heldout = np.isin(real_patients, heldout_patients)
    fit = ~heldout
    config = config or SegmenterConfig()
    model, log = reference or fit_reference_segmenter(
        np.asarray(real_images)[fit],
        real_masks[fit],
        real_patients[fit],
        tuple(validation_patients),
        config,
        seed=seed,
        device=device,
        progress=progress,
    )
    where = next(model.parameters()).device

    def predict(images: np.ndarray) -> np.ndarray:
        return segment(model, torch.from_numpy(np.ascontiguousarray(images)).to(where))

    out = consistency_scores(
        predict(np.asarray(synthetic_images)),
        synthetic_masks,
        predict(np.asarray(real_images)[heldout]),
        real_masks[heldout],
        real_patients[heldout],
        n_boot=n_boot,
        seed=seed,
    )
    n_val = len(np.unique(real_patients[np.isin(real_patients, validation_patients)]))
    out["segmenter"] = {
        "train_patients": len(np.unique(real_patients[fit])) - n_val,
        "validation_patients": n_val,
        "heldout_patients": len(np.unique(real_patients[heldout])),
        "best_epoch": log.best_epoch,
        "val_dice": log.val_dice,
        "steps": log.steps,
    }
    return out
