"""The reference segmenter: a small 2D U-Net (MONAI ``BasicUNet``) for tumour label maps.

Used by ``augment-eval --task segmentation`` (one per arm, fraction and repeat) and by the
image-mask consistency of pairs (:mod:`.pairs`: trained on real pairs, applied to synthetic
images). The network is MONAI's ``BasicUNet`` (Ronneberger et al. 2015 layout: four 2x
downsamplings, two 3x3 convolutions per level, instance norm, LeakyReLU, transposed-
convolution upsampling and skip concatenation) at width ``w``: features (w, w, 2w, 4w, 8w, w)
instead of MONAI's (32, 32, 64, 128, 256, 32), so a CPU trains it in minutes
(:class:`~brainsynth.metrics.seg_config.SegmenterConfig`). It outputs logits of the four
labels 0..3 of ``masks.npy``; the loss is MONAI's ``DiceCELoss`` (softmax over the four
classes against one-hot targets, Dice and cross-entropy weighted 1:1, Dice over the whole
batch as nnU-Net's "batch Dice" so that a tumour-free slice does not give an undefined Dice).

Training is deterministic for a seed and identical across the arms of an experiment: Adam,
``epochs * steps_per_epoch`` optimiser steps (``steps_per_epoch = ceil(real slices / batch)``
unless given), initial weights from ``seed``, and the real slices in the same order whatever
other slices are added (:class:`BatchOrder`). After every epoch the validation patients are
segmented and scored (mean over patients and regions of the Dice of the stacked slices);
the weights of the best epoch are kept, and ``patience`` > 0 stops early.
"""

from __future__ import annotations

import copy
import math
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from monai.losses import DiceCELoss
from monai.networks.nets import BasicUNet
from torch import nn
from tqdm.auto import tqdm

from brainsynth.errors import BrainsynthError
from brainsynth.metrics.seg_config import MIN_SEGMENTER_SIZE, SegmenterConfig
from brainsynth.metrics.seg_scores import dice_from_counts, overlap_counts

LABELS = 4
"""Output classes: background and the three tumour labels of ``masks.npy``."""

PairAugmentation = Callable[
    [torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]
]
"""(float images (B, C, H, W), float label maps (B, 1, H, W), generator) -> both augmented
alike (geometry) and the images alone (intensity)."""


