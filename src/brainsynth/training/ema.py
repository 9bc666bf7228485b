"""An exponential moving average (EMA) of the generator's weights.

Karras et al. 2018 (ProGAN, §A.1) and StyleGAN2 sample from a running average of the
generator, which is smoother and usually more realistic than the raw weights. The decay
follows StyleGAN2-ADA's convention: a half-life in thousands of images,

    beta = 0.5 ** (batch / half_life_images),  half_life_images = 1000 * half_life_kimg,

with a ramp-up that caps the half-life at ``rampup`` x the images seen so far, so the
average forgets the random initial weights quickly. Here "images" counts generator
updates x the global batch. After each generator update every parameter moves as
``ema = w + beta * (ema - w)``; buffers (batch-norm running statistics) are copied, not
averaged, as in StyleGAN2-ADA.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from brainsynth.training.config import EmaConfig


def ema_beta(config: EmaConfig, batch: int, images_seen: int) -> float:
    """The decay of one update after ``images_seen`` images (including this batch)."""
    half_life = config.half_life_kimg * 1000.0
    if config.rampup:
        half_life = min(half_life, images_seen * config.rampup)
    return 0.5 ** (batch / max(half_life, 1e-8))


class GeneratorEma:
    """A frozen copy of the generator that trails its weights; ``model`` is what samples."""

    def __init__(self, generator: nn.Module, config: EmaConfig, batch: int) -> None:
        self.config, self.batch = config, batch
        self.model = copy.deepcopy(generator).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, generator: nn.Module, images_seen: int) -> None:
        beta = ema_beta(self.config, self.batch, images_seen)
        for averaged, current in zip(self.model.parameters(), generator.parameters(), strict=True):
            averaged.copy_(current.detach().lerp(averaged, beta))
        for kept, current in zip(self.model.buffers(), generator.buffers(), strict=True):
            kept.copy_(current)

    def state_dict(self) -> dict[str, Any]:
        return self.model.state_dict()
