"""Which denoiser learns on a CPU budget: issue 26's variants trained for equal CPU minutes.

Every variant (a training preset and its overrides) trains for ``--minutes`` of its own CPU
time (one torch thread, ``--precision``) on the training part of the patient-disjoint
phantom split of benchmarks/realism.py, then each of its sampler settings draws ``--n``
images, timed in CPU seconds (and per 1,000 images), which ``brainsynth evaluate``'s
distances and precision/recall measure against the held-out evaluation part: the Fréchet
distance in the domain encoder's space (one encoder, trained once on the training part and
shared) and in the handcrafted features, KID, precision and recall. At most ``--jobs``
variants run at once. Writes OUT/variants-<minutes>min.md and .json. A longer ``--minutes``
continues each variant's run (exact resume), so 4 then 12 minutes cost 12.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/denoiser_variants.py --out bench-variants \\
        --minutes 4 --jobs 2 --precision fp32

The variants (issue 26, item 5): the 0.3.0 diffusion model (MONAI's time embedding, 8
sinusoidal features at these widths), with 64 noise-level features, and with Min-SNR-5
weighting too (Hang et al. 2023); flow matching with MONAI's embedding and with 64 features,
logit-normal times (SD3), and with Min-SNR-5 too; each sampled at several step counts (and,
for the flow, both solvers), so a sampler's cost and realism are read off one training run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import realism  # noqa: E402  (benchmarks/realism.py: the phantom, its split, the encoder)

from brainsynth.training.config import PRECISIONS  # noqa: E402
from brainsynth.training.presets import merge, preset  # noqa: E402

FEATURES_64 = {"model": {"options": {"time_features": 64}}}
VARIANTS: dict[str, tuple[str, dict[str, Any], str]] = {
    "diffusion-0.3": ("diffusion-0.3", {}, "0.3.0: MONAI's time embedding (8 features)"),
    "diffusion-features": ("diffusion-0.3", FEATURES_64, "64 noise-level features"),
    "diffusion-minsnr": (
        "diffusion-0.3",
        merge(FEATURES_64, {"model": {"options": {"weighting": "min-snr", "snr_gamma": 5.0}}}),
        "64 features + Min-SNR-5 weighting",
    ),
    "flow-monai": (
        "flow",
        {"model": {"options": {"time_features": 0}}},
        "flow matching, MONAI's time embedding (8 features)",
    ),
    "flow": ("flow", FEATURES_64, "flow matching, 64 noise-level features, logit-normal t"),
    "flow-minsnr": (
        "flow",
        merge(FEATURES_64, {"model": {"options": {"weighting": "min-snr", "snr_gamma": 5.0}}}),
        "flow matching, 64 features, logit-normal t, Min-SNR-5 weighting",
    ),
}
SAMPLINGS: dict[str, dict[str, dict[str, Any]]] = {
    "diffusion": {"ddim-25": {"steps": 25}, "ddim-10": {"steps": 10}},
    "flow": {
        "heun-10": {"steps": 10, "options": {"solver": "heun"}},
        "heun-4": {"steps": 4, "options": {"solver": "heun"}},
        "euler-8": {"steps": 8, "options": {"solver": "euler"}},
        "euler-25": {"steps": 25, "options": {"solver": "euler"}},
    },
}


def samplings(name: str) -> dict[str, dict[str, Any]]:
    return SAMPLINGS["flow" if name.startswith("flow") else "diffusion"]


def train_variant(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Train one variant for ``--minutes`` CPU minutes in OUT/NAME/run: reused when trained
    that long before, continued (exact resume) when trained for fewer minutes."""
    from brainsynth.config import config_from_dict, write_text_atomic
    from brainsynth.training import TrainConfig
    from brainsynth.training.launch import resume_training, run_training

    out = Path(args.out) / name
    before = {"minutes": 0.0, "train_cpu_s": 0.0}
    if (out / "trained.json").is_file():
        before = json.loads((out / "trained.json").read_text())
        if before["minutes"] >= args.minutes:
            return before
    cpu0 = time.process_time()
    if before["minutes"]:
        rest = (args.minutes - before["minutes"]) * 60
        result = resume_training(out / "run", max_seconds=rest, progress=False)
    else:
        base, overrides, _ = VARIANTS[name]
        settings = merge(merge(preset(base), overrides), {
            "data": {"prepared": str(realism.split_folders(args)[0]), "sequence": args.sequence},
            "run": {"out": str(out / "run"), "iters": 10**9, "seed": args.seed,
                    "max_seconds": args.minutes * 60, "budget_clock": "cpu", "device": "cpu",
                    "progress": False, "precision": args.precision, "checkpoint_every": 10**9,
                    "sample_every": 10**9, "log_every": 50},
        })  # fmt: skip
        result = run_training(config_from_dict(TrainConfig, settings))
    if result.reason not in ("time", "done"):  # a signal stopped it: not the budget's run
        raise SystemExit(f"{out / 'run'}: stopped by {result.reason} at iteration "
                         f"{result.iteration}; run the benchmark again to continue it")  # fmt: skip
    trained = {
        "minutes": args.minutes,
        "iterations": result.iteration,
        "train_cpu_s": round(before["train_cpu_s"] + time.process_time() - cpu0, 1),
    }
    write_text_atomic(out / "trained.json", json.dumps(trained, indent=2))
    return trained


