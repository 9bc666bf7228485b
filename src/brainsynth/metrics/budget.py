"""A wall-clock budget for one evaluation: families that would not fit are skipped, and said.

The demo reserves a fixed time per model for sampling and evaluation; on a busy laptop the
same work takes several times longer. Before each family runs, :class:`Budget` estimates its
time from its declared cost (:attr:`~brainsynth.metrics.metric.Metric.cost_s`, CPU seconds
for 1,000 vs 1,000 64x64 images on one quiet thread, plus the real images' side when the
prepared set's cache does not hold it), scaled by the images' count and pixels (the caller
scales) and by how much slower than that reference this machine has been so far (the
``slowdown`` measured during training, then the families' own times); a family whose
estimate exceeds what is left is skipped with a note instead of running over. The first
family always runs: an evaluation measures something.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Budget:
    """``seconds`` of wall time (None: no limit) for images of ``scale`` x the reference work."""

    seconds: float | None
    scale: float = 1.0
    slowdown: float = 1.0
    start: float = field(default_factory=time.monotonic)
    estimated: float = 0.0  # reference seconds of the families run so far
    ran: int = 0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def estimate(self, cost_s: float) -> float:
        """Wall seconds a family of reference cost ``cost_s`` should take here."""
        observed = self.elapsed / self.estimated if self.estimated > 0 else 0.0
        return cost_s * self.scale * max(self.slowdown, observed)

    def refuse(self, name: str, cost_s: float) -> str | None:
        """Why the family ``name`` cannot run within the budget, or None when it can."""
        if self.seconds is None or self.ran == 0:
            return None
        left = self.seconds - self.elapsed
        need = self.estimate(cost_s)
        if need <= left:
            return None
        return (f"skipped: {name} needs about {need:.2g} s on this machine and {max(left, 0):.2g} "
                f"s of the evaluation's {self.seconds:.0f} s budget were left")  # fmt: skip

    def record(self, cost_s: float) -> None:
        """A family of reference cost ``cost_s`` has run."""
        self.estimated += cost_s * self.scale
        self.ran += 1


def work_scale(n_real: int, n_fake: int, size: int) -> float:
    """The work of ``n_real`` vs ``n_fake`` images of ``size`` px against the reference
    1,000 vs 1,000 at 64 px (linear in images and pixels)."""
    return (n_real + n_fake) / 2000 * (size / 64) ** 2


def model_work_scale(n_real: int, n_fake: int, size: int) -> float:
    """A model's own evaluation work (the real side apart) against the reference: its tests
    train on balanced classes, so it grows with the smaller set."""
    smaller = min(n_real, n_fake)
    return work_scale(smaller, smaller, size)


REFERENCE_STEP_S = 0.040
"""Wall seconds of one training step of the C2ST's CNN (64 images of 64x64, one thread) on
the quiet machine the families' ``cost_s`` were measured on (benchmarks/evaluate.py)."""


def measure_slowdown(steps: int = 8) -> float:
    """How many times slower than the reference machine this one runs the C2ST's CNN now
    (its speed and its load together): a few timed training steps, about half a second."""
    import torch

    from brainsynth.metrics.c2st import SmallCNN

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        generator = torch.Generator().manual_seed(0)
        model = SmallCNN(16).to(memory_format=torch.channels_last)
        optim = torch.optim.Adam(model.parameters(), 1e-3)
        x = torch.rand(64, 1, 64, 64, generator=generator)
        y = (torch.rand(64, generator=generator) > 0.5).float()
        loss = torch.nn.BCEWithLogitsLoss()
        times = []
        for step in range(steps + 2):
            start = time.perf_counter()
            optim.zero_grad()
            loss(model(x), y).backward()
            optim.step()
            if step >= 2:  # the first steps allocate
                times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(before)
    return max(1.0, sorted(times)[len(times) // 2] / REFERENCE_STEP_S)
