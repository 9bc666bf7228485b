"""Classifier two-sample tests (C2ST, Lopez-Paz & Oquab, ICLR 2017): the paper's §5 future work.

A classifier learns to tell set 0 (real) from set 1 (synthetic) on one part of the data and
is scored on a held-out part; accuracy near 0.5 means the two sets are indistinguishable.
Lessons from a calibration run on real BraTS cases (issue 4) shape the design:

* real images are split **by patient** (no patient on both sides of a split), synthetic
  images are each their own group;
* the CNN is trained to **convergence** (early stopping on a patient-disjoint validation
  split, best weights restored) — a briefly trained C2ST is worse than none;
* the nearest-neighbour test excludes **same-group neighbours**, else adjacent slices of one
  volume decide everything;
* :func:`saliency_montage` shows where the classifier looks.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from brainsynth.metrics.stats import binomial_p_value, clopper_pearson

SPLITS = ("train", "val", "test")


@dataclass
class C2STSettings:
    """How the CNN two-sample test trains; tests may shrink ``width``/``max_epochs``."""

    max_epochs: int = 100  # hard cap; training normally stops earlier on the validation loss
    patience: int = 6  # epochs without a validation-loss improvement before stopping
    min_delta: float = 1e-3  # improvement of the validation loss that counts
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    width: int = 16  # channels of the first conv layer (doubled per layer)
    val_fraction: float = 0.2  # share of groups (patients) used for early stopping
    test_fraction: float = 0.3  # share of groups held out for the reported accuracy


def group_split(
    groups: np.ndarray, val_fraction: float, test_fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """Assign every item to split 0 (train), 1 (val) or 2 (test), whole groups at a time.

    Groups are shuffled and cut so that val/test receive about the requested share of
    *items*; with three or more groups each split gets at least one group.
    """
    unique, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    if len(unique) < 3:
        raise ValueError(f"need at least 3 groups (patients) to split, got {len(unique)}")
    order = rng.permutation(len(unique))
    share = np.cumsum(counts[order]) / counts.sum()
    group_split_of = np.zeros(len(unique), dtype=np.int64)
    test_cut = max(1, int(np.searchsorted(share, test_fraction) + 1))
    test_cut = min(test_cut, len(unique) - 2)
    val_share = share - share[test_cut - 1]
    val_cut = test_cut + max(1, int(np.searchsorted(val_share[test_cut:], val_fraction) + 1))
    val_cut = min(val_cut, len(unique) - 1)
    group_split_of[order[:test_cut]] = 2
    group_split_of[order[test_cut:val_cut]] = 1
    return group_split_of[inverse]


class SmallCNN(nn.Module):
    """Four strided 3x3 conv blocks, global average pooling, one logit ("synthetic")."""

    def __init__(self, width: int = 16):
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for i in range(4):
            out = width * 2**i
            layers += [
                nn.Conv2d(channels, out, 3, stride=2, padding=1),
                nn.BatchNorm2d(out),
                nn.LeakyReLU(0.2),
            ]
            channels = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x * 2 - 1)
        return self.head(h.mean(dim=(2, 3))).squeeze(1)


def balanced_split_indices(
    split0: np.ndarray, split1: np.ndarray, rng: np.random.Generator
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per split, indices into set 0 and set 1 with equal counts (the larger is subsampled)."""
    out = {}
    for s, name in enumerate(SPLITS):
        i0, i1 = np.flatnonzero(split0 == s), np.flatnonzero(split1 == s)
        n = min(len(i0), len(i1))
        out[name] = (
            np.sort(rng.choice(i0, n, replace=False)),
            np.sort(rng.choice(i1, n, replace=False)),
        )
    return out


def _tensors(x0: np.ndarray, x1: np.ndarray, idx: tuple[np.ndarray, np.ndarray]):
    x = np.concatenate([x0[idx[0]], x1[idx[1]]]).astype(np.float32)
    y = np.concatenate([np.zeros(len(idx[0])), np.ones(len(idx[1]))]).astype(np.float32)
    return torch.from_numpy(x), torch.from_numpy(y)


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def train_classifier(
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    settings: C2STSettings,
    seed: int,
) -> tuple[nn.Module, dict[str, Any]]:
    """Train :class:`SmallCNN` with early stopping on the validation loss; best weights kept."""
    torch.manual_seed(seed)
    model = SmallCNN(settings.width)
    optim = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    loss_fn = nn.BCEWithLogitsLoss()
    x, y = train
    generator = torch.Generator().manual_seed(seed)
    best_loss, best_state, best_epoch, since_best = float("inf"), None, 0, 0
    epoch = 0
    for epoch in range(1, settings.max_epochs + 1):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        for i in range(0, len(x), settings.batch_size):
            batch = order[i : i + settings.batch_size]
            if len(batch) < 2:
                continue
            optim.zero_grad()
            loss_fn(model(x[batch]), y[batch]).backward()
            optim.step()
        val_loss = float(loss_fn(predict_logits(model, val[0]), val[1]))
        if val_loss < best_loss - settings.min_delta:
            best_loss, best_state, best_epoch, since_best = (
                val_loss,
                copy.deepcopy(model.state_dict()),
                epoch,
                0,
            )
        else:
            since_best += 1
            if since_best >= settings.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    converged = since_best >= settings.patience
    info = {
        "epochs": epoch,
        "best_epoch": best_epoch,
        "val_loss": best_loss,
        "converged": converged,
    }
    return model, info


