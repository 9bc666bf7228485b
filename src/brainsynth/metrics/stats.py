"""Statistics shared by the metrics: exact binomial test, binomial intervals, bootstrap.

Every number brainsynth reports comes with its sample size and a 95% interval (issue 4,
"Uncertainty"). The binomial test and intervals are SciPy's (``scipy.stats.binomtest`` and
its ``proportion_ci``); what SciPy does not offer is here: the bias-shifted percentile
bootstrap of distances, the vectorised bootstrap of a mean and the patient-cluster bootstrap
(whole patients resampled, since a patient's slices are correlated).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats


def binomial_p_value(successes: int, trials: int, p: float = 0.5) -> float:
    """Exact two-sided binomial test of ``successes`` out of ``trials`` against rate ``p``
    (SciPy's ``binomtest``, as R's ``binom.test``); 1 without trials.

    Used for the C2ST accuracy against chance (Lopez-Paz & Oquab 2017).
    """
    if trials <= 0:
        return 1.0
    if not 0 <= successes <= trials:
        raise ValueError(f"successes {successes} outside 0..{trials}")
    return float(stats.binomtest(int(successes), int(trials), p).pvalue)


def _interval(successes: int, trials: int, level: float, method: str) -> tuple[float, float]:
    if trials <= 0:
        return (0.0, 1.0)
    ci = stats.binomtest(int(successes), int(trials)).proportion_ci(level, method=method)
    return (float(ci.low), float(ci.high))


def clopper_pearson(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of a binomial proportion (SciPy's ``exact``)."""
    return _interval(successes, trials, level, "exact")


def wilson(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (narrower than Clopper-Pearson)."""
    return _interval(successes, trials, level, "wilson")


def bootstrap_ci(
    statistic: Callable[..., float],
    samples: Sequence[np.ndarray],
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.95,
    estimate: float | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(*samples)``.

    Each array in ``samples`` is resampled with replacement along its first axis,
    independently of the others (e.g. the real and the synthetic set of a distance).
    With ``estimate`` (the statistic on the full samples), the interval is shifted by the
    bootstrap's bias estimate (mean of resamples minus ``estimate``): distances such as the
    Fréchet distance grow when duplicates enter a resample, so the plain percentile interval
    can miss the estimate altogether.
    """
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        drawn = [s[rng.integers(0, len(s), size=len(s))] for s in samples]
        values.append(statistic(*drawn))
    values = np.asarray(values, dtype=np.float64)
    low, high = percentile_interval(values, level)
    if estimate is not None and np.isfinite(low):
        bias = values[np.isfinite(values)].mean() - estimate
        low, high = low - bias, high - bias
    return (float(low), float(high))


def bootstrap_mean_ci(
    values: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of a mean, vectorised (for per-item indicators/scores)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(values), size=(n_boot, len(values)))
    means = values[index].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return (float(low), float(high))


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve: the Mann-Whitney probability that a positive outscores a
    negative (ties count one half); NaN when either class is missing."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = stats.rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def cluster_bootstrap_indices(clusters: np.ndarray, n_boot: int, seed: int = 0) -> list[np.ndarray]:
    """Item indices of ``n_boot`` cluster-bootstrap resamples.

    Whole clusters (e.g. patients) are drawn with replacement, as many as there are, and
    every item of a drawn cluster enters the resample: slices of one patient are correlated,
    so resampling slices one by one would give intervals that are too narrow. The same list
    serves every statistic that must be compared pairwise (one resample, all arms).
    """
    clusters = np.asarray(clusters)
    unique, inverse = np.unique(clusters, return_inverse=True)
    members = [np.flatnonzero(inverse == k) for k in range(len(unique))]
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, len(unique), size=(n_boot, len(unique)))
    return [np.concatenate([members[k] for k in row]) for row in drawn]


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap values, ignoring non-finite ones (NaN when none)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return (float("nan"), float("nan"))
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return (float(low), float(high))


def bootstrap_p_value(differences: np.ndarray) -> float:
    """Two-sided bootstrap p-value of "the difference is 0": twice the smaller share of
    bootstrap differences on either side of 0 (capped at 1; (count + 1) / (n + 1) so it
    never reads 0 from a finite number of resamples)."""
    values = np.asarray(differences, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan")
    below = (np.sum(values <= 0) + 1) / (len(values) + 1)
    above = (np.sum(values >= 0) + 1) / (len(values) + 1)
    return float(min(1.0, 2 * min(below, above)))
