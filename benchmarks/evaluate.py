"""Benchmark ``brainsynth evaluate``: 1,000 real vs 1,000 synthetic 64x64 images end to end.

Target (issue 4): under 2 minutes on 2 CPU cores. Prints seconds per metric family and, as a
plain reference measured in the same run, the time of a naive NumPy computation (pairwise
pixel distances of the two sets), so numbers from a loaded machine can be read as ratios.

    .venv/bin/python benchmarks/evaluate.py [--n 1000] [--size 64] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def blob_sets(n: int, size: int) -> tuple[object, np.ndarray]:
    """Real: ``n`` blob-phantom slices of n/20 patients; synthetic: other patients, with the
    faint background noise and slight blur typical of GAN samples."""
    import importlib.util

    from brainsynth.data.dataset import load_prepared

    spec = importlib.util.spec_from_file_location("blobs", ROOT / "tests" / "blobs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tmp = Path(tempfile.mkdtemp(prefix="bench_eval_"))
    real_root = module.blob_dataset(tmp / "real", patients=n // 20, slices=20, size=size, seed=0)
    fake_root = module.blob_dataset(tmp / "fake", patients=n // 20, slices=20, size=size, seed=1)
    real = load_prepared(real_root).image_set("t1")
    fake = load_prepared(fake_root).image_set("t1").float_images()
    rng = np.random.default_rng(0)
    fake = np.clip(fake + np.abs(rng.normal(0, 0.01, fake.shape)), 0, 1).astype(np.float32)
    return real, fake


def reference_seconds(real: np.ndarray, fake: np.ndarray) -> float:
    """Plain NumPy: all real-to-synthetic squared pixel distances (one float64 matmul)."""
    a = real.reshape(len(real), -1).astype(np.float64)
    b = fake.reshape(len(fake), -1).astype(np.float64)
    start = time.perf_counter()
    d = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T
    d.min(axis=1)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="images per set (default 1000)")
    parser.add_argument("--size", type=int, default=64, help="image side (default 64)")
    parser.add_argument(
        "--threads", type=int, default=None, help="EvalConfig.threads (default: libraries' own)"
    )
    args = parser.parse_args()
    from brainsynth.metrics.evaluate import EvalConfig, evaluate, format_summary

    real, fake = blob_sets(args.n, args.size)
    ref = reference_seconds(real.float_images(), fake)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        config = EvalConfig(threads=args.threads)
        metrics = evaluate(real, fake, config, out_dir=Path(out), progress=False)
    total = time.perf_counter() - start
    print(f"{len(real)} real vs {len(fake)} synthetic {args.size}x{args.size}, "
          f"threads={args.threads} (torch default {torch.get_num_threads()})")  # fmt: skip
    print(f"reference (NumPy pairwise pixel distances): {ref:.3f} s")
    for name, seconds in metrics["timings_s"].items():
        print(f"  {name:<13} {seconds:7.1f} s  ({seconds / ref:7.0f} x reference)")
    print(f"  {'total':<13} {total:7.1f} s  ({total / ref:7.0f} x reference); target < 120 s")
    print(
        f"  C2ST epochs: main {metrics['c2st_epochs']}, controls {metrics['c2st_control_epochs']}"
    )
    print()
    print(format_summary(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
