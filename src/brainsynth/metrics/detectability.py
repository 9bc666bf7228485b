"""Detectability: how many training images a C2ST needs to tell synthetic from real (issue 17).

A converged CNN C2ST on 1,000 images saturates at 100% for every GAN trained on a CPU budget,
so it cannot rank them. A better generator still needs *more* examples before a classifier
learns what gives it away. The detectability curve trains the C2ST's CNN on growing subsets
of the training split (default 4, 8, 16, 32, 128, 512 and all available images, both classes
balanced)
and scores each on one fixed, patient-disjoint held-out split, with an exact (Clopper-Pearson)
interval per point; the same is done between two patient-disjoint halves of the real set
(the real-vs-real control).

The headline, ``detectability``, is the normalised area under the curve of
``2 * (accuracy - 0.5)`` over log2 of the training size: 0 when the classifier stays at
chance at every size, 1 when it is perfect from the smallest size on. It falls as a model
improves even when the accuracy with all images is stuck at 1.0 (the smaller sizes are not).
Its 95% interval is a cluster bootstrap over the held-out images (a real patient's slices
are drawn together). ``detectability_n75`` is the training size at which the curve first
reaches 75% accuracy (log-linear interpolation; ``None`` when it never does): easier to
read, but it says nothing about a model that is detected below the smallest size or never.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from brainsynth.metrics import c2st, stats

DEFAULT_SIZES: tuple[int, ...] = (4, 8, 16, 32, 128, 512)
"""Training sizes of the curve (images of both classes); all available is always added."""


def curve_sizes(sizes: list[int] | tuple[int, ...], available: int) -> list[int]:
    """The even sizes below ``available``, then ``available`` itself (the full training split)."""
    chosen = sorted({int(s) // 2 * 2 for s in sizes if 4 <= int(s) < available})
    return [*chosen, available] if available >= 4 else []


def normalised_area(sizes: np.ndarray, accuracy: np.ndarray) -> float:
    """Mean of ``2 * (accuracy - 0.5)`` over log2(size), trapezoid rule (one point: itself)."""
    excess = 2 * (np.asarray(accuracy, np.float64) - 0.5)
    if len(sizes) == 1:
        return float(excess[0])
    x = np.log2(np.asarray(sizes, np.float64))
    widths = np.diff(x)
    return float(((excess[1:] + excess[:-1]) / 2 * widths).sum() / (x[-1] - x[0]))


def size_to_reach(sizes: np.ndarray, accuracy: np.ndarray, target: float = 0.75) -> float | None:
    """Training size at which the curve first reaches ``target`` (log-linear interpolation
    between points; the smallest size when its first point already does; None if never)."""
    for i, acc in enumerate(accuracy):
        if acc >= target:
            if i == 0:
                return float(sizes[0])
            a0, a1 = accuracy[i - 1], acc
            x0, x1 = np.log2(sizes[i - 1]), np.log2(sizes[i])
            return float(2 ** (x0 + (target - a0) / (a1 - a0) * (x1 - x0)))
    return None


def learning_curve(
    x0: np.ndarray,
    groups0: np.ndarray,
    x1: np.ndarray,
    groups1: np.ndarray,
    sizes: list[int] | tuple[int, ...],
    settings: c2st.C2STSettings,
    seed: int = 0,
    repeats: int = 1,
    full: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """C2ST accuracy of set 0 vs set 1 per training size, on one fixed held-out split.

    The split is the CNN C2ST's of the same seed (:func:`c2st.c2st_split`); ``full``, that
    C2ST's result when it has run, is the point of the full training split (not trained
    twice). Each smaller size draws that many training images (half per class) from the
    training split, ``repeats`` times (pooled), and trains with early stopping on the fixed
    validation split. Returns the points, and per size the held-out correctness averaged
    over repeats (rows) for the bootstrap, with the held-out images' groups.
    """
    idx = full["split"] if full is not None else c2st.c2st_split(groups0, groups1, settings, seed)
    val, test = (c2st._tensors(x0, x1, idx[name]) for name in ("val", "test"))
    if min(len(val[1]), len(test[1])) == 0:
        raise ValueError("a detectability split is empty: too few images or groups")
    train0, train1 = idx["train"]
    rng = np.random.default_rng([seed, 17])
    points, rows = [], []
    for i, size in enumerate(curve_sizes(sizes, 2 * len(train0))):
        if size == 2 * len(train0) and full is not None:
            correct, epochs, runs = full["correct"], [full["training"]["epochs"]], 1
        else:
            correct, epochs, runs = _train_size(
                x0, x1, (train0, train1), val, test, size, settings, seed + 1000 * i, rng,
                repeats if size < 2 * len(train0) else 1,
            )  # fmt: skip
        k, n = int(round(correct.sum() * runs)), len(correct) * runs
        points.append(
            {
                "n_train": int(size),
                "n_test": int(len(correct)),
                "accuracy": float(correct.mean()),
                "ci95": list(stats.clopper_pearson(k, n)),
                "repeats": runs,
                "epochs": epochs,
            }
        )
        rows.append(correct)
    test_groups = np.concatenate([groups0[idx["test"][0]], groups1[idx["test"][1]]])
    return {
        "points": points,
        "correct": np.stack(rows) if rows else np.zeros((0, len(test[1]))),
        "test_groups": test_groups.astype(str),
        "n_test": int(len(test[1])),
        "n_val": int(len(val[1])),
    }


def _train_size(x0, x1, train, val, test, size, settings, seed, rng, runs):
    """Held-out correctness (mean over ``runs`` draws of ``size`` training images), the
    epochs of each run, and ``runs``."""
    correct = np.zeros(len(test[1]))
    epochs = []
    for r in range(runs):
        pick = (
            np.sort(rng.choice(train[0], size // 2, replace=False)),
            np.sort(rng.choice(train[1], size // 2, replace=False)),
        )
        model, info = c2st.train_classifier(
            c2st._tensors(x0, x1, pick),
            val,
            size_settings(settings, size, len(val[1])),
            seed + r,
        )
        logits = c2st.predict_logits(model, test[0]).cpu()
        correct += ((logits > 0).float() == test[1]).numpy()
        epochs.append(info["epochs"])
    return correct / runs, epochs, runs


def size_settings(settings: c2st.C2STSettings, size: int, n_val: int = 0) -> c2st.C2STSettings:
    """The settings of the curve point of ``size`` training images.

    Batches of at most ``size`` images; a validation check every ``n_val / batch`` batches
    (the work of a check about that of its training steps), between 8 and the C2ST's 25;
    at least ``(patience + 1) x 25`` steps and at most ``max_epochs x 25``, as the C2ST's
    epochs of 25 batches gave. A point of 128 or 512 images then stops within 8 batches of
    the C2ST's stopping rule instead of 25, and a tiny point does not pay a validation pass
    every few images.
    """
    batch = min(settings.batch_size, size)
    per_check = int(np.clip(np.ceil(n_val / batch), 8, settings.min_batches_per_epoch))
    steps = settings.min_batches_per_epoch
    return dataclasses.replace(
        settings,
        batch_size=batch,
        min_batches_per_epoch=per_check,
        min_steps=(settings.patience + 1) * steps,
        max_epochs=int(np.ceil(settings.max_epochs * steps / per_check)),
    )


def summarise(curve: dict[str, Any], n_boot: int, seed: int) -> dict[str, Any]:
    """Area (with a cluster-bootstrap 95% interval over held-out images) and n75 of a curve."""
    sizes = np.array([p["n_train"] for p in curve["points"]], dtype=np.float64)
    accuracy = np.array([p["accuracy"] for p in curve["points"]])
    if len(sizes) == 0:
        return {"area": None, "ci95": [None, None], "n75": None}
    values = [
        normalised_area(sizes, curve["correct"][:, rows].mean(axis=1))
        for rows in stats.cluster_bootstrap_indices(curve["test_groups"], n_boot, seed)
    ]
    return {
        "area": normalised_area(sizes, accuracy),
        "ci95": list(stats.percentile_interval(np.asarray(values))),
        "n75": size_to_reach(sizes, accuracy),
    }


def curve_settings(settings: c2st.C2STSettings, max_epochs: int) -> c2st.C2STSettings:
    """The C2ST's settings with the curve's (lower) epoch cap."""
    return dataclasses.replace(settings, max_epochs=min(settings.max_epochs, max_epochs))
