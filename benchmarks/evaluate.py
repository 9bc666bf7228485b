"""Benchmark ``brainsynth evaluate``: 1,000 real vs 1,000 synthetic 64x64 images, CPU seconds
per metric family, this tree against a baseline measured in the same run.

Issue 27's target: at most 45 CPU seconds on one thread with the default metrics (0.3.0: 113,
of which the detectability curve about 45 and the domain encoder about 15; README figures).
Each version runs in its own process on the same images (blob phantoms of tests/blobs.py:
real = 50 patients x 20 slices, synthetic = 50 other patients with faint background noise
and blur), one thread, and reports the CPU time (user + system, ``resource.getrusage``) of
the whole evaluation and of each metric family. The baseline is the source of a git commit
(default: 69f780e, main at 0.3.0 + 0.3.1's fixes) extracted with ``git archive`` into a
temporary folder. This tree is also run a second time against the same prepared real folder
("warm"), where the real images' features and domain encoder come from its cache.

    .venv/bin/python benchmarks/evaluate.py [--n 1000] [--size 64] [--baseline 69f780e|none]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# "this tree" is the first evaluation against the prepared real set (nothing cached), "of it
# real side" the part of that spent on the real images alone (real-vs-real controls, domain
# encoder, real features: once per prepared set), "again (cache)" a second model's evaluation.
README_030 = {"total": 113.0, "detectability": 45.0, "domain encoder": 15.0}
"""0.3.0's own figures (README, "Benchmarks"): CPU seconds on one thread, load 3-9."""


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def worker(n: int, size: int, data: Path, warm: bool) -> dict:
    """Evaluate in this process (brainsynth from PYTHONPATH); CPU seconds per family."""
    import numpy as np

    sys.path.insert(0, str(ROOT / "tests"))
    from blobs import blob_dataset
    from brainsynth.data.dataset import load_prepared
    from brainsynth.metrics import evaluate as evaluate_module

    real_root, fake_root = data / "real", data / "fake"
    if not (real_root / "dataset.json").is_file():
        blob_dataset(real_root, patients=n // 20, slices=20, size=size, seed=0)
        blob_dataset(fake_root, patients=n // 20, slices=20, size=size, seed=1)
    real = load_prepared(real_root).image_set("t1")
    fake = load_prepared(fake_root).image_set("t1").float_images()
    rng = np.random.default_rng(0)
    fake = np.clip(fake + np.abs(rng.normal(0, 0.01, fake.shape)), 0, 1).astype(np.float32)
    config = evaluate_module.EvalConfig(threads=1)
    if warm:
        config.prepared = str(real_root)  # a field of this tree's EvalConfig only
    # Per-family timings of both versions in CPU seconds: evaluate times families with
    # time.perf_counter, so it reads the process's CPU clock here.
    evaluate_module.time.perf_counter = time.process_time
    start = cpu_seconds()
    with tempfile.TemporaryDirectory() as out:
        metrics = evaluate_module.evaluate(real, fake, config, out_dir=Path(out), progress=False)
    total = cpu_seconds() - start
    keep = ("c2st_accuracy", "c2st_control_accuracy", "c2st_control_accuracy_ci95", "c2st_gap",
            "detectability", "detectability_control", "c2st_knn_accuracy", "fid", "fid_domain",
            "kid")  # fmt: skip
    return {
        "total": total,
        "families": metrics["timings_s"],
        "real_side": metrics.get("real_side_s") or {},
        "epochs": [metrics.get("c2st_epochs"), metrics.get("c2st_control_epochs")],
        "figures": {k: metrics.get(k) for k in keep},
        "keys": sorted(metrics),
    }


def run_worker(src: Path, n: int, size: int, data: Path, warm: bool = False) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, __file__, "--worker", "--n", str(n), "--size", str(size),
           "--data", str(data)] + (["--warm"] if warm else [])  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"benchmark worker for {src} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def baseline_source(ref: str, into: Path) -> Path:
    """The ``src/`` of commit ``ref``, extracted with ``git archive``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "src"], capture_output=True,
                             check=True).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def table(rows: dict[str, dict], names: list[str]) -> str:
    heads = list(rows)
    lines = [f"  {'family':<14}" + "".join(f"{h:>14}" for h in heads)]
    for name in names:
        cells = "".join(f"{rows[h]['families'].get(name, float('nan')):>14.1f}" for h in heads)
        lines.append(f"  {name:<14}{cells}")
    lines.append(f"  {'total':<14}" + "".join(f"{rows[h]['total']:>14.1f}" for h in heads))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="images per set (default 1000)")
    parser.add_argument("--size", type=int, default=64, help="image side (default 64)")
    parser.add_argument(
        "--baseline", default="69f780e", help="git commit to compare with, or none (%(default)s)"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.n, args.size, args.data, args.warm)))
        return 0
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench_eval_") as tmp:
        tmp = Path(tmp)
        rows: dict[str, dict] = {}
        if args.baseline != "none":
            (tmp / "base").mkdir()
            rows[f"base {args.baseline[:7]}"] = run_worker(
                baseline_source(args.baseline, tmp / "base"), args.n, args.size, tmp / "data"
            )
        rows["this tree"] = run_worker(ROOT / "src", args.n, args.size, tmp / "data", warm=True)
        rows["again (cache)"] = run_worker(ROOT / "src", args.n, args.size, tmp / "data", True)
    real_side = rows["this tree"]["real_side"]  # of the first run: the prepared set's share
    rows["of it real side"] = {"families": real_side, "total": sum(real_side.values())}
    load_after = os.getloadavg()
    names = list(dict.fromkeys(n for r in rows.values() for n in r["families"]))
    before, after = load_before[0], load_after[0]
    print(f"{args.n} real vs {args.n} synthetic {args.size}x{args.size}, one thread; CPU s "
          f"(user + system); load average {before:.1f} before, {after:.1f} after")  # fmt: skip
    print(table(rows, names))
    ref = README_030
    print(f"  0.3.0 reference (README): total {ref['total']:.0f}, detectability curve "
          f"~{ref['detectability']:.0f}, domain encoder ~{ref['domain encoder']:.0f}; "
          "target <= 45")  # fmt: skip
    for label, row in rows.items():
        if "figures" not in row:  # the real side's column: a share of "this tree"
            continue
        print(f"  {label}: " + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                                         for k, v in row["figures"].items()))  # fmt: skip
    base = next((r for label, r in rows.items() if label.startswith("base")), None)
    if base is not None:
        lost = sorted(set(base["keys"]) - set(rows["this tree"]["keys"]))
        print(f"  keys of the baseline's metrics missing now: {lost or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
