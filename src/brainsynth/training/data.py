"""The training images in memory as one uint8 tensor, sampled in shuffled epochs.

No per-image decoding and no DataLoader workers: a batch is an ``index_select`` on the
uint8 tensor, converted to float in [-1, 1] on the fly (4x less memory than float32). The
[-1, 1] range is Radford et al.'s; the generator has no tanh (paper §3.2.2) and maps its
output back itself (``Generator.to_images``: ``clip((y + 1) / 2, 0, 1)`` for the DCGAN).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from brainsynth.data.dataset import load_prepared
from brainsynth.errors import BrainsynthError


def load_training_images(data: str | Path, sequence: str) -> torch.Tensor:
    """The image set ``sequence`` of a prepared folder as a uint8 (N, 1, H, W) tensor."""
    image_set = load_prepared(data).image_set(sequence, as_float=False)
    if len(image_set) == 0:
        raise BrainsynthError(f"{data}: the prepared dataset has no images")
    return torch.from_numpy(np.ascontiguousarray(image_set.images))


def to_model_range(batch_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 -> float32 in [-1, 1]."""
    return batch_uint8.float().mul_(2.0 / 255.0).sub_(1.0)


class EpochSampler:
    """Batches drawn without replacement, reshuffled each epoch by its own torch.Generator.

    Its whole state (generator state, permutation, position) goes into checkpoints, so a
    resumed run sees exactly the batches an uninterrupted run would.
    """

    def __init__(self, images: torch.Tensor, batch: int, seed: int, device: torch.device) -> None:
        self.images = images
        self.batch = batch
        self.device = device
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
        """The next batch as float in [-1, 1] on the device, channels_last."""
        batch = self.images.index_select(0, self.indices())
        batch = to_model_range(batch.to(self.device, non_blocking=True))
        return batch.contiguous(memory_format=torch.channels_last)

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
