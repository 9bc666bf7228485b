"""Diversity and collapse: MS-SSIM within a set, intensity-histogram distance.

The paper's DCGAN produced "hyper-intense T1-like" 64x64 Concat images, a collapse in
intensity (§4.1); a set of near-identical images has a high mean pairwise MS-SSIM and an
intensity histogram unlike the real one.

MS-SSIM (Wang et al. 2003) is torchmetrics' (``multiscale_structural_similarity_index_measure``:
Gaussian window of side 11 for sigma 1.5, reflect padding, contrast term cropped to the
unpadded area, ReLU on negative terms, 2x2 average pooling between scales), which equals the
implementation brainsynth carried until 0.3.0 within 1e-4 at 64 and 128 px
(tests/metrics/test_diversity.py keeps that implementation as the reference). MONAI's
``MultiScaleSSIMMetric`` is not used: it slides the window without padding and applies no
ReLU to negative contrast terms, which moved pair scores by up to 0.055 at 64 px and 0.031 at
128 px against today's values, and every MS-SSIM figure in the README would shift. Five
scales need at least 176 px at 11x11, so the number of scales is the largest (at most 5) that
keeps the coarsest scale at least 16 px: 3 scales at 64x64 (64, 32, 16), 4 at 128x128, and
the standard weights of those scales renormalised to sum to one.
"""

from __future__ import annotations

import numpy as np
import torch

MS_SSIM_BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
SIGMA = 1.5


def ms_ssim_scales(size: int) -> int:
    """Number of MS-SSIM scales for images of side ``size`` (coarsest scale >= 16 px)."""
    scales = 1
    while scales < 5 and size / 2**scales >= 16:
        scales += 1
    return scales


def ms_ssim_betas(size: int) -> tuple[float, ...]:
    betas = np.array(MS_SSIM_BETAS[: ms_ssim_scales(size)])
    return tuple(float(b) for b in betas / betas.sum())


def ms_ssim(x: np.ndarray, y: np.ndarray, batch_size: int = 256, device: str = "cpu") -> np.ndarray:
    """MS-SSIM of each pair (x[i], y[i]); (N, 1, H, W) floats in [0, 1] -> (N,) in [0, 1]."""
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

    betas = ms_ssim_betas(x.shape[-1])
    scores = []
    for start in range(0, len(x), batch_size):
        a = torch.from_numpy(np.asarray(x[start : start + batch_size], np.float32)).to(device)
        b = torch.from_numpy(np.asarray(y[start : start + batch_size], np.float32)).to(device)
        score = multiscale_structural_similarity_index_measure(
            a, b, gaussian_kernel=True, sigma=SIGMA, kernel_size=11, data_range=1.0,
            betas=betas, normalize="relu", reduction="none",
        )  # fmt: skip
        scores.append(score.reshape(-1))
    return torch.cat(scores).double().cpu().numpy()


def random_pairs(
    groups: np.ndarray, n_pairs: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n_pairs`` random index pairs (i, j) with i != j from different groups (patients).

    Real pairs from one patient would be adjacent slices of one volume, far more alike than
    two independent samples, so they are skipped; each synthetic image is its own group.
    """
    groups = np.asarray(groups).astype(str)
    if len(np.unique(groups)) < 2:
        raise ValueError("need images of at least two groups for pairwise MS-SSIM")
    first, second = [], []
    while len(first) < n_pairs:
        i = rng.integers(0, len(groups), size=2 * n_pairs)
        j = rng.integers(0, len(groups), size=2 * n_pairs)
        keep = groups[i] != groups[j]
        first.extend(i[keep])
        second.extend(j[keep])
    return np.array(first[:n_pairs]), np.array(second[:n_pairs])


def pairwise_ms_ssim(
    images: np.ndarray, groups: np.ndarray, n_pairs: int, seed: int = 0, device: str = "cpu"
) -> np.ndarray:
    """MS-SSIM of ``n_pairs`` random cross-group pairs within one set."""
    i, j = random_pairs(groups, n_pairs, np.random.default_rng(seed))
    return ms_ssim(images[i], images[j], device=device)


def intensity_histograms(images: np.ndarray, bins: int = 256) -> np.ndarray:
    """Per-image pixel counts over ``bins`` equal bins of [0, 1], (N, bins)."""
    flat = np.asarray(images, np.float32).reshape(len(images), -1)
    q = np.clip((flat * bins).astype(np.int64), 0, bins - 1)
    offsets = np.arange(len(flat))[:, None] * bins
    return np.bincount((q + offsets).ravel(), minlength=len(flat) * bins).reshape(-1, bins)


def histogram_distance(real_counts: np.ndarray, fake_counts: np.ndarray) -> float:
    """Earth mover's (Wasserstein-1) distance between pooled intensity histograms.

    In intensity units of [0, 1]: 0.05 means the synthetic pixel intensities would have to
    move by 0.05 on average to match the real ones.
    """
    p = real_counts.sum(axis=0) / real_counts.sum()
    q = fake_counts.sum(axis=0) / fake_counts.sum()
    return float(np.abs(np.cumsum(p - q)).sum() / len(p))
