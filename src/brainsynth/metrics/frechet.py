"""Fréchet distance and kernel distance (KID) between two sets of feature vectors.

Fréchet distance (Heusel et al. 2017): ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)).
KID (Bińkowski et al. 2018): unbiased MMD^2 with the cubic polynomial kernel
k(x, y) = (x.y / d + 1)^3, averaged over random subsets.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

from brainsynth.errors import BrainsynthError


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of (N, D) features."""
    features = np.asarray(features, dtype=np.float64)
    return features.mean(axis=0), np.atleast_2d(np.cov(features, rowvar=False))


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """Fréchet distance of two Gaussians.

    Tr((S1 S2)^(1/2)) is computed as the sum of square roots of the eigenvalues of
    S1^(1/2) S2 S1^(1/2), which is symmetric positive semi-definite, so the result is real
    and stable even when the covariances are singular (more features than images).
    Non-finite statistics (NaN or infinite features) are a one-line error, not a
    LinAlgError.
    """
    diff = np.asarray(mu1, np.float64) - np.asarray(mu2, np.float64)
    if not all(np.isfinite(np.asarray(a)).all() for a in (diff, sigma1, sigma2)):
        raise BrainsynthError(
            "Fréchet distance: the features' means or covariances are NaN or infinite"
        )
    try:
        w1, v1 = np.linalg.eigh(sigma1)
        root1 = (v1 * np.sqrt(np.clip(w1, 0, None))) @ v1.T
        middle = root1 @ sigma2 @ root1
        eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    except np.linalg.LinAlgError as exc:
        raise BrainsynthError(f"Fréchet distance: the eigendecomposition failed ({exc})") from exc
    trace_root = np.sqrt(np.clip(eig, 0, None)).sum()
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_root
    return float(max(value, 0.0))


def frechet_distance_scipy(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """The textbook computation with :func:`scipy.linalg.sqrtm` (reference for tests)."""
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid_from_features(real: np.ndarray, fake: np.ndarray) -> float:
    """Fréchet distance between the Gaussian fits of two (N, D) feature sets."""
    return frechet_distance(*gaussian_stats(real), *gaussian_stats(fake))


def polynomial_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with the cubic polynomial kernel (one KID subset)."""
    d = x.shape[1]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    m, n = len(x), len(y)
    sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(sxx + syy - 2 * kxy.mean())


def kid(
    real: np.ndarray, fake: np.ndarray, subset_size: int = 1000, subsets: int = 50, seed: int = 0
) -> tuple[float, float, list[float]]:
    """KID: mean and std of polynomial MMD^2 over random subsets, and the subset values.

    When a subset holds every image of both sets (``subset_size`` at least both sizes, e.g.
    1,000 vs 1,000), every subset is the same set in another order and the unbiased MMD^2
    does not depend on the order: it is computed once (std 0), not ``subsets`` times.
    """
    rng = np.random.default_rng(seed)
    m = min(subset_size, len(real), len(fake))
    if m == len(real) == len(fake):
        value = polynomial_mmd2(real, fake)
        return value, 0.0, [value]
    values = []
    for _ in range(subsets):
        xr = real[rng.choice(len(real), m, replace=False)]
        xf = fake[rng.choice(len(fake), m, replace=False)]
        values.append(polynomial_mmd2(xr, xf))
    values_arr = np.asarray(values)
    return float(values_arr.mean()), float(values_arr.std()), values
