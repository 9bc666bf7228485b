"""Statistics shared by the metrics: exact binomial test, binomial intervals, bootstrap.

Every number brainsynth reports comes with its sample size and a 95% interval (issue 4,
"Uncertainty"); this module holds the few procedures those intervals are built from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats


def binomial_p_value(successes: int, trials: int, p: float = 0.5) -> float:
    """Exact two-sided binomial test of ``successes`` out of ``trials`` against rate ``p``.

    Two-sided as in Clopper & Pearson / R's ``binom.test``: the probability of every outcome
    no more likely than the one observed (with a relative tolerance of 1e-7 for ties).
    Used for the C2ST accuracy against chance (Lopez-Paz & Oquab 2017).
    """
    if trials <= 0:
        return 1.0
    if not 0 <= successes <= trials:
        raise ValueError(f"successes {successes} outside 0..{trials}")
    pmf = stats.binom.pmf(np.arange(trials + 1), trials, p)
    observed = pmf[successes]
    return float(min(1.0, pmf[pmf <= observed * (1 + 1e-7)].sum()))


def clopper_pearson(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of a binomial proportion."""
    if trials <= 0:
        return (0.0, 1.0)
    alpha = 1 - level
    lower = 0.0 if successes == 0 else stats.beta.ppf(alpha / 2, successes, trials - successes + 1)
    upper = (
        1.0
        if successes == trials
        else stats.beta.ppf(1 - alpha / 2, successes + 1, trials - successes)
    )
    return (float(lower), float(upper))


def wilson(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (narrower than Clopper-Pearson)."""
    if trials <= 0:
        return (0.0, 1.0)
    z = stats.norm.ppf(1 - (1 - level) / 2)
    phat = successes / trials
    denom = 1 + z**2 / trials
    centre = (phat + z**2 / (2 * trials)) / denom
    half = z * np.sqrt(phat * (1 - phat) / trials + z**2 / (4 * trials**2)) / denom
    return (float(max(0.0, centre - half)), float(min(1.0, centre + half)))


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
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return (float("nan"), float("nan"))
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    if estimate is not None:
        bias = values.mean() - estimate
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