def run_variant(name: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Train ``name``, then sample and evaluate each of its sampler settings."""
    import torch

    from brainsynth.data.dataset import load_prepared
    from brainsynth.metrics.evaluate import EvalConfig, evaluate
    from brainsynth.sampling import generate_with_info, write_samples

    torch.set_num_threads(1)
    trained = train_variant(name, args)
    real = load_prepared(realism.split_folders(args)[1]).image_set(args.sequence)
    rows = []
    for sampler, settings in samplings(name).items():
        cpu0 = time.process_time()
        fake, info = generate_with_info(Path(args.out) / name / "run", n=args.n, seed=args.seed,
                                        device="cpu", **settings)  # fmt: skip
        cpu_s = time.process_time() - cpu0
        folder = Path(args.out) / name / f"{args.minutes:g}min"
        write_samples(fake, folder / sampler, meta=info, grid=folder / f"grid-{sampler}.png")
        config = EvalConfig(seed=args.seed, metrics=["distances", "prdc"], max_real=args.max_real,
                            features=["handcrafted", "domain"], n_bootstrap=args.bootstrap,
                            domain_encoder=str(realism.encoder_path(args)), threads=1)  # fmt: skip
        metrics = evaluate(real, fake, config, progress=False)
        measured = ("fid_domain", "fid", "kid", "precision", "recall")
        rows.append({
            "variant": name, "sampler": sampler, "note": VARIANTS[name][2], **trained,
            "sample_cpu_s": round(cpu_s, 1),
            "sample_cpu_s_per_1000": round(cpu_s * 1000 / args.n, 1),
            **{key: metrics.get(key) for key in measured},
            **{f"{key}_ci95": metrics.get(f"{key}_ci95") for key in ("fid_domain", "recall")},
            "black_share": float((fake == 0).mean()),
        })  # fmt: skip
    return rows


def markdown(rows: list[dict[str, Any]], header: str) -> str:
    titles = ["variant", "sampler", "iters", "train CPU s", "sample CPU s / 1000", "FD domain",
              "FD", "KID", "precision", "recall", "black px"]  # fmt: skip
    lines = [header, "", "| " + " | ".join(titles) + " |", "|" + "---|" * len(titles)]
    for r in rows:
        cells = [r["variant"], r["sampler"], str(r["iterations"]), f"{r['train_cpu_s']:.0f}",
                 f"{r['sample_cpu_s_per_1000']:.0f}", f"{r['fid_domain']:.2f}", f"{r['fid']:.1f}",
                 f"{r['kid']:.3f}", f"{r['precision']:.2f}", f"{r['recall']:.2f}",
                 f"{r['black_share']:.2f}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench-variants", help="output folder (reused)")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"comma list of {', '.join(VARIANTS)}")  # fmt: skip
    parser.add_argument("--minutes", type=float, default=4.0, help="CPU minutes each (4)")
    parser.add_argument("--jobs", type=int, default=2, help="variants at once (2)")
    parser.add_argument("--precision", default="fp32", choices=PRECISIONS,
                        help="training precision (fp32: bf16 is emulated, slower, on CPUs "
                        "without AVX512-BF16)")  # fmt: skip
    parser.add_argument("--n", type=int, default=300, help="samples per sampler setting (300)")
    parser.add_argument("--max-real", type=int, default=1000, help="real images evaluated")
    parser.add_argument("--bootstrap", type=int, default=50, help="bootstrap resamples (50)")
    parser.add_argument("--patients", type=int, default=28, help="phantom patients (28)")
    parser.add_argument("--eval-patients", type=int, default=12, help="held out (12)")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--sequence", default="concat")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    names = [n for n in args.variants.split(",") if n]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        parser.error(f"argument --variants: unknown {', '.join(unknown)}")
    args.features = "handcrafted,domain"  # what realism.train_shared_encoder reads
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    realism.split_patients(realism.prepare_phantom(args), args)
    realism.train_shared_encoder(args)
    rows: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(run_variant, name, args): name for name in names}
        for future in as_completed(futures):
            for row in future.result():
                rows.append(row)
                print(f"{row['variant']} {row['sampler']}: {row['iterations']} it, FD domain "
                      f"{row['fid_domain']:.2f}, recall {row['recall']:.2f}, "
                      f"{row['sample_cpu_s_per_1000']:.0f} CPU s / 1000", flush=True)  # fmt: skip
    rows.sort(key=lambda r: (names.index(r["variant"]), r["sampler"]))
    header = (f"Denoiser variants: phantom {args.patients} patients ({args.eval_patients} held "
              f"out), {args.size}x{args.size} {args.sequence}, {args.minutes:g} CPU minutes each "
              f"({args.precision}, one thread), {args.n} samples per sampler setting; "
              f"{os.cpu_count()} CPUs, {args.jobs} at once; load {os.getloadavg()}")  # fmt: skip
    (out / f"variants-{args.minutes:g}min.md").write_text(markdown(rows, header))
    (out / f"variants-{args.minutes:g}min.json").write_text(json.dumps(rows, indent=2))
    print(markdown(rows, header))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
