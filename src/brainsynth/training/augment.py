"""Differentiable augmentation of everything the discriminator sees (DiffAugment).

Zhao et al. 2020 ("Differentiable Augmentation for Data-Efficient GAN Training") apply the
same random, differentiable transforms to real and generated images in every discriminator
call, including the generator's update, so the discriminator cannot memorise a small
training set and the generator still learns the un-augmented distribution (their §3).
Policies, any subset, applied in this order:

- ``translation``: shift by up to 1/8 of the side (their default), filling with black;
- ``cutout``: blacken a random square of half the side (their default; black, not grey);
- ``intensity``: an MR-appropriate replacement for their colour policy: brightness (a gain in
  [0.8, 1.25]) and contrast (scaling around the brain's mean by [0.75, 1.33]) of the brain
  only. The background (pixels at the black level) stays exactly black; there is no colour.

Images are in the training range [-1, 1], so "black" is -1. Every random parameter comes
from this object's own CPU ``torch.Generator``, saved in checkpoints so resume is exact.
Channels after ``image_channels`` are a tumour mask's (an image + mask pair, or the mask a
discriminator is given): translation and cutout move and cut them with the image (cutout
leaves background, -1), the intensity policy leaves them alone.
"""

from __future__ import annotations

from typing import Any

import torch

from brainsynth.training.runtime import Runtime, to_device

BLACK = -1.0
BRAIN_LEVEL = 0.02  # in [0, 1]: pixels above this are brain for the intensity policy


class DiffAugment:
    """Applies ``policy`` to a batch; an empty policy returns the batch itself."""

    def __init__(
        self,
        policy: tuple[str, ...],
        seed: int,
        runtime: Runtime | None = None,
        image_channels: int | None = None,
    ) -> None:
        self.policy = tuple(policy)
        self.image_channels = image_channels  # None: every channel is an image's
        self.rng = torch.Generator().manual_seed(seed)
        # With several ranks, each draws the parameters of the global batch and keeps its rows.
        self.runtime = runtime or Runtime(torch.device("cpu"))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.policy:
            x = getattr(self, name)(x)
        return x

    def _uniform(self, n: int, low: float, high: float, like: torch.Tensor) -> torch.Tensor:
        u = self.runtime.draw(n, lambda m: torch.rand(m, generator=self.rng))
        return to_device(low + (high - low) * u, like.device)

    def _integers(self, n: int, low: int, high: int, device: torch.device) -> torch.Tensor:
        draw = self.runtime.draw(
            n, lambda m: torch.randint(low, high + 1, (m,), generator=self.rng)
        )
        return to_device(draw, device)

    def translation(self, x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
        n, _, h, w = x.shape
        dy, dx = int(h * ratio + 0.5), int(w * ratio + 0.5)
        shift_y = self._integers(n, -dy, dy, x.device)
        shift_x = self._integers(n, -dx, dx, x.device)
        padded = torch.nn.functional.pad(x, (dx, dx, dy, dy), value=BLACK)
        rows = torch.arange(h, device=x.device)[None, :] + dy - shift_y[:, None]  # (n, h)
        cols = torch.arange(w, device=x.device)[None, :] + dx - shift_x[:, None]  # (n, w)
        batch = torch.arange(n, device=x.device)[:, None, None]
        # (n, h, w, c) after advanced indexing of dims 0, 2, 3; back to (n, c, h, w)
        out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]
        return out.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)

    def cutout(self, x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
        n, _, h, w = x.shape
        ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
        top = self._integers(n, 0, h - ch, x.device)
        left = self._integers(n, 0, w - cw, x.device)
        rows = torch.arange(h, device=x.device)[None, :]
        cols = torch.arange(w, device=x.device)[None, :]
        in_rows = (rows >= top[:, None]) & (rows < top[:, None] + ch)  # (n, h)
        in_cols = (cols >= left[:, None]) & (cols < left[:, None] + cw)  # (n, w)
        hole = (in_rows[:, :, None] & in_cols[:, None, :])[:, None]  # (n, 1, h, w)
        return torch.where(hole, torch.full_like(x, BLACK), x)

    def intensity(self, x: torch.Tensor) -> torch.Tensor:
        c = self.image_channels
        if c is not None and c < x.shape[1]:  # the mask channels are not intensities
            return torch.cat([self._intensity(x[:, :c]), x[:, c:]], dim=1)
        return self._intensity(x)

    def _intensity(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        gain = torch.exp(self._uniform(n, -0.223, 0.223, x))[:, None, None, None]
        contrast = torch.exp(self._uniform(n, -0.288, 0.288, x))[:, None, None, None]
        y = (x.float() + 1.0) * 0.5  # [0, 1]: black is exactly 0
        brain = (y.detach() > BRAIN_LEVEL).float()
        count = brain.sum(dim=(1, 2, 3), keepdim=True).clamp_min(1.0)
        mean = (y * brain).sum(dim=(1, 2, 3), keepdim=True) / count
        y = torch.where(brain.bool(), gain * (mean + contrast * (y - mean)), y)
        return (y * 2.0 - 1.0).to(x.dtype)

    def state_dict(self) -> dict[str, Any]:
        return {"policy": list(self.policy), "rng": self.rng.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.set_state(state["rng"])
