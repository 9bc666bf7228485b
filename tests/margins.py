"""Margins of stochastic assertions, derived from the statistic they bound (issue 9).

A trained classifier's test accuracy, a share of flagged images, a learned image: each moves
with the CPU's floating-point kernels (AVX2, AVX-512, AMX, or none), the thread count and the
seed. An assertion on such a figure bounds it where the statistic puts it, with a failure
probability of about ``ALPHA`` for a correct implementation on any CPU, never at a value that
happened to pass once. Importable as ``from margins import ...`` (``tests/`` is on sys.path).
"""

from __future__ import annotations

from scipy import stats

ALPHA = 1e-4  # chance that a correct implementation falls outside one bound


def chance_band(n: int, alpha: float = ALPHA) -> tuple[float, float]:
    """Accuracy range of a classifier at chance on ``n`` independent, balanced test items:
    the central ``1 - alpha`` range of Binomial(n, 0.5) / n."""
    low = stats.binom.ppf(alpha / 2, n, 0.5)
    high = stats.binom.isf(alpha / 2, n, 0.5)
    return float(low) / n, float(high) / n


def accuracy_floor(n: int, p: float, alpha: float = ALPHA) -> float:
    """Lowest accuracy on ``n`` independent test items that a classifier whose true accuracy
    is at least ``p`` reaches with probability ``1 - alpha`` (Binomial(n, p) quantile)."""
    return float(stats.binom.ppf(alpha, n, p)) / n


def hypergeometric_range(
    population: int, marked: int, drawn: int, alpha: float = ALPHA
) -> tuple[int, int]:
    """Central ``1 - alpha`` range of the number of ``marked`` items among ``drawn`` drawn
    without replacement from ``population``."""
    dist = stats.hypergeom(population, marked, drawn)
    return int(dist.ppf(alpha / 2)), int(dist.isf(alpha / 2))


def chance_difference_bound(n1: int, n2: int, alpha: float = ALPHA) -> float:
    """Largest difference between two independent chance-level accuracies on ``n1`` and
    ``n2`` balanced items, at two-sided level ``alpha`` (normal approximation)."""
    return float(stats.norm.isf(alpha / 2)) * (0.25 / n1 + 0.25 / n2) ** 0.5
