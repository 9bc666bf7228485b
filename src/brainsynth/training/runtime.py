"""Where a training process runs: its device and its place among the processes of a run.

Single-process training uses :meth:`Runtime.single`. A multi-process launcher fills
``rank`` / ``world_size`` (one process per device); only the main process (rank 0) writes
files: config.yaml, checkpoints, metrics, sample grids and done.json.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from brainsynth.models.checkpoint import resolve_device


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def single(cls, device: str = "auto") -> Runtime:
        """One process on ``device`` (auto | cpu | cuda)."""
        return cls(resolve_device(device))