def cnn_c2st(
    x0: np.ndarray,
    groups0: np.ndarray,
    x1: np.ndarray,
    groups1: np.ndarray,
    settings: C2STSettings,
    seed: int = 0,
) -> dict[str, Any]:
    """CNN two-sample test of set 0 against set 1, each split by group into train/val/test.

    Returns accuracy on the balanced held-out split, the exact binomial p-value against 0.5,
    a Clopper-Pearson 95% interval, the per-item correctness (for bootstrap), the training
    record, and the model with its test data (for the saliency montage).
    """
    rng = np.random.default_rng(seed)
    split0 = group_split(groups0, settings.val_fraction, settings.test_fraction, rng)
    split1 = group_split(groups1, settings.val_fraction, settings.test_fraction, rng)
    idx = balanced_split_indices(split0, split1, rng)
    train, val, test = (_tensors(x0, x1, idx[name]) for name in SPLITS)
    if min(len(train[1]), len(val[1]), len(test[1])) == 0:
        raise ValueError("a C2ST split is empty: too few images or groups")
    model, info = train_classifier(train, val, settings, seed)
    logits = predict_logits(model, test[0])
    correct = ((logits > 0).float() == test[1]).numpy().astype(np.float64)
    k, n = int(correct.sum()), len(correct)
    return {
        "accuracy": k / n,
        "p_value": binomial_p_value(k, n),
        "ci95": list(clopper_pearson(k, n)),
        "n_train": len(train[1]),
        "n_val": len(val[1]),
        "n_test": n,
        "correct": correct,
        "training": info,
        "model": model,
        "test_x": test[0],
        "test_y": test[1],
        "test_logits": logits,
    }


def knn_c2st(
    f0: np.ndarray,
    groups0: np.ndarray,
    f1: np.ndarray,
    groups1: np.ndarray,
    k: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    """Leave-one-out k-nearest-neighbour two-sample test on flattened features.

    Both sets are subsampled to the same size; each item is classified by the majority label
    of its ``k`` nearest items of *other* groups (its own patient's slices never vote).
    """
    rng = np.random.default_rng(seed)
    n = min(len(f0), len(f1))
    i0, i1 = rng.choice(len(f0), n, replace=False), rng.choice(len(f1), n, replace=False)
    feats = torch.from_numpy(np.concatenate([f0[i0], f1[i1]]).reshape(2 * n, -1).astype(np.float32))
    labels = np.repeat([0, 1], n)
    groups = np.concatenate([np.asarray(groups0)[i0], np.asarray(groups1)[i1]]).astype(str)
    _, group_ids = np.unique(groups, return_inverse=True)
    group_ids = torch.from_numpy(group_ids)
    votes = np.zeros(2 * n)
    for start in range(0, 2 * n, 512):
        d = torch.cdist(feats[start : start + 512], feats)
        d[group_ids[start : start + 512, None] == group_ids[None, :]] = float("inf")
        nearest = torch.topk(d, k, largest=False).indices.numpy()
        votes[start : start + 512] = labels[nearest].mean(axis=1)
    correct = ((votes > 0.5).astype(int) == labels).astype(np.float64)
    kk = int(correct.sum())
    return {
        "accuracy": kk / len(correct),
        "p_value": binomial_p_value(kk, len(correct)),
        "ci95": list(clopper_pearson(kk, len(correct))),
        "n": len(correct),
        "correct": correct,
    }


def input_saliency(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """|d logit / d pixel| for every image: where the classifier's decision is sensitive."""
    model.eval()
    maps = []
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size].clone().requires_grad_(True)
        model(xb).sum().backward()
        maps.append(xb.grad.abs().numpy())
    return np.concatenate(maps)


def saliency_summary(
    result: dict[str, Any], background: np.ndarray, path: Path | None, count: int = 8
) -> dict[str, Any]:
    """Where the classifier looks: background share of its saliency, and a montage PNG.

    ``background`` is a (H, W) boolean mask of pixels that are (near) black in the mean real
    image. The montage's top row holds the held-out synthetic images the classifier is most
    sure about, the middle row their saliency maps (each scaled to its maximum), the bottom
    row the mean saliency over all held-out images of each class (real, synthetic).
    """
    from brainsynth.imageio import save_grid

    sal = input_saliency(result["model"], result["test_x"])[:, 0]
    mean_sal = sal.mean(axis=0)
    share = float(mean_sal[background].sum() / max(mean_sal.sum(), 1e-12))
    out: dict[str, Any] = {
        "saliency_background_share": share,
        "background_area_share": float(background.mean()),
    }
    if path is not None:
        y, logits = result["test_y"].numpy(), result["test_logits"].numpy()
        fake_idx = np.flatnonzero(y == 1)
        top = fake_idx[np.argsort(-logits[fake_idx])][:count]
        images = result["test_x"].numpy()[top, 0]
        maps = sal[top] / np.maximum(sal[top].max(axis=(1, 2), keepdims=True), 1e-12)
        class_means = [sal[y == c].mean(axis=0) for c in (0, 1)]
        scale = max(m.max() for m in class_means) or 1.0
        blank = np.zeros((count - 2, *mean_sal.shape))
        bottom = np.concatenate([np.stack(class_means) / scale, blank])
        pad = np.zeros((count - len(top), *mean_sal.shape))
        tiles = np.concatenate([images, pad, maps, pad, bottom])[:, None]
        save_grid(path, np.clip(tiles, 0, 1), ncols=count)
        out["montage"] = str(path)
    return out