def build_segmenter(channels: int, size: int, config: SegmenterConfig) -> nn.Module:
    """A fresh ``BasicUNet`` for ``channels``-channel images of side ``size``."""
    if size < MIN_SEGMENTER_SIZE:
        raise BrainsynthError(
            f"the segmenter's U-Net needs images of at least {MIN_SEGMENTER_SIZE}x"
            f"{MIN_SEGMENTER_SIZE} (it halves them four times); these are {size}x{size}"
        )
    w = config.width
    features = (w, w, 2 * w, 4 * w, 8 * w, w)
    return BasicUNet(spatial_dims=2, in_channels=channels, out_channels=LABELS, features=features)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 -> float32 in [0, 1]; float images are taken as they are."""
    return images.float().div_(255.0) if images.dtype == torch.uint8 else images.float()


@torch.no_grad()
def segment(model: nn.Module, images: torch.Tensor, batch: int = 64) -> np.ndarray:
    """Label maps uint8 (N, H, W), the most probable label per pixel, of images (N, C, H, W)."""
    model.eval()
    out = [
        model(to_float(images[i : i + batch])).argmax(dim=1).to(torch.uint8).cpu()
        for i in range(0, len(images), batch)
    ]
    if not out:
        return np.zeros((0, *images.shape[2:]), dtype=np.uint8)
    return torch.cat(out).numpy()


def mean_patient_dice(prediction: np.ndarray, reference: np.ndarray, patients: np.ndarray) -> float:
    """Mean over patients and the three regions of the Dice of each patient's stacked slices
    (the validation score; the same numbers as :func:`~.seg_scores.score_patients`)."""
    counts = overlap_counts(prediction, reference)
    names = np.unique(patients)
    per_patient = [dice_from_counts(counts[patients == name].sum(axis=0)) for name in names]
    return float(np.mean(per_patient))


class BatchOrder:
    """Indices into ``[real slices, extra slices]``, ``batch`` at a time.

    One endless stream of passes over all ``n_real + n_extra`` slices (a batch may span two
    passes). In each pass the real slices come in a fresh permutation of their own (seeded
    by ``seed``), the extra slices in theirs, and a third stream decides which places go to
    which: the real slices then follow the same order in every arm, whatever extra slices
    it adds, only spaced out.
    """

    def __init__(self, n_real: int, n_extra: int, seed: int) -> None:
        if n_real + n_extra < 1:
            raise BrainsynthError("the segmenter has no training slices")
        self.n_real, self.n_extra = n_real, n_extra
        self.real_rng = torch.Generator().manual_seed(seed)
        self.extra_rng = torch.Generator().manual_seed(seed + 1)
        self.mix_rng = torch.Generator().manual_seed(seed + 2)
        self.pending = torch.zeros(0, dtype=torch.int64)

    def new_pass(self) -> torch.Tensor:
        real = torch.randperm(self.n_real, generator=self.real_rng)
        if not self.n_extra:
            return real
        extra = torch.randperm(self.n_extra, generator=self.extra_rng) + self.n_real
        slots = torch.randperm(self.n_real + self.n_extra, generator=self.mix_rng) < self.n_real
        order = torch.empty(self.n_real + self.n_extra, dtype=torch.int64)
        order[slots], order[~slots] = real, extra
        return order

    def next(self, batch: int) -> torch.Tensor:
        while len(self.pending) < batch:
            self.pending = torch.cat([self.pending, self.new_pass()])
        index, self.pending = self.pending[:batch], self.pending[batch:]
        return index


@dataclass
class ValidationSet:
    """Validation patients' slices: images (N, C, H, W), label maps (N, H, W), patient ids."""

    images: torch.Tensor
    masks: np.ndarray
    patients: np.ndarray


@dataclass
class TrainingLog:
    """What one training did: validation Dice per epoch run, the epoch whose weights were
    kept (0-based), and the optimiser steps taken."""

    val_dice: list[float] = field(default_factory=list)
    best_epoch: int = -1
    steps: int = 0


def train_segmenter(
    images: torch.Tensor,
    masks: torch.Tensor,
    n_real: int,
    validation: ValidationSet,
    config: SegmenterConfig,
    seed: int,
    steps_per_epoch: int | None = None,
    augment: PairAugmentation | None = None,
    on_epoch: Callable[[], None] | None = None,
) -> tuple[nn.Module, TrainingLog]:
    """Train a fresh segmenter; return it with the best validation epoch's weights.

    ``images`` (uint8 or float in [0, 1], (N, C, H, W)) and ``masks`` (integer labels 0..3,
    (N, H, W)) hold the ``n_real`` real slices first, then any extra (synthetic) ones.
    ``steps_per_epoch`` defaults to ``ceil(n_real / batch)``: arms that add slices take the
    same number of steps and see each real slice less often. ``on_epoch`` is called once per
    epoch, skipped ones included when ``patience`` stops early.
    """
    if len(images) != len(masks):
        raise BrainsynthError(f"{len(images)} training images but {len(masks)} label maps")
    steps = steps_per_epoch if steps_per_epoch is not None else math.ceil(n_real / config.batch)
    if steps < 1:
        raise BrainsynthError("the segmenter has no real training slices to count steps by")
    torch.manual_seed(seed)
    model = build_segmenter(images.shape[1], images.shape[-1], config).to(images.device)
    optimizer = torch.optim.Adam(model.parameters(), config.lr, weight_decay=config.weight_decay)
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True, batch=True)
    order = BatchOrder(n_real, len(images) - n_real, seed)
    augment_rng = torch.Generator().manual_seed(seed + 3)
    log, best_state = TrainingLog(), copy.deepcopy(model.state_dict())
    for epoch in range(config.epochs):
        model.train()
        for _ in range(steps):
            index = order.next(config.batch).to(images.device)
            x = to_float(images[index])
            y = masks[index].unsqueeze(1).float()
            if augment is not None:
                x, y = augment(x, y, augment_rng)
            loss = loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            log.steps += 1
        predicted = segment(model, validation.images)
        log.val_dice.append(mean_patient_dice(predicted, validation.masks, validation.patients))
        if log.best_epoch < 0 or log.val_dice[-1] > log.val_dice[log.best_epoch]:
            log.best_epoch, best_state = epoch, copy.deepcopy(model.state_dict())
        if on_epoch is not None:
            on_epoch()
        if config.patience and epoch - log.best_epoch >= config.patience:
            for _ in range(config.epochs - epoch - 1):
                if on_epoch is not None:
                    on_epoch()
            break
    model.load_state_dict(best_state)
    return model, log


