"""Training on several processes: torchrun's environment, shards of the global batch, stops.

``torchrun --nproc-per-node N -m brainsynth train ...`` starts N copies of brainsynth with
``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` in their
environment. :func:`launch` reads them, joins the process group (gloo on the CPU, NCCL on
CUDA, where each process takes GPU ``LOCAL_RANK``) and yields a :class:`Runtime`; without
torchrun (or with one process) it yields a single-process runtime and starts nothing.

The rules every rank follows, so that N processes train exactly like one:

- ``--batch`` is the **global** batch. Every rank draws the same global batch of dataset
  indices and the same global latents from identically seeded generators, and keeps its own
  contiguous slice (:meth:`Runtime.shard`): the data order and the latents do not depend on
  the number of ranks, and any rank's sampler/RNG state is the global one (a checkpoint
  written by rank 0 resumes on any number of ranks).
- Only the main rank (rank 0, nanoGPT's "master process") writes files and shows progress;
  :func:`on_main` runs a step there (creating the run folder, reading a checkpoint) and hands
  its result, or its one-line error, to every rank, so no rank waits forever for a peer
  that has already given up.
- :class:`StopVote`: SIGINT/SIGTERM (or the time budget) on *any* rank stops *every* rank
  after the same iteration, so rank 0 saves once and all ranks leave together.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from brainsynth.errors import BrainsynthError

T = TypeVar("T")

LAUNCH_VARIABLES: tuple[str, ...] = ("RANK", "LOCAL_RANK", "WORLD_SIZE")
STOP_REASONS: tuple[str, ...] = ("", "time", "SIGINT", "SIGTERM")  # index = vote, max wins


class RankQuietError(BrainsynthError):
    """An error every rank raises; only the main rank prints it (the CLI checks ``quiet``)."""

    quiet = True


@dataclass(frozen=True)
class Launch:
    """Where this process sits among torchrun's processes (all zeros/ones without torchrun)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1


def read_launch(env: Mapping[str, str] | None = None) -> Launch:
    """torchrun's ``RANK`` / ``LOCAL_RANK`` / ``WORLD_SIZE``; a single process without them."""
    env = os.environ if env is None else env
    if "WORLD_SIZE" not in env or "RANK" not in env:
        return Launch()
    try:
        values = {name: int(env.get(name, "0")) for name in LAUNCH_VARIABLES}
    except ValueError as exc:
        shown = ", ".join(f"{n}={env.get(n)!r}" for n in LAUNCH_VARIABLES)
        raise BrainsynthError(f"malformed torchrun environment ({shown})") from exc
    launch = Launch(values["RANK"], values["LOCAL_RANK"], values["WORLD_SIZE"])
    if launch.world_size < 1 or not 0 <= launch.rank < launch.world_size:
        raise BrainsynthError(
            f"malformed torchrun environment: RANK={launch.rank}, WORLD_SIZE={launch.world_size}"
        )
    return launch


@dataclass(frozen=True)
class Runtime:
    """The device and the place among the ranks of one training process.

    ``control`` is the process group for small host-side agreements (stop votes, rank 0's
    decisions): gloo even when the gradients go through NCCL, so that a vote never waits for
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

    @property
    def backend(self) -> str | None:
        """``gloo`` / ``nccl`` when distributed, else ``None``."""
        return backend_for(self.device) if self.distributed else None

    def per_rank_batch(self, batch: int) -> int:
        """``batch`` / world size; a one-line error when it does not divide evenly."""
        return per_rank_batch(batch, self.world_size)

    def shard_slice(self, total: int) -> slice:
        """This rank's contiguous part of ``total`` rows split evenly among the ranks."""
        size = per_rank_batch(total, self.world_size)
        return slice(self.rank * size, (self.rank + 1) * size)

    def shard(self, rows: torch.Tensor) -> torch.Tensor:
        """This rank's slice (along dim 0) of a tensor every rank computed identically."""
        return rows[self.shard_slice(rows.shape[0])]


def per_rank_batch(batch: int, world_size: int) -> int:
    """The per-rank batch, or a one-line error when ``batch`` is not divisible."""
    if batch % world_size:
        raise RankQuietError(
            f"--batch {batch} is the global batch and must be divisible by the number of "
            f"processes ({world_size}); try --batch {max(1, batch // world_size) * world_size}"
        )
    return batch // world_size


def backend_for(device: torch.device) -> str:
    """NCCL for CUDA devices, gloo for the CPU."""
    return "nccl" if device.type == "cuda" else "gloo"


def select_device(name: str, launch: Launch) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; with CUDA each process takes ``LOCAL_RANK``."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if name != "cuda":
        raise BrainsynthError(f"unknown --device {name!r}: auto, cpu or cuda")
    if not torch.cuda.is_available():
        raise BrainsynthError("--device cuda: no CUDA GPU is available (use --device cpu)")
    count = torch.cuda.device_count()
    if launch.local_rank >= count:
        raise BrainsynthError(
            f"--device cuda: LOCAL_RANK {launch.local_rank} but only {count} GPU(s) are "
            "visible on this machine; start at most that many processes per node"
        )
    return torch.device("cuda", launch.local_rank)


