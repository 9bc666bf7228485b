"""Training on several processes: torchrun's environment, shards of the global batch, stops.

``torchrun --nproc-per-node N -m brainsynth train ...`` starts N copies of brainsynth with
``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` in their
environment. :func:`launch` reads them and joins the process group (gloo for CPU tensors,
NCCL for CUDA tensors); :meth:`Launch.runtime` then gives the :class:`Runtime` on the
run's device (with CUDA, each process takes GPU ``LOCAL_RANK``). Without torchrun, or with
one process, nothing is joined and the runtime is a single process's.

The rules every rank follows, so that N processes train exactly like one:

- ``--batch`` is the **global** batch. Every rank draws the same global batch of dataset
  indices, latents and other per-image random numbers from identically seeded generators,
  and keeps its own contiguous slice (:meth:`Runtime.shard`, :meth:`Runtime.draw`): the
  data order and the latents do not depend on the number of ranks, and any rank's
  sampler/RNG state is the global one (a checkpoint written by rank 0 resumes on any
  number of ranks).
- :func:`data_parallel` wraps the networks in DDP, which averages the gradients of the
  per-rank shards: with equal shards, the gradient of the global batch's mean loss.
- Only the main rank (rank 0, nanoGPT's "master process") writes files and shows progress;
  :func:`on_main` runs a step there (creating the run folder, reading a checkpoint) and hands
  its result, or its one-line error, to every rank, so no rank waits forever for a peer
  that has already given up.
- :class:`StopVote`: SIGINT/SIGTERM (or the time budget) on *any* rank stops *every* rank
  after the same iteration, so rank 0 saves once and all ranks leave together.
- :func:`end_worker`: a worker process ends without finalising the interpreter once it has
  left the process group (see there: DDP keeps gloo threads running past
  ``destroy_process_group``).
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from brainsynth.errors import BrainsynthError
from brainsynth.training.runtime import RankQuietError, Runtime

T = TypeVar("T")

LAUNCH_VARIABLES: tuple[str, ...] = ("RANK", "LOCAL_RANK", "WORLD_SIZE")
STOP_REASONS: tuple[str, ...] = ("", "time", "SIGINT", "SIGTERM")  # index = vote, max wins


@dataclass(frozen=True)
class Launch:
    """Where this process sits among torchrun's processes (rank 0 of 1 without torchrun).

    ``control`` is the gloo process group for host-side agreements once joined (see
    :func:`launch`); the device is chosen later (:meth:`runtime`), after rank 0 has read
    the run's configuration.
    """

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    control: Any = field(default=None, compare=False, repr=False)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def runtime(self, device: str) -> Runtime:
        """The runtime of this process on ``device`` (auto | cpu | cuda)."""
        torch_device = select_device(device, self)
        if torch_device.type == "cuda" and self.distributed:
            torch.cuda.set_device(torch_device)
        return Runtime(torch_device, self.rank, self.world_size, self.local_rank, self.control)


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
def launch() -> Iterator[Launch]:
    """This process's place among torchrun's; joins (and finally leaves) the process group.

    Without torchrun, or with one process, nothing is joined. Otherwise the default group
    routes CPU tensors through gloo and, where CUDA exists, CUDA tensors through NCCL, so
    the device can be chosen after joining; a separate gloo group carries agreements. On a
    normal exit every rank waits at a barrier, so no rank's exit makes torchrun stop the
    others while rank 0 is still writing.
    """
    where = read_launch()
    if where.world_size == 1:
        yield where
        return
    backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend, rank=where.rank, world_size=where.world_size)
    control = dist.new_group(backend="gloo")
    joined = Launch(where.rank, where.local_rank, where.world_size, control)
    try:
        yield joined
        dist.barrier(group=control)
    finally:
        gc.collect()  # modules and tensors of finished collectives, while Python is whole
        dist.destroy_process_group()


def end_worker(code: int) -> NoReturn:
    """End this torchrun worker with exit status ``code`` without finalising the interpreter.

    Why: a gloo process group that DistributedDataParallel has used stays alive after
    ``destroy_process_group()`` (DDP holds it from C++; measured: the default group's three
    gloo threads, a TCP loop and two workers, still run after ``destroy_process_group``,
    ``gc.collect()``, ``shutdown()`` and ``abort()``, until the process ends). Python's
    finalisation then runs beside those threads, and a gloo thread that touches the
    interpreter in that moment (releasing a tensor's Python object, taking the GIL) is ended
    by CPython with ``pthread_exit``; its forced unwinding through a ``noexcept`` C++ frame
    calls ``std::terminate``: "terminate called without an active exception", SIGABRT, after
    all the work was done (rarely, under load: 2 of some 20 test runs). Leaving without
    finalisation ends those threads with the process instead.

    Nothing is lost: brainsynth writes every file atomically and closes it before the
    process group is left; stdout and stderr are flushed here. Call it only after
    :func:`launch` has returned (the group destroyed), as the last thing a worker does.
    """
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a closed pipe or stream: nothing left to say
            stream.flush()
    os._exit(code)


def data_parallel(module: nn.Module, runtime: Runtime) -> nn.Module:
    """``module`` under DDP when distributed (gradients averaged over the ranks), else itself.

    DDP first copies rank 0's parameters and buffers to every rank. It does not broadcast
    buffers before each forward pass (see :mod:`brainsynth.training.batch_norm`): batch-norm
    statistics are synchronised or deliberately local, and an in-place broadcast between the
    discriminator's real and fake passes would break their backward pass.
    """
    if not runtime.distributed:
        return module
    # A channels_last weight with one input or output channel has an ambiguous layout, and
    # some kernels return its gradient with the other strides; DDP then copies it into its
    # bucket (a few hundred numbers) and warns once per process. Nothing to act on.
    warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
    device_ids = [runtime.device.index] if runtime.device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=device_ids, forward_sync_buffers=False)


def on_main(runtime: Runtime | Launch, step: Callable[[], T]) -> T:
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


def broadcast_from_main(runtime: Runtime | Launch, value: T) -> T:
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


def sum_over_ranks(runtime: Runtime, values: torch.Tensor) -> torch.Tensor:
    """The element-wise sum of ``values`` over the ranks (on the device; nothing waits)."""
    if not runtime.distributed:
        return values
    total = values.detach().float().clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total


class StopVote:
    """SIGINT/SIGTERM or the time budget on any rank stops every rank at the same iteration.

    Signal handlers only record the signal; :meth:`decide` is called by every rank after
    every iteration and, every ``every`` iterations, all-reduces the votes (max of
    :data:`STOP_REASONS`' indices) over the gloo control group: one tiny host-side
    collective, no GPU synchronisation. A signal outranks the time budget. A single
    process decides alone, after every iteration.
    """

    def __init__(self, runtime: Runtime, every: int = 1) -> None:
        self.runtime = runtime
        self.every = every if runtime.distributed else 1
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

    def decide(self, iteration: int, time_up: bool = False) -> str | None:
        """The agreed reason to stop after ``iteration`` (``time`` | ``SIGINT`` |
        ``SIGTERM``), or ``None``; always ``None`` between voting iterations."""
        if iteration % self.every:
            return None
        vote = STOP_REASONS.index(self.received) if self.received else int(time_up)
        if self.runtime.distributed:
            ballot = torch.tensor([vote], dtype=torch.int32)
            dist.all_reduce(ballot, op=dist.ReduceOp.MAX, group=self.runtime.control)
            vote = int(ballot.item())
        return STOP_REASONS[vote] or None
