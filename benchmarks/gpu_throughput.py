"""GPU training throughput: images/s, iterations/s and model FLOPs utilisation (MFU).

For every registered architecture, trained with its default objective, at 64 and 128 px and
the paper's batch of 64, it times brainsynth's own training iteration (``Trainer.step``:
``n_critic`` discriminator updates and one generator update, penalties included) with the
dataset resident on the GPU:

- fp32 vs bf16 autocast, one GPU (and, with ``--compile``, each with ``run.compile``:
  ``torch.compile``, which only pays where launch overhead dominates: small models);
- with several GPUs, N processes under DDP (NCCL, one GPU each), for the global batch kept
  at 64 (``--batch`` is global: each GPU gets 64 / N) and grown to 64 x N (64 per GPU); the
  scaling efficiency is images/s on N GPUs / (N x images/s on one).

Images/s counts real images seen by the discriminator (batch x ``n_critic`` per iteration),
as ``metrics.jsonl`` does. MFU = model FLOPs per iteration x iterations/s / the GPU's peak
FLOP/s for the precision. FLOPs are counted by :class:`torch.utils.flop_counter.FlopCounterMode`
over one iteration (every convolution and matrix product of the forward and backward passes;
elementwise work is not counted, as usual for MFU). Peaks are dense tensor-core figures from
the vendor's data sheets (:data:`PEAK_TFLOPS`), or ``--peak-tflops``. PyTorch runs fp32
convolutions as TF32 on tensor cores by default (``torch.backends.cudnn.allow_tf32``), so
fp32 is measured against the TF32 peak where the GPU has one.

Without CUDA it says so and exits 0; ``--cpu`` runs a tiny CPU reference instead (16 and
32 px, batch 8: it checks that the script works, its figures say nothing about GPUs).

    .venv/bin/python benchmarks/gpu_throughput.py [--archs dcgan ...] [--sizes 64 128]
        [--batch 64] [--steps 50] [--rounds 5] [--gpus N] [--compile] [--peak-tflops T]
        [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from arglists import image_size

from brainsynth.models import family_names

# Dense (no sparsity) peak tensor throughput, TFLOP/s: (bf16, tf32, fp32 without tensor
# cores). None: the GPU has no such tensor-core mode. Longest name first when matching.
PEAK_TFLOPS: dict[str, tuple[float | None, float | None, float]] = {
    "H100 PCIe": (756.5, 378.0, 51.2),
    "H100": (989.4, 494.7, 66.9),  # SXM5
    "H200": (989.4, 494.7, 66.9),
    "A100": (312.0, 156.0, 19.5),
    "L40S": (362.1, 183.0, 91.6),
    "L4": (121.0, 60.0, 30.3),
    "A10": (125.0, 62.5, 31.2),
    "RTX 4090": (165.2, 82.6, 82.6),
    "V100": (None, None, 15.7),
    "T4": (None, None, 8.1),
    "GTX 980": (None, None, 4.6),  # the paper's GPU (Han et al. 2018, §3.2.2)
}


@dataclass
class Measurement:
    arch: str
    size: int
    precision: str
    gpus: int
    batch: int  # global
    iterations_per_s: float
    images_per_s: float
    flops_per_iteration: float
    mfu: float | None  # fraction of the peak; None when the peak is unknown
    scaling_efficiency: float | None = None  # N GPUs vs N x one GPU


def peak_flops(device_name: str, precision: str, override_tflops: float | None) -> float | None:
    """The peak FLOP/s of ``device_name`` for ``precision`` (fp32 = TF32 where it exists)."""
    if override_tflops is not None:
        return override_tflops * 1e12
    for name in sorted(PEAK_TFLOPS, key=len, reverse=True):
        if name.lower() in device_name.lower():
            bf16, tf32, fp32 = PEAK_TFLOPS[name]
            if precision == "bf16":
                peak = bf16
            else:
                peak = tf32 if tf32 is not None and torch.backends.cudnn.allow_tf32 else fp32
            return None if peak is None else peak * 1e12
    return None


def make_trainer(arch: str, size: int, batch: int, variant: str, runtime):
    """brainsynth's trainer for ``arch`` (its default objective) and a device-resident sampler
    over random uint8 images (content does not change the work done). ``variant``: fp32 or
    bf16, with ``+compile`` for ``run.compile``."""
    from brainsynth.config import config_to_dict
    from brainsynth.models import family
    from brainsynth.models.checkpoint import ModelRecord
    from brainsynth.models.shape import ModelShape
    from brainsynth.training.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from brainsynth.training.data import EpochSampler
    from brainsynth.training.launch import complete
    from brainsynth.training.trainers import make_trainer

    precision, _, compiled = variant.partition("+")
    out = str(Path(tempfile.gettempdir()) / "brainsynth-benchmark")  # never written
    config = complete(
        TrainConfig(
            data=DataConfig(prepared=out, sequence="t1"),
            model=ModelConfig(arch=arch),
            run=RunConfig(out=out, batch=batch, precision=precision, compile=bool(compiled),
                          world_size=runtime.world_size),
        )
    )  # fmt: skip
    chosen = family(arch)
    options = config_to_dict(chosen.Config(**config.model.options))
    latent = config.model.latent if chosen.uses_latent else None
    record = ModelRecord(chosen, options, ModelShape(size, 1, latent, 0))
    torch.manual_seed(0)
    trainer = make_trainer(config, record, runtime)
    images = torch.randint(0, 256, (max(4 * batch, 256), 1, size, size), dtype=torch.uint8)
    sampler = EpochSampler(images, batch, 0, runtime)
    return trainer, sampler


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def count_flops(arch: str, size: int, batch: int, runtime) -> float:
    """Model FLOPs of one training iteration (fp32 and bf16 do the same arithmetic)."""
    from torch.utils.flop_counter import FlopCounterMode

    trainer, sampler = make_trainer(arch, size, batch, "fp32", runtime)
    trainer.step(sampler, 0)  # the first step may set things up (lazy buffers, R1 schedule)
    counter = FlopCounterMode(display=False)
    with counter:
        trainer.step(sampler, 1)
    return float(counter.get_total_flops())


def time_iterations(arch, size, batch, precision, runtime, steps, rounds) -> tuple[float, int]:
    """Median iterations/s over ``rounds`` rounds of ``steps`` iterations, after warm-up;
    and the images one iteration consumes."""
    trainer, sampler = make_trainer(arch, size, batch, precision, runtime)
    for i in range(max(3, steps // 5)):  # warm-up: cuDNN autotuning, allocator, lazy init
        trainer.step(sampler, i)
    synchronize(runtime.device)
    rates = []
    for _ in range(rounds):
        began = time.perf_counter()
        for i in range(steps):
            trainer.step(sampler, i)
        synchronize(runtime.device)
        rates.append(steps / (time.perf_counter() - began))
    return statistics.median(rates), batch * trainer.objective.n_critic


def measure(args, runtime, gpus: int, batch: int) -> list[Measurement]:
    """Every (arch, size, precision) on this runtime; results are rank 0's."""
    device_name = (
        torch.cuda.get_device_name(runtime.device) if runtime.device.type == "cuda" else "cpu"
    )
    results = []
    for arch in args.archs:
        for size in args.sizes:
            flops = count_flops(arch, size, batch, runtime) if gpus == 1 else 0.0
            for precision in args.precisions:
                its, images = time_iterations(
                    arch, size, batch, precision, runtime, args.steps, args.rounds
                )
                peak = peak_flops(device_name, precision.split("+")[0], args.peak_tflops)
                mfu = flops * its / (peak * gpus) if peak and flops else None
                results.append(
                    Measurement(arch, size, precision, gpus, batch, its, its * images, flops, mfu)
                )
                if runtime.is_main:
                    print(f"  {arch} {size}px {precision} {gpus} process(es) batch {batch}: "
                          f"{its:.1f} it/s, {its * images:.0f} images/s", flush=True)  # fmt: skip
    return results


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rank_main(rank: int, args, n: int, batch: int, port: int, result_file: str) -> None:
    """One of ``n`` spawned processes: torchrun's environment, then :func:`measure`."""
    from brainsynth.training.distributed import launch

    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(n),
                      LOCAL_WORLD_SIZE=str(n), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))  # fmt: skip
    if args.cpu:
        torch.set_num_threads(1)
    else:
        torch.backends.cudnn.benchmark = True
    with launch() as where:
        results = measure(args, where.runtime("cpu" if args.cpu else "cuda"), n, batch)
    if rank == 0:
        Path(result_file).write_text(json.dumps([asdict(r) for r in results]))