@contextmanager
def launch(device: str = "auto", batch: int | None = None) -> Iterator[Runtime]:
    """The runtime of this process; joins (and finally leaves) torchrun's process group.

    ``batch`` (the global batch) is checked against the world size before any process
    group is joined. On a normal exit every rank waits at a barrier, so no rank's exit can
    make torchrun stop the others while rank 0 is still writing.
    """
    where = read_launch()
    if batch is not None:
        per_rank_batch(batch, where.world_size)
    torch_device = select_device(device, where)
    if where.world_size == 1:
        yield Runtime(torch_device)
        return
    if torch_device.type == "cuda":
        torch.cuda.set_device(torch_device)
    dist.init_process_group(
        backend_for(torch_device),
        rank=where.rank,
        world_size=where.world_size,
        device_id=torch_device if torch_device.type == "cuda" else None,
    )
    control = dist.new_group(backend="gloo") if torch_device.type == "cuda" else dist.group.WORLD
    runtime = Runtime(torch_device, where.rank, where.world_size, where.local_rank, control)
    try:
        yield runtime
        dist.barrier(group=control)
    finally:
        dist.destroy_process_group()


def data_parallel(module: nn.Module, runtime: Runtime) -> nn.Module:
    """``module`` under DDP when distributed (gradients averaged over the ranks), else itself.

    DDP first copies rank 0's parameters and buffers to every rank. It does not broadcast
    buffers before each forward pass (see :mod:`brainsynth.training.batch_norm`): batch-norm
    statistics are synchronised or deliberately local, and an in-place broadcast between the
    discriminator's real and fake passes would break their backward pass.
    """
    if not runtime.distributed:
        return module
    _standard_strides_where_ambiguous(module)
    device_ids = [runtime.device.index] if runtime.device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=device_ids, forward_sync_buffers=False)


def _standard_strides_where_ambiguous(module: nn.Module) -> None:
    """Give parameters whose layout is ambiguous (a channels_last weight with one input
    channel is also "contiguous") the standard strides their gradients come back with, so
    DDP's gradient buckets need no extra copy."""
    for param in module.parameters():
        standard = param.detach().clone(memory_format=torch.contiguous_format)
        if param.is_contiguous() and param.stride() != standard.stride():
            param.data = standard


def on_main(runtime: Runtime, step: Callable[[], T]) -> T:
    """Run ``step`` on rank 0 only; every rank gets its result or re-raises its error.

    The result travels pickled over the control group (use it for small things: a path, a
    config, a checkpoint's state dict). A :class:`BrainsynthError` on rank 0 is raised on
    every rank (printed once, by rank 0); any other exception on rank 0 also stops the
    others with a one-line error instead of leaving them waiting.
    """
    if not runtime.distributed:
        return step()
    box: list[Any] = [None]
    error: BaseException | None = None
    if runtime.is_main:
        try:
            box[0] = ("ok", step())
        except BrainsynthError as exc:
            error, box[0] = exc, ("error", str(exc))
        except BaseException as exc:
            error, box[0] = exc, ("crash", f"rank 0 failed ({type(exc).__name__}: {exc})")
    dist.broadcast_object_list(box, src=0, group=runtime.control)
    if error is not None:
        raise error
    kind, value = box[0]
    if kind == "ok":
        return value
    raise RankQuietError(value) if kind == "error" else BrainsynthError(value)


def broadcast_from_main(runtime: Runtime, value: T) -> T:
    """Rank 0's ``value`` on every rank (pickled over the control group)."""
    if not runtime.distributed:
        return value
    box = [value if runtime.is_main else None]
    dist.broadcast_object_list(box, src=0, group=runtime.control)
    return box[0]


def mean_over_ranks(runtime: Runtime, values: torch.Tensor) -> torch.Tensor:
    """The element-wise mean of ``values`` over the ranks (equal shards: the global mean)."""
    if not runtime.distributed:
        return values
    total = values.detach().float().clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total / runtime.world_size


class StopVote:
    """SIGINT/SIGTERM or the time budget on any rank stops every rank at the same iteration.

    Signal handlers only record the signal; :meth:`decide` is called by every rank after
    every iteration and all-reduces the votes (max of :data:`STOP_REASONS`' indices) over
    the gloo control group: one tiny host-side collective, no GPU synchronisation. A signal
    outranks the time budget.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.received: str | None = None

    @contextmanager
    def catching_signals(self) -> Iterator[StopVote]:
        """While active, SIGINT/SIGTERM set :attr:`received` instead of ending the process."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return

        def handler(signum: int, _frame: Any) -> None:
            self.received = signal.Signals(signum).name
            where = f" (rank {self.runtime.rank})" if self.runtime.distributed else ""
            print(
                f"\nbrainsynth: {self.received} received{where}, saving a checkpoint after "
                "this iteration",
                flush=True,
            )

        previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)

    def decide(self, time_up: bool = False) -> str | None:
        """The agreed reason to stop now (``time`` | ``SIGINT`` | ``SIGTERM``), or ``None``."""
        vote = STOP_REASONS.index(self.received) if self.received else int(time_up)
        if self.runtime.distributed:
            ballot = torch.tensor([vote], dtype=torch.int32)
            dist.all_reduce(ballot, op=dist.ReduceOp.MAX, group=self.runtime.control)
            vote = int(ballot.item())
        return STOP_REASONS[vote] or None
