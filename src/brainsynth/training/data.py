"""The training images in memory as one uint8 tensor, sampled in shuffled epochs.

No per-image decoding and no DataLoader workers: a batch is an ``index_select`` on the
uint8 tensor, converted to float in [-1, 1] on the fly (4x less memory than float32). The
[-1, 1] range is Radford et al.'s; the generator has no tanh (paper §3.2.2) and maps its
output back itself (``Generator.to_images``: ``clip((y + 1) / 2, 0, 1)`` for the DCGAN).

On a GPU the uint8 images live on the GPU when they take at most a quarter of its memory
(a 128x128 BraTS 2021 Concat set is about 5.7 GB), so drawing a batch copies nothing from
the host but its indices; otherwise they stay in pinned host memory and each batch is
copied asynchronously. With several ranks every rank draws the same global batch of
indices and keeps its own slice (:meth:`Runtime.shard`), so the data order does not depend
on the number of ranks.

Tumour masks (issue 25) travel the same way, as uint8 channels on the images' 0..255 scale
(:func:`brainsynth.models.mask_encoding.encode_uint8`): a pair run (``with_mask``) appends
them to each image as generated channels, a mask-conditioned run (``condition: mask``) keeps
them beside the images and each batch's masks become its :class:`Condition`'s ``masks``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from brainsynth.config import check_image_size
from brainsynth.data.dataset import load_prepared
from brainsynth.data.labels import image_set_labels
from brainsynth.errors import BrainsynthError
from brainsynth.models.generator import Condition
from brainsynth.models.mask_encoding import encode_uint8
from brainsynth.outputs import shown
from brainsynth.training.runtime import Runtime, to_device


def load_training_data(config: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A run's images (uint8 (N, C, H, W), with the mask channels of a pair run) and class
    ids (None when unconditional): :func:`load_training_set` without condition masks."""
    images, labels, _ = load_training_set(config)
    return images, labels