def measure_multi_gpu(args, n: int, batch: int) -> list[Measurement]:
    """:func:`measure` on ``n`` processes (DDP: NCCL on GPUs, gloo for ``--cpu``)."""
    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory() as tmp:
        result_file = str(Path(tmp) / "results.json")
        mp.spawn(_rank_main, args=(args, n, batch, _free_port(), result_file), nprocs=n)
        return [Measurement(**r) for r in json.loads(Path(result_file).read_text())]


def with_scaling(results: list[Measurement], single: list[Measurement]) -> list[Measurement]:
    """Fill in FLOPs, MFU inputs and scaling efficiency from the one-GPU figures."""
    by_key = {(r.arch, r.size, r.precision): r for r in single}
    for r in results:
        one = by_key.get((r.arch, r.size, r.precision))
        if one is None:
            continue
        r.flops_per_iteration = one.flops_per_iteration * r.batch / one.batch
        if one.mfu is not None:
            peak_total = one.flops_per_iteration * one.iterations_per_s / one.mfu * r.gpus
            r.mfu = r.flops_per_iteration * r.iterations_per_s / peak_total
        r.scaling_efficiency = r.images_per_s / (r.gpus * one.images_per_s)
    return results


def table(results: list[Measurement], device_name: str) -> str:
    lines = [
        f"Training throughput on {device_name} (torch {torch.__version__}); images/s = real "
        "images seen by the discriminator.",
        "",
        "| arch | px | precision | GPUs | global batch | it/s | images/s | GFLOP/it | MFU "
        "| scaling |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        mfu = f"{100 * r.mfu:.1f}%" if r.mfu is not None else "n/a"
        scaling = f"{100 * r.scaling_efficiency:.0f}%" if r.scaling_efficiency else "-"
        lines.append(
            f"| {r.arch} | {r.size} | {r.precision} | {r.gpus} | {r.batch} "
            f"| {r.iterations_per_s:.1f} | {r.images_per_s:.0f} "
            f"| {r.flops_per_iteration / 1e9:.2f} | {mfu} | {scaling} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", nargs="+", default=list(family_names()), choices=family_names())
    parser.add_argument("--sizes", nargs="+", type=image_size, default=None, help="default 64 128")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"],
                        choices=["fp32", "bf16"])  # fmt: skip
    parser.add_argument("--batch", type=int, default=None, help="global batch (default 64)")
    parser.add_argument("--steps", type=int, default=None, help="iterations per round")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (median)")
    parser.add_argument(
        "--gpus",
        type=int,
        help="also measure this many GPUs (default: all, when several); with --cpu, that "
        "many CPU processes over gloo (a dry run of the multi-GPU code)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="also time every precision with run.compile (torch.compile; compiling takes "
        "minutes per configuration)",
    )
    parser.add_argument("--peak-tflops", type=float, help="override the GPU's peak TFLOP/s")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    parser.add_argument(
        "--cpu", action="store_true", help="tiny CPU reference run (checks the script only)"
    )
    args = parser.parse_args(argv)
    if args.compile:
        args.precisions += [f"{p}+compile" for p in args.precisions]
    small = args.cpu
    args.sizes = args.sizes or ([16, 32] if small else [64, 128])
    args.batch = args.batch or (8 if small else 64)
    args.steps = args.steps or (3 if small else 50)
    if small:
        args.rounds = min(args.rounds, 2)
    return args


def main(argv: list[str] | None = None) -> int:
    from brainsynth.training.runtime import Runtime

    args = parse_args(argv)
    if not args.cpu and not torch.cuda.is_available():
        print("gpu_throughput: no CUDA GPU on this machine; nothing measured "
              "(--cpu runs a tiny CPU reference of the script)")  # fmt: skip
        return 0
    if args.cpu:
        torch.set_num_threads(1)
        device, device_name, available = torch.device("cpu"), "cpu (reference run)", 1
    else:
        torch.backends.cudnn.benchmark = True
        device = torch.device("cuda", 0)
        device_name, available = torch.cuda.get_device_name(device), torch.cuda.device_count()
    print(f"gpu_throughput: {device_name}, archs {', '.join(args.archs)}, sizes {args.sizes}")
    single = measure(args, Runtime(device), 1, args.batch)
    results = list(single)
    gpus = args.gpus if args.gpus is not None else available
    if gpus > 1:
        if gpus > available and not args.cpu:
            print(f"gpu_throughput: --gpus {gpus} but only {available} visible", file=sys.stderr)
            return 2
        for batch in (args.batch, args.batch * gpus):  # strong, then weak scaling
            results += with_scaling(measure_multi_gpu(args, gpus, batch), single)
    print()
    print(table(results, device_name))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
