"""Benchmark ``brainsynth prepare`` against a naive single-process loop, in one run.

Both read the same phantom cohort (20 patients by default, BraTS 2021 layout) and produce
sagittal slices #80-#149 of all four sequences at 128x128:

- ``naive``: one process; per case ``nibabel`` ``get_fdata`` of all four volumes (float64),
  canonical reorientation, percentile normalisation, ``scipy.ndimage.zoom`` (order 1) per
  slice, every slice kept in a Python list and stacked at the end;
- ``prepare``: :func:`brainsynth.data.prepare.prepare` (one case per worker process, one
  volume in memory per worker, per-case arrays joined through a memory map).

Each method runs in its own fresh Python subprocess, so peak memory is that subprocess's
``ru_maxrss`` (and, for ``prepare``, the largest worker's, from ``RUSAGE_CHILDREN``).
Other jobs on the machine slow both alike: compare the ratios.

    .venv/bin/python benchmarks/prepare.py [--patients 20] [--cohort DIR] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SLICES = (80, 150)


def naive(cohort: Path, size: int) -> int:
    """The plain reference: everything in one process, everything kept in memory."""
    import nibabel as nib
    import numpy as np
    from scipy import ndimage

    slices = []
    for case in sorted(p for p in cohort.iterdir() if p.is_dir()):
        volumes = [
            nib.as_closest_canonical(nib.load(case / f"{case.name}_{s}.nii.gz")).get_fdata()
            for s in ("t1", "t1ce", "t2", "flair")
        ]
        windows = [np.percentile(v[v != 0], [0.5, 99.5]) for v in volumes]
        for index in range(*SLICES):
            channels = []
            for volume, (lo, hi) in zip(volumes, windows, strict=True):
                section = volume[index].T[::-1, ::-1]
                scaled = np.clip((section - lo) / (hi - lo), 0, 1) * (section != 0)
                zoom = (size / section.shape[0], size / section.shape[1])
                channels.append(ndimage.zoom(scaled, zoom, order=1))
            slices.append(np.stack(channels))
    images = (np.stack(slices) * 255).round().astype(np.uint8)
    return len(images)


def with_prepare(cohort: Path, size: int, workers: int, out: Path) -> int:
    from brainsynth.data.dataset import load_prepared
    from brainsynth.data.prepare import PrepareConfig, prepare

    config = PrepareConfig(size=size, workers=workers)
    return len(load_prepared(prepare(cohort, out, config, progress=False)).images)


def run_variant(args: argparse.Namespace) -> None:
    """Child mode: run one method, print its time and memory as JSON."""
    start = time.perf_counter()
    if args.variant == "naive":
        images = naive(args.cohort, args.size)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            images = with_prepare(args.cohort, args.size, args.workers, Path(tmp) / "out")
    seconds = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"images": images, "seconds": seconds, "own_mb": own, "worker_mb": children}))


def measure(variant: str, cohort: Path, size: int, workers: int) -> dict:
    cmd = [sys.executable, __file__, "--variant", variant, "--cohort", str(cohort)]
    cmd += ["--size", str(size), "--workers", str(workers)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--cohort", type=Path, default=None, help="reuse (or create) this cohort")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--variant", choices=("naive", "prepare"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        run_variant(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        cohort = args.cohort or Path(tmp) / "cohort"
        if not (cohort / "PHANTOM.json").is_file():
            from brainsynth.phantom import make_cohort

            start = time.perf_counter()
            make_cohort(cohort, args.patients, seed=0, progress=False)
            print(
                f"phantom cohort: {args.patients} patients in {time.perf_counter() - start:.1f} s"
            )
        patients = sum(1 for p in cohort.iterdir() if p.is_dir())
        results = {
            "naive (1 process)": measure("naive", cohort, args.size, 1),
            f"prepare ({args.workers} workers)": measure(
                "prepare", cohort, args.size, args.workers
            ),
        }
    print(f"\n{patients} cases, sagittal #80-#149, 4 sequences, {args.size}x{args.size}")
    print(f"{'method':<22}{'seconds':>9}{'cases/s':>9}{'peak MB main':>14}{'peak MB worker':>16}")
    for name, r in results.items():
        worker = f"{r['worker_mb']:.0f}" if r["worker_mb"] else "-"
        print(
            f"{name:<22}{r['seconds']:>9.1f}{patients / r['seconds']:>9.2f}"
            f"{r['own_mb']:>14.0f}{worker:>16}"
        )
    base, fast = results.values()
    print(
        f"speed-up {base['seconds'] / fast['seconds']:.2f}x; peak memory per process "
        f"{base['own_mb'] / max(fast['own_mb'], fast['worker_mb']):.1f}x lower"
    )


if __name__ == "__main__":
    main()
