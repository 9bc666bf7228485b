"""Rank agreement between a realism measure and usefulness across models (issue 25, item 8).

Does the model a realism measure ranks higher also help a downstream model more? Spearman's
rho (``scipy.stats.spearmanr``) between the measure of M models and their benefit, where each
model's benefit is measured on the same P patients (its per-patient values averaged), with
the uncertainty that matters for so few models:

- a permutation p-value of rho = 0 (``scipy.stats.permutation_test``, exact up to 7 models);
- ``rho_step``: without ties rho takes only the values 1 - 6 sum(d^2) / (M (M^2 - 1)), sum(d^2)
  even, so it moves in steps of 12 / (M (M^2 - 1)) (0.057 for 6 models, 0.2 for 4);
- two 95% percentile-bootstrap intervals: ``rho_ci95_patients`` resamples the patients only
  (one draw shared by all models, as their benefits are paired on the same patients: only the
  benefit's measurement noise moves); ``rho_ci95`` resamples the models too, with replacement
  (which models happened to be compared; the wider one). A resample whose measure or benefit
  is constant has no rho and is left out, and counted (``undefined``).

The measure itself is taken as measured (not resampled): its own interval is the realism
evaluation's.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from brainsynth.metrics.stats import percentile_interval

EXACT_UP_TO = 7
"""Models up to which the permutation p-value enumerates every pairing (7! = 5040)."""


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho, NaN when either side is constant (no ranking to agree with)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(stats.spearmanr(x, y).statistic)


def rho_step(n_models: int) -> float:
    """Spacing of the values rho can take for ``n_models`` untied models."""
    return 12.0 / (n_models * (n_models**2 - 1)) if n_models > 1 else float("nan")


def permutation_p_value(x: np.ndarray, y: np.ndarray, seed: int = 0) -> float:
    """Two-sided permutation p-value of rho = 0 (every pairing when there are few models)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if not math.isfinite(spearman(x, y)):
        return float("nan")
    result = stats.permutation_test(
        (x,),
        lambda shuffled: stats.spearmanr(shuffled, y).statistic,
        permutation_type="pairings",
        n_resamples=math.factorial(EXACT_UP_TO) if len(x) <= EXACT_UP_TO else 9999,
        alternative="two-sided",
        rng=np.random.default_rng(seed),
    )
    return float(result.pvalue)


def rank_agreement(
    measure: np.ndarray, per_patient: np.ndarray, n_boot: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Spearman's rho between ``measure`` (M,) and the benefit ``per_patient.mean(axis=1)``
    of ``per_patient`` (M, P), with a p-value and two bootstrap intervals (module docstring).

    Orient ``measure`` beforehand so that larger means "more realistic" (negate a distance):
    a positive rho then says that more realistic models helped more.
    """
    measure = np.asarray(measure, dtype=np.float64)
    per_patient = np.asarray(per_patient, dtype=np.float64)
    if per_patient.ndim != 2 or len(per_patient) != len(measure):
        raise ValueError(f"per_patient {per_patient.shape}: expected ({len(measure)}, patients)")
    if not (np.isfinite(measure).all() and np.isfinite(per_patient).all()):
        raise ValueError("rank agreement needs finite measures and benefits")
    n_models, n_patients = per_patient.shape
    benefit = per_patient.mean(axis=1)
    rng = np.random.default_rng(seed)
    patients = rng.integers(0, n_patients, size=(n_boot, n_patients))
    models = rng.integers(0, n_models, size=(n_boot, n_models))
    by_patients, by_both = np.empty(n_boot), np.empty(n_boot)
    for b in range(n_boot):
        resampled = per_patient[:, patients[b]].mean(axis=1)
        by_patients[b] = spearman(measure, resampled)
        by_both[b] = spearman(measure[models[b]], resampled[models[b]])
    return {
        "rho": spearman(measure, benefit),
        "p_value": permutation_p_value(measure, benefit, seed),
        "rho_ci95_patients": list(percentile_interval(by_patients)),
        "rho_ci95": list(percentile_interval(by_both)),
        "undefined": {
            "patients": int(np.isnan(by_patients).sum()),
            "models_and_patients": int(np.isnan(by_both).sum()),
        },
        "n_models": n_models,
        "n_patients": n_patients,
        "n_boot": n_boot,
        "rho_step": rho_step(n_models),
    }