def fit_reference_segmenter(
    images: np.ndarray,
    masks: np.ndarray,
    patients: np.ndarray,
    validation_patients: tuple[str, ...],
    config: SegmenterConfig,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> tuple[nn.Module, TrainingLog]:
    """Train the reference segmenter on real pairs: ``validation_patients`` choose the epoch,
    every other patient's slices train it. Arrays as in :func:`train_segmenter`."""
    patients = np.asarray(patients).astype(str)
    val = np.isin(patients, validation_patients)
    if not val.any() or val.all():
        raise BrainsynthError(
            "the reference segmenter needs training and validation patients "
            f"({int((~val).sum())} training, {int(val.sum())} validation slices)"
        )
    device = torch.device(device)
    validation = ValidationSet(
        torch.from_numpy(np.ascontiguousarray(images[val])).to(device),
        np.asarray(masks[val]),
        patients[val],
    )
    bar = tqdm(total=config.epochs, desc="reference segmenter", unit="epoch", disable=not progress)
    try:
        return train_segmenter(
            torch.from_numpy(np.ascontiguousarray(images[~val])).to(device),
            torch.from_numpy(np.asarray(masks[~val]).astype(np.int64)).to(device),
            n_real=int((~val).sum()),
            validation=validation,
            config=config,
            seed=seed,
            on_epoch=lambda: bar.update(1),
        )
    finally:
        bar.close()


MAX_SEGMENTER_BYTES = 256 * 2**20
"""Largest segmenter file read (width 32, MONAI's default, is about 8 MB): checked before
anything is loaded."""


def save_segmenter(model: nn.Module, log: TrainingLog, path) -> None:
    """A trained segmenter and its log as a dict of tensors and plain values (``torch.save``,
    read back with ``weights_only=True``): no pickled module."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    record = {"state": state, "val_dice": [float(d) for d in log.val_dice],
              "best_epoch": int(log.best_epoch), "steps": int(log.steps)}  # fmt: skip
    torch.save(record, path)


def load_segmenter(
    path, channels: int, size: int, config: SegmenterConfig, device: str | torch.device = "cpu"
) -> tuple[nn.Module, TrainingLog]:
    """The segmenter :func:`save_segmenter` wrote, for ``channels`` x ``size`` images and
    ``config``; ``ValueError`` when the file is not one (wrong shapes, non-finite weights)."""
    if os.path.getsize(path) > MAX_SEGMENTER_BYTES:
        raise ValueError(f"{path} is larger than a saved segmenter can be")
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError) as error:
        raise ValueError(f"{path} is not a saved segmenter: {error}") from error
    if not isinstance(record, dict) or not isinstance(record.get("state"), dict):
        raise ValueError(f"{path} is not a saved segmenter")
    state = record["state"]
    if not all(isinstance(v, torch.Tensor) and torch.isfinite(v).all() for v in state.values()):
        raise ValueError(f"{path} holds non-finite or non-tensor weights")
    model = build_segmenter(channels, size, config)
    try:
        model.load_state_dict(state)  # strict: every key, every shape
    except RuntimeError as error:
        raise ValueError(f"{path} does not fit this segmenter: {error}") from error
    log = TrainingLog([float(d) for d in record.get("val_dice", [])],
                      int(record.get("best_epoch", -1)), int(record.get("steps", 0)))  # fmt: skip
    return model.to(device).eval(), log
