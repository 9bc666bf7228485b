"""The downstream task's CNN: a ResNet-18 (He et al. 2016, §3.3 and Table 1) at reduced width.

Four stages of two basic residual blocks (3x3, 3x3 convolutions with batch norm and an
identity or 1x1 projection shortcut), widths w, 2w, 4w, 8w, global average pooling and one
logit ("with tumour"). Departures from the ImageNet model, for 64-256 pixel single-slice
inputs: the stem is one 3x3 convolution (stride 2 from 64 pixels up, no max pooling) instead
of a 7x7 stride-2 convolution and max pooling, and the width defaults to 8 instead of 64.

Training is identical in every arm: Adam, class-weighted binary cross-entropy, the same
number of optimiser steps (``epochs`` passes over the real training slices: arms with extra
data draw their batches from the union, so they see each real slice less often, and a
difference between arms is one of data, not of compute), and the weights of the epoch with
the best validation AUC.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from brainsynth.augment_eval.config import ClassifierConfig
from brainsynth.metrics.stats import roc_auc


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm; identity shortcut, or 1x1 projection."""

    def __init__(self, channels_in: int, channels_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or channels_in != channels_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(channels_in, channels_out, 1, stride, bias=False),
                nn.BatchNorm2d(channels_out),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResNet18(nn.Module):
    """ResNet-18 layout (2, 2, 2, 2 basic blocks) at width ``width``; one logit per image."""

    def __init__(self, channels: int, width: int = 8, size: int = 64) -> None:
        super().__init__()
        stem_stride = 2 if size >= 64 else 1
        self.stem = nn.Sequential(
            nn.Conv2d(channels, width, 3, stem_stride, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        blocks, channels_in = [], width
        for stage, channels_out in enumerate((width, 2 * width, 4 * width, 8 * width)):
            stride = 1 if stage == 0 else 2
            blocks += [BasicBlock(channels_in, channels_out, stride)]
            blocks += [BasicBlock(channels_out, channels_out, 1)]
            channels_in = channels_out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(channels_in, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.blocks(self.stem(x))
        return self.head(y.mean(dim=(2, 3))).squeeze(1)


Augmentation = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 (how slices are kept: 4x less memory) -> float32 in [0, 1]."""
    return images.float().div_(255.0) if images.dtype == torch.uint8 else images.float()


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch: int = 256) -> np.ndarray:
    """Probabilities of "with tumour" for images (N, C, H, W), uint8 or float in [0, 1]."""
    model.eval()
    out = [
        torch.sigmoid(model(to_float(images[i : i + batch]))) for i in range(0, len(images), batch)
    ]
    return torch.cat(out).double().cpu().numpy() if out else np.zeros(0)


def train_classifier(
    train_images: torch.Tensor,
    train_labels: torch.Tensor,
    n_real: int,
    val_images: torch.Tensor,
    val_labels: np.ndarray,
    config: ClassifierConfig,
    seed: int,
    augment: Augmentation | None = None,
    on_epoch: Callable[[], None] | None = None,
) -> nn.Module:
    """Train a fresh :class:`ResNet18` and return it with its best-validation-AUC weights.

    ``train_images`` (uint8, or float in [0, 1]) holds the ``n_real`` real slices first, then
    any extra (synthetic) ones; ``epochs * ceil(n_real / batch)`` steps are taken whatever the extra
    data. ``seed`` fixes the initial weights and the batch order: arms of one fraction and
    repeat share it, so their difference is the data alone.
    """
    torch.manual_seed(seed)
    channels, size = train_images.shape[1], train_images.shape[-1]
    model = ResNet18(channels, config.width, size).to(train_images.device)
    optimizer = torch.optim.Adam(model.parameters(), config.lr, weight_decay=config.weight_decay)
    positives = float(train_labels.sum())
    negatives = float(len(train_labels)) - positives
    pos_weight = torch.tensor(negatives / max(positives, 1.0), device=train_images.device)
    order_rng = torch.Generator().manual_seed(seed)
    augment_rng = torch.Generator().manual_seed(seed + 1)
    steps_per_epoch = math.ceil(n_real / config.batch)
    best_auc, best_state = -math.inf, copy.deepcopy(model.state_dict())
    order, position = torch.randperm(len(train_images), generator=order_rng), 0
    for _ in range(config.epochs):
        model.train()
        for _ in range(steps_per_epoch):
            if position + config.batch > len(order):
                order, position = torch.randperm(len(train_images), generator=order_rng), 0
            index = order[position : position + config.batch]
            position += len(index)
            x = to_float(train_images[index])
            if augment is not None:
                x = augment(x, augment_rng)
            loss = F.binary_cross_entropy_with_logits(
                model(x), train_labels[index].float(), pos_weight=pos_weight
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        auc = roc_auc(predict(model, val_images), val_labels)
        if not math.isfinite(auc):
            auc = -loss.item()  # validation has one class only: keep the last epoch
        if auc > best_auc:
            best_auc, best_state = auc, copy.deepcopy(model.state_dict())
        if on_epoch is not None:
            on_epoch()
    model.load_state_dict(best_state)
    return model


def youden_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The probability threshold maximising sensitivity + specificity - 1 (Youden's J) on
    validation slices; 0.5 when validation lacks a class. A slice is called positive when
    its probability is >= the threshold."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels).astype(bool)
    if labels.all() or not labels.any():
        return 0.5
    candidates = np.unique(scores)
    best, best_j = 0.5, -math.inf
    for t in candidates:
        called = scores >= t
        j = called[labels].mean() + (~called[~labels]).mean() - 1
        if j > best_j:
            best, best_j = float(t), j
    return best
