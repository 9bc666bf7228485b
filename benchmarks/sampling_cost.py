"""Sampling cost: CPU seconds per 1,000 images of trained generators, on one thread.

Issue 26's target for a non-GAN family: 1,000 64x64 images in at most 60 CPU seconds. The
realism benchmark times sampling too ("sample CPU s"), but inside a run shared with training
jobs, where a CPU second does less work (caches shared, time slices cut short). This
benchmark samples each given run (its default sampler, or ``RUN@steps``) in rounds that
alternate between the runs, so the machine's load hits them all alike, and reports the
median CPU time per 1,000 images, each against the first run given (the reference, e.g. a
GAN) measured in the same rounds.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sampling_cost.py \\
        bench-realism/12min/stylegan2/run bench-realism/12min/flow/run \\
        bench-realism/12min/flow/run@4 bench-realism/12min/diffusion/run --n 100 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def parse_run(text: str) -> tuple[Path, int | None]:
    """``RUN`` or ``RUN@STEPS``: a run folder (or export) and its sampling steps."""
    path, _, steps = text.partition("@")
    if steps and not steps.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: RUN or RUN@STEPS (a whole number)")
    if not Path(path).exists():
        raise argparse.ArgumentTypeError(f"{path}: no such run folder or export")
    return Path(path), int(steps) if steps else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=parse_run,
                        help="RUN or RUN@STEPS; the first is the reference")  # fmt: skip
    parser.add_argument("--n", type=int, default=100, help="images per round (100)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per run (3)")
    parser.add_argument("--batch", type=int, default=32, help="images per pass (32)")
    args = parser.parse_args()
    if not 1 <= args.n <= 10_000 or not 1 <= args.rounds <= 100:
        parser.error("--n must be in 1..10000 and --rounds in 1..100")

    import torch

    from brainsynth.sampling import SamplingConfig, load_generator
    from brainsynth.sampling.images import sample_loaded

    torch.set_num_threads(1)
    loaded = [(run, steps, *load_generator(run, device="cpu")) for run, steps in args.runs]
    times: dict[int, list[float]] = {i: [] for i in range(len(loaded))}
    for round_ in range(args.rounds):
        for i, (_, steps, generator, record) in enumerate(loaded):
            config = SamplingConfig(n=args.n, seed=round_, batch=args.batch, device="cpu",
                                    steps=steps)  # fmt: skip
            cpu0 = time.process_time()
            sample_loaded(generator, record, config)
            times[i].append((time.process_time() - cpu0) * 1000 / args.n)
    reference = statistics.median(times[0])
    print(f"CPU s per 1,000 images, one thread, median of {args.rounds} rounds of {args.n}; "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"{'run':<50} {'family':<10} {'steps':>5} {'CPU s':>8} {'x ref':>7}")
    for i, (run, steps, _, record) in enumerate(loaded):
        median = statistics.median(times[i])
        label = "default" if steps is None else str(steps)
        print(f"{str(run)[-50:]:<50} {record.model.family.name:<10} {label:>5} {median:8.1f} "
              f"{median / reference:7.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
