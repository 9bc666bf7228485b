"""Run under torchrun by test_distributed.py: the distributed primitives on 2 CPU ranks.

    torchrun --standalone --nproc-per-node 2 ranks_primitives.py OUT_DIR

Each rank writes OUT_DIR/rank-<r>.json with what it saw; the test compares the ranks with
one process doing the same work on the global batch.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import torch
from torch import nn

from brainsynth.errors import BrainsynthError
from brainsynth.training.batch_norm import prepare_batch_norm
from brainsynth.training.data import EpochSampler
from brainsynth.training.distributed import (
    Runtime,
    StopVote,
    data_parallel,
    end_worker,
    launch,
    on_main,
)

GLOBAL_BATCH, IMAGES, SEED = 8, 12, 3


def shards(runtime: Runtime) -> dict:
    """Three global batches of indices and latents, this rank's slices of them."""
    images = torch.arange(IMAGES, dtype=torch.uint8).view(IMAGES, 1, 1, 1)
    sampler = EpochSampler(images, GLOBAL_BATCH, SEED, runtime)
    noise = torch.Generator().manual_seed(SEED + 1)
    indices, latents = [], []
    for _ in range(3):  # crosses an epoch boundary (12 images, batches of 8)
        indices.append(sampler.next_batch().flatten().add(1).mul(127.5).round().tolist())
        latents.append(runtime.draw(4, lambda n: torch.randn(n, 4, generator=noise)).tolist())
    return {"indices": indices, "latents": latents}


def tiny_net() -> nn.Module:
    torch.manual_seed(SEED)
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ELU(), nn.Flatten())


def batch_norm_step(runtime: Runtime, mode: str) -> dict:
    """Two SGD steps of a conv + batch-norm net under DDP; weights, stats and outputs after."""
    net = prepare_batch_norm(tiny_net(), mode)
    model = data_parallel(net.to(memory_format=torch.channels_last), runtime)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    inputs = torch.randn(2, GLOBAL_BATCH, 1, 5, 5, generator=torch.Generator().manual_seed(SEED))
    outputs = []
    for x in inputs:
        out = model(runtime.shard(x))
        loss = (out - 1.0).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        outputs.append(out.detach().tolist())
    state = {k: v.tolist() for k, v in net.state_dict().items()}
    return {"outputs": outputs, "state": state}


def main_error(runtime: Runtime) -> str:
    def fails() -> None:
        raise BrainsynthError("rank 0 found a problem")

    try:
        on_main(runtime, fails)
    except BrainsynthError as exc:
        return f"{type(exc).__name__}: {exc}"
    return "no error"


def stop_vote(runtime: Runtime, out: Path, every: int, signal_at: int) -> dict:
    """Rank 1 gets SIGTERM at iteration ``signal_at``; every rank must stop after the same
    iteration (the next voting one)."""
    vote = StopVote(runtime, every)
    stopped_at, reason = None, None
    with vote.catching_signals():
        for iteration in range(1, 50):
            if runtime.rank == 1 and iteration == signal_at:
                os.kill(os.getpid(), signal.SIGTERM)
            reason = vote.decide(iteration, time_up=False)
            if reason:
                stopped_at = iteration
                if runtime.is_main:
                    with (out / f"saved-every-{every}.txt").open("a") as handle:
                        handle.write(f"{iteration}\n")
                break
    return {"stopped_at": stopped_at, "reason": reason, "received": vote.received}


def main() -> int:
    out = Path(sys.argv[1])
    with launch() as where:
        runtime = where.runtime("cpu")
        report = {
            "rank": runtime.rank,
            "world_size": runtime.world_size,
            "backend": str(torch.distributed.get_backend()),
            "is_main": runtime.is_main,
            "shards": shards(runtime),
            "sync": batch_norm_step(runtime, "sync"),
            "local": batch_norm_step(runtime, "local"),
            "main_error": main_error(runtime),
            "stop": stop_vote(runtime, out, every=1, signal_at=3),
            "stop_every_3": stop_vote(runtime, out, every=3, signal_at=4),
        }
    (out / f"rank-{report['rank']}.json").write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    end_worker(main())  # as brainsynth's CLI ends a torchrun worker
