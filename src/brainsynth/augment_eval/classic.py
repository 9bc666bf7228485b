"""Classic augmentation of MR slices: flips, small rotations and scaling, intensity.

The usual baseline against which GAN augmentation is judged (Han et al., IEEE Access 2019,
used flips, rotations, shifts and brightness changes): each image of a batch gets, at
random, a left-right flip (p = 0.5), a rotation in [-10, 10] degrees and a scaling in
[0.9, 1.1] (one bilinear resampling, zeros outside the image) and an intensity change of the
brain only (contrast in [0.9, 1.1], gamma in [0.8, 1.25]; the background stays exactly 0, as
in skull-stripped BraTS). Drawn from the caller's ``torch.Generator``, so runs repeat.
:meth:`ClassicAugment.with_masks` moves tumour label maps with their images (geometry only,
nearest neighbour) for the segmentation task.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F


@dataclass(frozen=True)
class ClassicAugment:
    """Ranges of the classic augmentation; the defaults are described in the module."""

    flip: float = 0.5
    degrees: float = 10.0
    scale: tuple[float, float] = (0.9, 1.1)
    contrast: tuple[float, float] = (0.9, 1.1)
    gamma: tuple[float, float] = (0.8, 1.25)

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Augment float images in [0, 1], (N, C, H, W); all channels of one image alike."""
        return self.with_masks(images, None, generator)[0]

    def with_masks(
        self, images: torch.Tensor, masks: torch.Tensor | None, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Augment images as :meth:`__call__` does (same draws for the same generator) and
        label maps (N, 1, H, W) with the same flip, rotation and scaling, resampled with
        nearest neighbour so labels stay labels (0 outside the image); intensity changes
        touch the images only."""
        n = len(images)

        def uniform(low: float, high: float) -> torch.Tensor:
            return torch.rand(n, generator=generator) * (high - low) + low

        flip = torch.rand(n, generator=generator) < self.flip
        angle = uniform(-self.degrees, self.degrees) * math.pi / 180
        scale = uniform(*self.scale)
        contrast = uniform(*self.contrast)
        gamma = torch.exp(uniform(math.log(self.gamma[0]), math.log(self.gamma[1])))
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        sign = torch.where(flip, -1.0, 1.0)
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0], theta[:, 0, 1] = cos * sign, -sin
        theta[:, 1, 0], theta[:, 1, 1] = sin * sign, cos
        theta = theta.to(images.device, images.dtype)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        warped = F.grid_sample(images, grid, mode="bilinear", align_corners=False)
        brain = warped > 0
        shape = (n, 1, 1, 1)
        adjusted = warped.clamp(0, 1).pow(gamma.view(shape).to(warped)) * contrast.view(shape).to(
            warped
        )
        augmented = torch.where(brain, adjusted.clamp(0, 1), torch.zeros_like(warped))
        if masks is None:
            return augmented, None
        labels = F.grid_sample(masks.to(grid.dtype), grid, mode="nearest", align_corners=False)
        return augmented, labels.to(masks.dtype)
