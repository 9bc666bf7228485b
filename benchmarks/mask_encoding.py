"""One-hot or scalar mask channels for image + mask pairs (``train --with-mask``)? Measured.

Issue 25 leaves the encoding of the generated mask open: three one-hot channels (labels 1..3)
or one scalar label channel. On a phantom cohort prepared at ``--size`` px this trains the
same generator (``--arch``, default the paper's DCGAN) on ``--sequence`` + mask once per
encoding, for the same CPU budget (``--minutes`` of this process's CPU time, one torch
thread) and seed, samples ``--n`` pairs from each and scores them with
:mod:`brainsynth.metrics.pairs` against the real pairs:

- mask plausibility: tumour-free share, tumour area and centroid, sub-region shares
  (Wasserstein-1 to the real masks, with the real-vs-real floor);
- image-mask consistency: the reference segmenter (trained once per encoding on the same
  real patients, same seed) on the synthetic images, Dice against their masks, beside its
  Dice on held-out real pairs.

Writes OUT/mask-encoding.json and OUT/mask-encoding.md (the table the README quotes).

    .venv/bin/python benchmarks/mask_encoding.py --out bench-mask-encoding --minutes 4
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

ENCODINGS = ("one-hot", "scalar")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--patients", type=int, default=8, help="phantom patients (8)")
    parser.add_argument("--size", type=int, default=32, help="image side (32)")
    parser.add_argument("--sequence", default="flair", help="image set (flair)")
    parser.add_argument("--arch", default="dcgan", help="generator family (dcgan)")
    parser.add_argument("--minutes", type=float, default=4.0, help="CPU minutes per encoding")
    parser.add_argument("--n", type=int, default=512, help="pairs sampled per encoding (512)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def prepared_phantom(out: Path, patients: int, size: int) -> Path:
    from brainsynth.data.prepare import PrepareConfig, prepare
    from brainsynth.phantom import make_cohort

    cohort, prepared = out / "phantom", out / f"prepared{size}"
    if not (cohort / "PHANTOM.json").is_file():
        make_cohort(cohort, patients, seed=0, progress=False)
    if not (prepared / "masks.npy").is_file():
        prepare(cohort, prepared, PrepareConfig(size=size, workers=1), progress=False)
    return prepared


def train(prepared: Path, run: Path, args: argparse.Namespace, encoding: str) -> dict:
    from brainsynth.training import DataConfig, ModelConfig, RunConfig, TrainConfig
    from brainsynth.training.launch import run_training

    if (run / "done.json").is_file():
        return json.loads((run / "done.json").read_text())
    config = TrainConfig(
        data=DataConfig(str(prepared), args.sequence, with_mask=True, mask_encoding=encoding),
        model=ModelConfig(arch=args.arch),
        run=RunConfig(out=str(run), iters=10**6, seed=args.seed, max_seconds=60 * args.minutes,
                      budget_clock="cpu", precision="fp32", device="cpu", progress=False,
                      checkpoint_every=10**6, sample_every=10**6, log_every=100),
    )  # fmt: skip
    result = run_training(config)
    summary = {"iterations": result.iteration, "reason": result.reason}
    (run / "done.json").write_text(json.dumps(summary))
    return summary


def score(prepared: Path, run: Path, args: argparse.Namespace) -> dict:
    from brainsynth.data.dataset import load_prepared
    from brainsynth.metrics.pairs import image_mask_consistency, mask_plausibility
    from brainsynth.sampling import SamplingConfig
    from brainsynth.sampling.images import sample_loaded_pairs
    from brainsynth.sampling.source import load_generator

    generator, record = load_generator(run, "auto", "cpu")
    images, masks, _ = sample_loaded_pairs(
        generator, record, SamplingConfig(n=args.n, seed=args.seed, device="cpu")
    )
    data = load_prepared(prepared)
    real = data.image_set(args.sequence, as_float=False, with_masks=True)
    real = real.subset(data.segmented[real.rows])
    start = time.process_time()
    plausibility = mask_plausibility(real.masks, real.patients, masks, n_boot=200, seed=0)
    consistency = image_mask_consistency(
        real.images, real.masks, real.patients, images, masks, seed=0, n_boot=200,
        progress=False,
    )  # fmt: skip
    return {
        "mask_plausibility": plausibility,
        "image_mask_consistency": consistency,
        "scoring_cpu_s": round(time.process_time() - start, 1),
    }


def w1(plausibility: dict, name: str, digits: int = 1) -> str:
    """A feature's Wasserstein-1 distance to the real masks, with the real-vs-real floor."""
    f = plausibility[name]
    return f"{f['wasserstein']:.{digits}f} ({f['floor_wasserstein']:.{digits}f})"


def table(results: dict) -> str:
    """The README's table: per encoding, the mask features' distances to the real masks
    (with the real-vs-real floor) and the segmenter's Dice on the synthetic pairs."""
    rows = [
        "| encoding | iterations | tumour-free share (real) | area W1 px (floor) | oedema share "
        "W1 (floor) | core share W1 (floor) | enhancing share W1 (floor) | whole-tumour Dice, "
        "synthetic (real) | mean Dice ratio [95% CI] |",
        "|---|---:|---|---|---|---|---|---|---|",
    ]
    for encoding, entry in results.items():
        p, c = entry["mask_plausibility"], entry["image_mask_consistency"]
        free, whole = p["tumor_free_share"], c["regions"]["whole_tumor"]
        low, high = c["ratio_ci95"]
        rows.append(
            f"| {encoding} | {entry['training']['iterations']} | {free['synthetic']:.2f} "
            f"({free['real']:.2f}) | {w1(p, 'area')} | {w1(p, 'share_edema', 3)} | "
            f"{w1(p, 'share_necrotic', 3)} | {w1(p, 'share_enhancing', 3)} | "
            f"{whole['synthetic']:.3f} ({whole['real']:.3f}) | "
            f"{c['ratio']:.2f} [{low:.2f}, {high:.2f}] |"
        )
    return "\n".join(rows)


def main() -> None:
    import torch

    torch.set_num_threads(1)
    args = arguments()
    args.out.mkdir(parents=True, exist_ok=True)
    done = args.out / "mask-encoding.json"
    if done.is_file():  # measured already: write the table again
        print(table(json.loads(done.read_text())["results"]))
        return
    prepared = prepared_phantom(args.out, args.patients, args.size)
    results = {}
    for encoding in ENCODINGS:
        run = args.out / f"run-{encoding}"
        training = train(prepared, run, args, encoding)
        results[encoding] = {"training": training, **score(prepared, run, args)}
        print(f"{encoding}: {training}", flush=True)
    meta = {k: str(v) for k, v in vars(args).items()}
    (args.out / "mask-encoding.json").write_text(
        json.dumps({"arguments": meta, "results": results}, indent=2, default=float)
    )
    text = (
        f"{args.arch} --with-mask on the {args.patients}-patient phantom, {args.sequence} "
        f"{args.size} px, {args.minutes:g} CPU minutes per encoding (one thread), {args.n} "
        "pairs each\n\n" + table(results) + "\n"
    )
    (args.out / "mask-encoding.md").write_text(text)
    print(text)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
