"""Adaptive discriminator augmentation (ADA; Karras et al. 2020b, "Training Generative
Adversarial Networks with Limited Data", §3).

A discriminator that overfits a small training set grows confident on the real images. ADA
measures that with the heuristic r_t = E[sign(D_train)] (§3, eq. 1: 0 = no overfitting, 1 =
complete overfitting), accumulated over ``interval`` discriminator steps (4 in the paper),
and moves the augmentation probability p after each such interval by

    p <- clip(p + sign(r_t - target) * images / (adjust_kimg * 1000), 0, 1)

so p can go from 0 to 1 in ``adjust_kimg`` thousand images (500 in the paper) and settles
where r_t is at the ``target`` (0.6 in the paper). p starts at 0.

Every augmentation is applied to each image independently with probability p (the paper's
per-transform probability), to the reals and the fakes of every discriminator call, like
DiffAugment: :class:`AdaptiveAugment` wraps an augmentation callable (the training core's
``DiffAugment``). When the callable names its transforms in ``policy`` and has one method
per transform, each transform is gated separately; otherwise the callable as a whole is.

State (p, the running sums, the gate's own random stream) goes into checkpoints through
:meth:`AdaptiveAugment.state_dict`, so a resumed run adapts exactly as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from brainsynth.errors import BrainsynthError
from brainsynth.training.runtime import Runtime, to_device

Augmentation = Callable[[torch.Tensor], torch.Tensor]


class AdaptiveAugment:
    """Augment with probability p, adjusted towards a target overfitting heuristic."""

    def __init__(
        self,
        augment: Augmentation,
        target: float = 0.6,  # r_t the paper aims for (§3)
        adjust_kimg: float = 500.0,  # thousands of images for p to go from 0 to 1
        interval: int = 4,  # discriminator steps between adjustments
        seed: int = 0,  # seeds the per-image gates
        p: float = 0.0,  # initial probability
        runtime: Runtime | None = None,  # with several ranks: draws for the global batch
    ) -> None:
        if not 0.0 <= target <= 1.0:
            raise BrainsynthError(f"ADA target must be in [0, 1], got {target}")
        if adjust_kimg <= 0 or interval < 1:
            raise BrainsynthError("ADA adjust_kimg must be > 0 and interval >= 1")
        self.augment = augment
        self.target, self.adjust_kimg, self.interval = target, adjust_kimg, interval
        self.p = float(p)
        self.rng = torch.Generator().manual_seed(seed)
        self.runtime = runtime or Runtime(torch.device("cpu"))
        self.sums: torch.Tensor | None = None  # (sign sum, count) since the last adjustment
        self.steps = 0
        self.last_heuristic: float | None = None

    def transforms(self) -> list[Augmentation]:
        """The separately gated transforms: one per policy entry, else the whole callable."""
        policy = getattr(self.augment, "policy", None)
        if policy and all(callable(getattr(self.augment, name, None)) for name in policy):
            return [getattr(self.augment, name) for name in policy]
        return [self.augment]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Each transform applied to each image of ``x`` with probability p.

        With several ranks, the gates of the whole global batch are drawn (the same on every
        rank) and each rank keeps its rows, so which images are augmented, and how many
        random numbers each transform draws, do not depend on the number of ranks.
        """
        for transform in self.transforms():
            everyone = torch.rand(len(x) * self.runtime.world_size, generator=self.rng) < self.p
            if everyone.any():  # the same decision on every rank
                gate = to_device(self.runtime.shard(everyone), x.device)
                x = torch.where(gate[:, None, None, None], transform(x), x)
        return x

    def update(
        self,
        real_logits: torch.Tensor,
        all_reduce: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        """Record one discriminator step's logits on real images; adjust p every
        ``interval`` steps. ``all_reduce`` sums the statistics over processes (DDP), so
        every rank holds the global sums and moves p alike. The sums stay on the logits'
        device; only an adjustment reads them back."""
        logits = real_logits.detach().float()
        stats = torch.stack([torch.sign(logits).sum(), torch.full_like(logits[0], len(logits))])
        if all_reduce is not None:
            stats = all_reduce(stats)
        self.sums = stats if self.sums is None else self.sums.to(stats.device) + stats
        self.steps += 1
        if self.steps % self.interval == 0:
            sign_sum, count = self._read_sums()
            self.sums = None
            if count > 0:
                self.last_heuristic = sign_sum / count
                direction = 1.0 if self.last_heuristic > self.target else -1.0
                step = direction * count / (self.adjust_kimg * 1000.0)
                self.p = min(1.0, max(0.0, self.p + step))

    def _read_sums(self) -> tuple[float, int]:
        """The running (sign sum, image count) since the last adjustment, as numbers."""
        if self.sums is None:
            return 0.0, 0
        sign_sum, count = self.sums.cpu().tolist()
        return float(sign_sum), int(round(count))

    def stats(self) -> dict[str, float]:
        """What to log: the probability and the last heuristic r_t."""
        out = {"ada_p": self.p}
        if self.last_heuristic is not None:
            out["ada_rt"] = self.last_heuristic
        return out

    def state_dict(self) -> dict[str, Any]:
        sign_sum, count = self._read_sums()
        return {
            "p": self.p,
            "sign_sum": sign_sum,
            "count": count,
            "steps": self.steps,
            "last_heuristic": self.last_heuristic,
            "rng": self.rng.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.p = float(state["p"])
        self.sums = torch.tensor([float(state["sign_sum"]), float(state["count"])])
        self.steps, self.last_heuristic = int(state["steps"]), state["last_heuristic"]
        self.rng.set_state(state["rng"])
