"""Precision/recall (Kynkäänniemi et al. 2019) and density/coverage (Naeem et al. 2020).

Each set's manifold is the union of balls around its feature vectors with radius the
distance to the k-th nearest neighbour. For the real set, neighbours from the same patient
are skipped when measuring that radius: adjacent slices of one volume are nearly identical,
and would shrink the real manifold to slivers (the nearest-neighbour lesson of issue 4).
"""

from __future__ import annotations

import numpy as np
import torch


def pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between the rows of a and b, (len(a), len(b))."""
    return torch.cdist(torch.from_numpy(a).double(), torch.from_numpy(b).double()).numpy()


def knn_radii(features: np.ndarray, groups: np.ndarray, k: int) -> np.ndarray:
    """Distance from each item to its k-th nearest item of another group."""
    d = pairwise(features, features)
    groups = np.asarray(groups).astype(str)
    d[groups[:, None] == groups[None, :]] = np.inf
    k = min(k, len(features) - 1)
    return np.partition(d, k - 1, axis=1)[:, k - 1]


def prdc(
    real: np.ndarray,
    real_groups: np.ndarray,
    fake: np.ndarray,
    fake_groups: np.ndarray | None = None,
    k_pr: int = 3,
    k_dc: int = 5,
) -> dict[str, np.ndarray]:
    """Per-item indicators whose means are precision, recall, density and coverage.

    Returns arrays so the caller can bootstrap them: ``precision`` (per fake: inside the
    real manifold), ``recall`` (per real: inside the fake manifold), ``density`` (per fake:
    number of real balls containing it / k), ``coverage`` (per real: its ball holds a fake).
    """
    if fake_groups is None:
        fake_groups = np.array([f"fake:{i}" for i in range(len(fake))])
    d_fr = pairwise(fake, real)
    real_r_pr = knn_radii(real, real_groups, k_pr)
    fake_r_pr = knn_radii(fake, fake_groups, k_pr)
    real_r_dc = knn_radii(real, real_groups, k_dc) if k_dc != k_pr else real_r_pr
    inside_real = d_fr <= real_r_pr[None, :]
    return {
        "precision": inside_real.any(axis=1).astype(np.float64),
        "recall": (d_fr <= fake_r_pr[:, None]).any(axis=0).astype(np.float64),
        "density": (d_fr <= real_r_dc[None, :]).sum(axis=1) / k_dc,
        "coverage": (d_fr.min(axis=0) <= real_r_dc).astype(np.float64),
    }
