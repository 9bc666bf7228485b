"""``brainsynth demo``: the whole pipeline on the phantom within a time budget."""

from __future__ import annotations

import argparse

from brainsynth.config import field_default
from brainsynth.demo.config import DemoConfig

HELP = "run the whole story on a phantom: data, two GANs, samples, metrics, report, VTT"
DESCRIPTION = """\
Builds a small BraTS-like PHANTOM cohort (from nilearn's MNI152 template; not patients),
prepares sagittal slices #80-#149 at 64x64, trains the recommended preset (StyleGAN2, the
most realistic per CPU minute in benchmarks/realism.py) and the paper's DCGAN side by side,
samples both, evaluates them (C2ST with a real-vs-real control, distances, diversity,
memorisation) and writes DIR/report.html comparing them, with the iterations each reached.
It also creates a ready Visual Turing Test study of the recommended model in DIR/vtt.sqlite
with one invited rater and prints the command that serves it.

Budgets are fixed before anything starts: setup and report get a reserve, sampling and
evaluation a capped share per model, and each model an equal share of the training time.
The paper's WGAN is in `brainsynth reproduce`, and here with --with-wgan.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        default=field_default(DemoConfig, "out"),
        metavar="DIR",
        help="output folder: new, empty or an earlier demo's (default: %(default)s)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="write into a folder the demo did not make (replacing only the demo's own entries)",
    )
    parser.add_argument(
        "--minutes",
        type=float,
        default=field_default(DemoConfig, "minutes"),
        metavar="M",
        help="wall-clock budget for the whole demo (default: %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=field_default(DemoConfig, "seed"),
        help="random seed (default: %(default)s)",
    )
    parser.add_argument(
        "--patients",
        type=int,
        default=field_default(DemoConfig, "patients"),
        help="phantom patients (default: %(default)s)",
    )
    parser.add_argument(
        "--with-wgan",
        action="store_true",
        help="also train the paper's WGAN (the three models share the same budget)",
    )
    parser.add_argument(
        "--n-samples",
        type=int,
        default=field_default(DemoConfig, "n_samples"),
        help="synthetic images per GAN to evaluate (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    from brainsynth.demo import run_demo

    if args.minutes <= 0:
        from brainsynth.errors import BrainsynthError

        raise BrainsynthError("--minutes must be positive")
    from brainsynth.demo.config import DEMO_GANS, DEMO_WGAN

    gans = [*DEMO_GANS, DEMO_WGAN] if args.with_wgan else list(DEMO_GANS)
    run_demo(
        DemoConfig(
            out=args.out,
            minutes=args.minutes,
            seed=args.seed,
            patients=args.patients,
            n_samples=args.n_samples,
            gans=gans,
        ),
        overwrite=args.overwrite,
    )
    return 0
