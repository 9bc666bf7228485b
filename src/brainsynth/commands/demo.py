"""``brainsynth demo``: the whole pipeline on the phantom within a time budget."""

from __future__ import annotations

import argparse

from brainsynth.config import field_default
from brainsynth.demo.config import DemoConfig

HELP = "run the whole story on a phantom: data, DCGAN + WGAN, samples, metrics, report, VTT"
DESCRIPTION = """\
Builds a small BraTS-like PHANTOM cohort (from nilearn's MNI152 template; not patients),
prepares sagittal slices #80-#149 at 64x64, trains DCGAN and WGAN within the time budget,
samples both, evaluates them (C2ST with a real-vs-real control, distances, diversity,
memorisation) and writes DIR/report.html. It also creates a ready Visual Turing Test study
in DIR/vtt.sqlite with one invited rater and prints the command that serves it.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        default=field_default(DemoConfig, "out"),
        metavar="DIR",
        help="output folder (default: %(default)s)",
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
        "--width",
        type=int,
        default=field_default(DemoConfig, "width"),
        help="GAN base channel width (default: %(default)s, the paper's)",
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
    run_demo(
        DemoConfig(
            out=args.out,
            minutes=args.minutes,
            seed=args.seed,
            patients=args.patients,
            width=args.width,
            n_samples=args.n_samples,
        )
    )
    return 0
