"""Where a training process runs: its device and its place among the processes of a run.

Single-process training uses :meth:`Runtime.single`. Under torchrun,
:func:`brainsynth.training.distributed.launch` fills ``rank`` / ``world_size`` (one process
per device); only the main process (rank 0) writes files: config.yaml, checkpoints,
metrics, sample grids and done.json.

``run.batch`` is the global batch. Every rank draws the random numbers of the whole global
batch (data indices, latents, penalty and augmentation parameters) from identically seeded
generators and keeps its own rows (:meth:`Runtime.shard`, :meth:`Runtime.draw`), so what a
run computes does not depend on its number of ranks, and every rank's RNG state is the
global one.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from brainsynth.errors import BrainsynthError
from brainsynth.models.checkpoint import resolve_device


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A host tensor on ``device`` without waiting for the GPU: a plain ``.to("cuda")``
    synchronises the stream, and a non-blocking copy from pageable memory may too, so the
    tensor goes through pinned memory first. On the CPU it is returned as it is."""
    if device.type != "cuda" or tensor.device == device:
        return tensor
    return tensor.pin_memory().to(device, non_blocking=True)


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 matrix products in hardware: a CUDA GPU that
    supports bf16, or a CPU with AVX512-BF16 or AMX tiles. Elsewhere (AVX2-only CPUs,
    e.g. most laptops and many servers before 2020) PyTorch emulates bf16, and autocast
    makes training slower, not faster: the diffusion preset took 12 CPU s per iteration
    in bf16 against 1.1 s in fp32 on an AVX2-only AMD EPYC (``benchmarks/train_throughput.py``
    measures it on yours)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` -> ``bf16`` where :func:`native_bf16`, else ``fp32``; others unchanged."""
    if precision != "auto":
        return precision
    return "bf16" if native_bf16(device) else "fp32"


def describe_device(device: torch.device) -> str:
    """The device a run trained on, for ``done.json`` and model cards: the GPU's name, or
    the CPU's model and the threads torch used."""
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    threads = torch.get_num_threads()
    return f"cpu: {model or platform.machine()}, {threads} thread{'s' if threads != 1 else ''}"


class RankQuietError(BrainsynthError):
    """An error every rank raises alike; the CLI prints it on rank 0 only (``quiet``)."""

    quiet = True


def per_rank_batch(batch: int, world_size: int) -> int:
    """The per-rank share of the global ``batch``; a one-line error when it does not divide."""
    if batch % world_size:
        raise RankQuietError(
            f"--batch {batch} is the global batch and must be divisible by the number of "
            f"processes ({world_size}); try --batch {max(1, batch // world_size) * world_size}"
        )
    return batch // world_size


@dataclass(frozen=True)
class Runtime:
    """The device of one training process and its place among the ranks.

    ``control`` is the process group for small host-side agreements (stop votes, rank 0's
    decisions): gloo even when gradients go through NCCL, so that agreeing never waits for
    the GPU. ``None`` for a single process.
    """

    device: torch.device
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    control: Any = field(default=None, compare=False, repr=False)

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that writes files and shows a progress bar."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @classmethod
    def single(cls, device: str = "auto") -> Runtime:
        """One process on ``device`` (auto | cpu | cuda)."""
        return cls(resolve_device(device))

    def per_rank_batch(self, batch: int) -> int:
        """``batch`` / world size; a one-line error when it does not divide evenly."""
        return per_rank_batch(batch, self.world_size)

    def shard_slice(self, total: int) -> slice:
        """This rank's contiguous part of ``total`` rows split evenly among the ranks."""
        size = per_rank_batch(total, self.world_size)
        return slice(self.rank * size, (self.rank + 1) * size)

    def shard(self, rows: torch.Tensor) -> torch.Tensor:
        """This rank's slice (along dim 0) of a tensor every rank computed identically."""
        return rows if not self.distributed else rows[self.shard_slice(rows.shape[0])]

    def draw(self, local: int, draw: Callable[[int], torch.Tensor]) -> torch.Tensor:
        """This rank's ``local`` rows of ``draw(local * world_size)``, the global batch's draw.

        ``draw(n)`` must draw ``n`` rows from a generator in the same state on every rank,
        e.g. ``lambda n: torch.randn(n, latent, generator=noise)``.
        """
        return self.shard(draw(local * self.world_size))
