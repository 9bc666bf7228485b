"""Distributed primitives: torchrun's environment, shards, synchronised batch norm, stops."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import ranks_primitives as prim
import torch
from torch import nn

from brainsynth.errors import BrainsynthError
from brainsynth.training.batch_norm import SyncBatchNorm2d, has_batch_norm, prepare_batch_norm
from brainsynth.training.data import EpochSampler
from brainsynth.training.distributed import (
    Launch,
    StopVote,
    launch,
    on_main,
    read_launch,
    select_device,
)
from brainsynth.training.runtime import Runtime, per_rank_batch
from torchrun_harness import run_torchrun


def test_read_launch_from_torchrun_environment() -> None:
    assert read_launch({}) == Launch(0, 0, 1)
    env = {"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4", "MASTER_ADDR": "node0"}
    assert read_launch(env) == Launch(rank=3, local_rank=1, world_size=4)
    with pytest.raises(BrainsynthError, match="malformed torchrun environment"):
        read_launch({"RANK": "x", "WORLD_SIZE": "2"})
    with pytest.raises(BrainsynthError, match="RANK=2, WORLD_SIZE=2"):
        read_launch({"RANK": "2", "WORLD_SIZE": "2"})


def test_global_batch_must_divide_among_ranks() -> None:
    assert per_rank_batch(64, 4) == 16
    with pytest.raises(BrainsynthError) as caught:
        per_rank_batch(10, 4)
    message = str(caught.value)
    assert "--batch 10" in message and "(4)" in message and "--batch 8" in message
    assert "\n" not in message


def test_shards_tile_the_global_batch() -> None:
    rows = torch.arange(12).view(6, 2)
    parts = [Runtime(torch.device("cpu"), rank=r, world_size=3).shard(rows) for r in range(3)]
    assert torch.equal(torch.cat(parts), rows)
    assert torch.equal(Runtime(torch.device("cpu")).shard(rows), rows)
    # draw(): every rank draws the global batch's numbers and keeps its rows.
    whole = torch.randn(6, 2, generator=torch.Generator().manual_seed(5))
    drawn = []
    for rank in range(3):
        noise = torch.Generator().manual_seed(5)
        runtime = Runtime(torch.device("cpu"), rank=rank, world_size=3)
        drawn.append(runtime.draw(2, lambda n, g=noise: torch.randn(n, 2, generator=g)))
    assert torch.equal(torch.cat(drawn), whole)


def test_single_process_runtime_needs_no_process_group(monkeypatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    with launch() as where:
        runtime = where.runtime("cpu")
        assert runtime.is_main and not runtime.distributed and runtime.control is None
        assert on_main(runtime, lambda: 42) == 42
        assert StopVote(runtime).decide(1, time_up=True) == "time"
        assert StopVote(runtime).decide(1) is None
        assert StopVote(runtime, every=10).every == 1  # one process: no vote to save
    assert not torch.distributed.is_initialized()


def test_cuda_device_errors_are_one_line() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(BrainsynthError, match="no CUDA GPU is available"):
        select_device("cuda", Launch())
    assert select_device("auto", Launch(1, 1, 2)) == torch.device("cpu")


def test_sync_batch_norm_is_batch_norm_in_one_process() -> None:
    torch.manual_seed(0)
    plain = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2, momentum=0.3))
    converted = prepare_batch_norm(prim.tiny_net(), "sync")
    assert isinstance(converted[1], SyncBatchNorm2d) and has_batch_norm(converted)
    assert prepare_batch_norm(plain, "local")[1].__class__ is nn.BatchNorm2d
    synced = prepare_batch_norm(
        nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2, momentum=0.3)), "sync"
    )
    synced.load_state_dict(plain.state_dict())
    assert set(synced.state_dict()) == set(plain.state_dict())
    x = torch.randn(4, 1, 6, 6)
    assert torch.equal(synced(x), plain(x))
    with pytest.raises(BrainsynthError, match="unknown batch_norm 'global'"):
        prepare_batch_norm(plain, "global")


def reference_batch_norm_step() -> dict:
    """One process, plain batch norm, the global batch: what 2 synced ranks must equal."""
    net = prim.tiny_net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    inputs = torch.randn(
        2, prim.GLOBAL_BATCH, 1, 5, 5, generator=torch.Generator().manual_seed(prim.SEED)
    )
    outputs = []
    for x in inputs:
        out = net(x)
        loss = (out - 1.0).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        outputs.append(out.detach())
    return {"outputs": outputs, "state": net.state_dict()}


def max_state_difference(state: dict, reference: dict) -> float:
    return max(
        (torch.tensor(state[k], dtype=torch.float64) - v.double()).abs().max().item()
        for k, v in reference.items()
    )


@pytest.mark.slow
def test_primitives_on_two_gloo_ranks(tmp_path: Path) -> None:
    script = Path(prim.__file__)
    result = run_torchrun([script, tmp_path], nproc=2, timeout=180)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "terminate called" not in output  # the teardown abort end_worker() prevents
    ranks = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in range(2)]
    assert [r["world_size"] for r in ranks] == [2, 2] and "gloo" in ranks[0]["backend"]
    assert [r["is_main"] for r in ranks] == [True, False]

    # Shards: rank 0 + rank 1 = the single-process global batch, batch after batch.
    images = torch.arange(prim.IMAGES, dtype=torch.uint8).view(-1, 1, 1, 1)
    sampler = EpochSampler(images, prim.GLOBAL_BATCH, prim.SEED, torch.device("cpu"))
    assert sampler.local_batch == prim.GLOBAL_BATCH
    noise = torch.Generator().manual_seed(prim.SEED + 1)
    for step in range(3):
        indices = ranks[0]["shards"]["indices"][step] + ranks[1]["shards"]["indices"][step]
        assert indices == sampler.indices().tolist()
        latents = ranks[0]["shards"]["latents"][step] + ranks[1]["shards"]["latents"][step]
        assert torch.equal(
            torch.tensor(latents), torch.randn(prim.GLOBAL_BATCH, 4, generator=noise)
        )

    # Synchronised batch norm under DDP = one process with the global batch (fp32 tolerance);
    # per-rank ("local") statistics are visibly not, which shows the comparison can fail.
    reference = reference_batch_norm_step()
    for rank in ranks:
        assert max_state_difference(rank["sync"]["state"], reference["state"]) < 1e-5
    for step in range(2):
        outputs = torch.tensor(
            ranks[0]["sync"]["outputs"][step] + ranks[1]["sync"]["outputs"][step]
        )
        assert torch.allclose(outputs, reference["outputs"][step], atol=1e-5)
    assert max_state_difference(ranks[0]["local"]["state"], reference["state"]) > 1e-4

    # rank 0's error reaches every rank as the same one-line message.
    errors = [r["main_error"] for r in ranks]
    assert errors == [
        f"{kind}: rank 0 found a problem" for kind in ("BrainsynthError", "RankQuietError")
    ]

    # SIGTERM on rank 1 only: both ranks stop after the same iteration, rank 0 saves once.
    assert [r["stop"]["stopped_at"] for r in ranks] == [3, 3]
    assert [r["stop"]["reason"] for r in ranks] == ["SIGTERM", "SIGTERM"]
    assert [r["stop"]["received"] for r in ranks] == [None, "SIGTERM"]
    assert (tmp_path / "saved-every-1.txt").read_text() == "3\n"
    # Voting every 3 iterations: the signal of iteration 4 stops both after iteration 6.
    assert [r["stop_every_3"]["stopped_at"] for r in ranks] == [6, 6]
    assert (tmp_path / "saved-every-3.txt").read_text() == "6\n"
