"""``brainsynth reproduce``: train, sample and evaluate the paper's twelve configurations."""

from __future__ import annotations

import argparse

from brainsynth.config import DEVICES, field_default
from brainsynth.reproduce.config import ReproduceConfig
from brainsynth.training.config import PRECISIONS


def _default(name: str):
    return field_default(ReproduceConfig, name)


HELP = "reproduce the paper's Table 1: 12 configurations, trained, sampled and evaluated"
DESCRIPTION = """\
Trains the twelve configurations of Han et al. (ISBI 2018) Table 1 (T1, T1c, T2, FLAIR and
Concat at 128x128, Concat at 64x64; each with DCGAN and WGAN), samples and evaluates them,
and writes DIR/table1.md, DIR/table1.csv and DIR/table1.html in the paper's order. The C2ST
accuracy takes the place of the physician's accuracy; finished Visual Turing Test studies in
--vtt-db named after a configuration (e.g. "T1 (WGAN, 128x128)") fill the VTT columns.
Re-running skips finished configurations, so an interrupted reproduction resumes.

  brainsynth prepare BRATS2016/ prepared128 --size 128
  brainsynth prepare BRATS2016/ prepared64 --size 64
  brainsynth reproduce --data64 prepared64 --data128 prepared128 --out table1
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data64", required=True, metavar="PREPARED64", help="prepared dataset at 64x64"
    )
    parser.add_argument(
        "--data128", required=True, metavar="PREPARED128", help="prepared dataset at 128x128"
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="output folder: new, empty, or an earlier reproduction's (which is resumed)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="write into a folder reproduce did not make (replacing only its own entries)",
    )
    parser.add_argument(
        "--iters",
        type=int,
        default=_default("iters"),
        help="generator iterations per configuration (default: %(default)s)",
    )
    parser.add_argument(
        "--width",
        type=int,
        default=_default("width"),
        help="GAN base channel width (default: %(default)s, the paper's)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=_default("batch"),
        help="batch size (default: %(default)s, the paper's)",
    )
    parser.add_argument(
        "--seed", type=int, default=_default("seed"), help="random seed (default: %(default)s)"
    )
    parser.add_argument(
        "--n-samples",
        type=int,
        default=_default("n_samples"),
        help="synthetic images per configuration (default: %(default)s)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=_default("precision"),
        help="training precision (default: %(default)s)",
    )
    parser.add_argument(
        "--device",
        choices=DEVICES,
        default=_default("device"),
        help="training device (default: %(default)s)",
    )
    parser.add_argument(
        "--eval-config",
        metavar="YAML",
        default=None,
        help="evaluation settings: a YAML file of EvalConfig fields (brainsynth.metrics."
        "evaluate.EvalConfig); default: those of brainsynth evaluate",
    )
    parser.add_argument(
        "--vtt-db",
        metavar="DB",
        default=None,
        help="Visual Turing Test database whose finished studies fill VTT columns",
    )


def run(args: argparse.Namespace) -> int:
    from brainsynth.config import load_config
    from brainsynth.metrics.evaluate import EvalConfig
    from brainsynth.metrics.spaces import check_feature_sources
    from brainsynth.reproduce import run_reproduce

    evaluation = load_config(EvalConfig, args.eval_config) if args.eval_config else EvalConfig()
    check_feature_sources(evaluation)  # a missing network or bad encoder: before hours of work

    table = run_reproduce(
        ReproduceConfig(
            data64=args.data64,
            data128=args.data128,
            out=args.out,
            iters=args.iters,
            width=args.width,
            batch=args.batch,
            seed=args.seed,
            n_samples=args.n_samples,
            precision=args.precision,
            device=args.device,
            vtt_db=args.vtt_db,
            evaluation=evaluation,
        ),
        overwrite=args.overwrite,
    )
    print(table.read_text())
    print(f"Tables: {table}, {table.with_suffix('.csv')}, {table.with_suffix('.html')}")
    return 0
