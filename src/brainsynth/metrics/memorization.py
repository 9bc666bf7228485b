"""Memorisation: does the generator copy training slices? (the paper's goal is images
"completely different from the original ones", §1).

For each synthetic image, the nearest training image (Euclidean, in pixels and in features).
A held-out reference says how close a genuinely new image comes to the training set: for
each real image, its nearest real image of *another* patient (leave-one-patient-out, so a
slice is never matched to its own volume). The threshold is the 1st percentile of those
held-out distances; ``memorized_fraction`` is the share of synthetic images nearer to a
training image than that, i.e. closer than 99% of new real patients ever come. A generator
that copies nothing scores about 0.01 by construction; exact copies have distance 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def nearest(
    queries: np.ndarray,
    reference: np.ndarray,
    query_groups: np.ndarray | None = None,
    reference_groups: np.ndarray | None = None,
    chunk: int = 512,
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest reference row for each query row (skipping same-group pairs when given)."""
    q = torch.from_numpy(np.asarray(queries, np.float32).reshape(len(queries), -1)).to(device)
    r = torch.from_numpy(np.asarray(reference, np.float32).reshape(len(reference), -1))
    r = r.to(device)
    if query_groups is not None:
        _, ids = np.unique(
            np.concatenate([np.asarray(query_groups), np.asarray(reference_groups)]).astype(str),
            return_inverse=True,
        )
        qg = torch.from_numpy(ids[: len(q)]).to(device)
        rg = torch.from_numpy(ids[len(q) :]).to(device)
    dist, index = [], []
    for start in range(0, len(q), chunk):
        d = torch.cdist(q[start : start + chunk].double(), r.double())
        if query_groups is not None:
            d[qg[start : start + chunk, None] == rg[None, :]] = float("inf")
        best = d.min(dim=1)
        dist.append(best.values.cpu().numpy())
        index.append(best.indices.cpu().numpy())
    return np.concatenate(dist), np.concatenate(index)


def memorization(
    real: np.ndarray,
    real_groups: np.ndarray,
    fake: np.ndarray,
    percentile: float = 1.0,
    device: str = "cpu",
) -> dict[str, np.ndarray | float]:
    """Nearest-training distances of fakes, the held-out threshold, and the per-fake flags."""
    fake_d, fake_i = nearest(fake, real, device=device)
    held_out_d, _ = nearest(real, real, real_groups, real_groups, device=device)
    threshold = float(np.percentile(held_out_d, percentile))
    return {
        "fake_distance": fake_d,
        "fake_nearest": fake_i,
        "held_out_distance": held_out_d,
        "threshold": threshold,
        "memorized": (fake_d < threshold).astype(np.float64),
    }


def closest_pairs_montage(
    fake: np.ndarray, real: np.ndarray, result: dict, path: Path, count: int = 8
) -> Path:
    """Top row: the synthetic images nearest to a training image; bottom row: that image."""
    from brainsynth.imageio import save_grid

    order = np.argsort(result["fake_distance"])[:count]
    tiles = np.concatenate([fake[order], real[result["fake_nearest"][order]]])
    return save_grid(path, np.clip(tiles, 0, 1), ncols=len(order))