def load_training_set(
    config: Any,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """A run's images (uint8 (N, C, H, W)), class ids (None when unconditional) and
    condition masks (uint8 (N, condition_channels, H, W); None unless ``condition: mask``).

    ``config`` is the run's :class:`~brainsynth.training.config.DataConfig`: its image set,
    restricted to ``config.patients`` when given, labelled by ``config.condition``; a pair
    run's images carry their slice's mask as ``config.mask_channels`` more channels. The
    images must follow the shared image-size rule (:func:`check_image_size`); masks come
    only from a folder prepared with them, and only slices of segmented cases train a model
    of masks (an unsegmented case's all-zero mask is unknown, not tumour-free).
    """
    data = config.prepared
    if not Path(data).is_dir():
        raise BrainsynthError(
            f"--data {shown(data)}: no such prepared dataset folder (a run's config.yaml "
            "stores it absolute: was it moved?)"
        )
    prepared = load_prepared(data)
    uses_masks = bool(getattr(config, "uses_masks", False))
    # without masks.npy: its one-line error (prepared before masks; re-run prepare)
    image_set = prepared.image_set(config.sequence, as_float=False, with_masks=uses_masks)
    labels = image_set_labels(image_set, prepared.slices, config.condition, config.tumor_threshold)
    if uses_masks:
        segmented = prepared.segmented[image_set.rows]
        if not segmented.all():
            if not segmented.any():
                raise BrainsynthError(f"{shown(data)}: no case has a segmentation; --with-mask "
                                      "and --condition mask learn tumour masks")  # fmt: skip
            image_set = image_set.subset(segmented)
            labels = labels[segmented] if labels is not None else None
    if config.patients:
        unknown = sorted(set(config.patients) - set(image_set.patients))
        if unknown:
            raise BrainsynthError(
                f"{shown(data)}: no patient(s) {', '.join(unknown[:5])} in this dataset"
            )
        keep = np.isin(image_set.patients, config.patients)
        image_set = image_set.subset(keep)
        labels = labels[keep] if labels is not None else None
    if len(image_set) == 0:
        raise BrainsynthError(f"{shown(data)}: the prepared dataset has no images")
    check_image_size(int(image_set.images.shape[-1]), f"--data {shown(data)}: image side")
    images = np.ascontiguousarray(image_set.images)
    masks = None
    if uses_masks:
        encoded = encode_uint8(image_set.masks, config.mask_channels or config.condition_channels)
        if config.with_mask:
            images = np.concatenate([images, encoded], axis=1)
        else:
            masks = torch.from_numpy(encoded)
    images = torch.from_numpy(np.ascontiguousarray(images))
    if labels is None:
        return images, None, masks
    missing = [name for k, name in enumerate(config.label_names) if not (labels == k).any()]
    if missing:
        raise BrainsynthError(
            f"{shown(data)}: no training image of class {', '.join(missing)} "
            f"(--condition {config.condition})"
        )
    return images, torch.from_numpy(labels), masks


def resident(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``images`` where batches are drawn fastest: on the GPU when they fit in a quarter of
    its memory, else in pinned host memory (asynchronous copies); unchanged on the CPU."""
    if device.type != "cuda":
        return images
    total = torch.cuda.get_device_properties(device).total_memory
    if images.numel() * images.element_size() <= total // 4:
        return images.to(device)
    return images.pin_memory()


def warn_large_batch(batch: int, count: int) -> None:
    """Warn when a batch is larger than the training set: every batch repeats images."""
    if batch > count:
        print(
            f"brainsynth: warning: --batch {batch} is larger than the {count} training images; "
            "every batch repeats images (each epoch is shorter than one batch)",
            file=sys.stderr,
        )


def to_model_range(batch_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 -> float32 in [-1, 1]."""
    return batch_uint8.float().mul_(2.0 / 255.0).sub_(1.0)


class EpochSampler:
    """Batches drawn without replacement, reshuffled each epoch by its own torch.Generator.

    Its whole state (generator state, permutation, position) goes into checkpoints, so a
    resumed run sees exactly the batches an uninterrupted run would.
    """

    def __init__(
        self,
        images: torch.Tensor,
        batch: int,
        seed: int,
        where: torch.device | Runtime,
        labels: torch.Tensor | None = None,
        masks: torch.Tensor | None = None,
    ) -> None:
        self.runtime = where if isinstance(where, Runtime) else Runtime(torch.device(where))
        self.device = self.runtime.device
        self.batch = batch  # global: all ranks together
        self.local_batch = self.runtime.per_rank_batch(batch)  # this rank's share
        self.images = resident(images, self.device)
        self.labels = None if labels is None else resident(labels, self.device)
        self.last_labels: torch.Tensor | None = None  # class ids of the last batch (this rank's)
        self.masks = None if masks is None else resident(masks, self.device)
        self.last_masks: torch.Tensor | None = None  # its condition masks, in [-1, 1]
        self.generator = torch.Generator().manual_seed(seed)
        self.order = torch.randperm(len(images), generator=self.generator)
        self.position = 0

    def indices(self) -> torch.Tensor:
        """The next ``batch`` indices, crossing epoch boundaries with a fresh permutation."""
        parts, needed = [], self.batch
        while needed > 0:
            if self.position >= len(self.order):
                self.order = torch.randperm(len(self.images), generator=self.generator)
                self.position = 0
            take = self.order[self.position : self.position + needed]
            self.position += len(take)
            needed -= len(take)
            parts.append(take)
        return torch.cat(parts)

    def next_batch(self) -> torch.Tensor:
        """This rank's share of the next global batch: float in [-1, 1] on the device,
        channels_last; its class ids (conditional runs) are then in ``last_labels``, its
        condition masks (mask-conditional runs) in ``last_masks``."""
        rows = self.runtime.shard(self.indices())
        if self.labels is not None:
            self.last_labels = to_device(
                self.labels.index_select(0, to_device(rows, self.labels.device)), self.device
            )
        if self.masks is not None:
            masks = self.masks.index_select(0, to_device(rows, self.masks.device))
            masks = to_model_range(to_device(masks, self.device))
            self.last_masks = masks.contiguous(memory_format=torch.channels_last)
        batch = self.images.index_select(0, to_device(rows, self.images.device))
        batch = to_model_range(to_device(batch, self.device))
        return batch.contiguous(memory_format=torch.channels_last)

    @property
    def last_condition(self) -> Condition:
        """What the last batch's images are conditioned on (its class ids and condition
        masks, this rank's)."""
        return Condition(labels=self.last_labels, masks=self.last_masks)

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.get_state(),
            "order": self.order.clone(),
            "position": self.position,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["order"]) != len(self.images):
            raise BrainsynthError(
                f"the checkpoint was trained on {len(state['order'])} images, "
                f"but the dataset now has {len(self.images)}"
            )
        self.generator.set_state(state["generator"])
        self.order = state["order"].clone()
        self.position = int(state["position"])
