"""``brainsynth augment-eval``: does synthetic data help a tumour classifier?"""

from __future__ import annotations

import argparse

HELP = "measure whether synthetic images help a tumour / no-tumour slice classifier"
DESCRIPTION = """\
The paper's purpose, measured: train one small CNN (ResNet-18 layout at width 8) to tell
slices with tumour from slices without, in four arms that differ only in their training data:

  real                      the real training slices
  real+classic              + flips, rotations (+-10 deg), scaling (0.9-1.1), intensity
  real+synthetic            + conditional GAN samples (--synthetic-ratio per real slice)
  real+classic+synthetic    both

Patients are split into train / validation / test (15% / 25% of patients for validation /
test); test patients are never seen by any generator. Each arm is trained on several
fractions of the training patients (--fractions), and for each fraction the conditional
generator is trained on exactly those patients (--arch, --gen-iters or a YAML --gen-config),
or taken from --runs FRACTION=RUN[,RUN per repeat] (refused when the run's recorded training
patients are not a subset of that fraction's patients; --plan-only writes splits.json first
so that such runs can be trained on the right patients). Everything repeats --repeats times.

Labels: a slice is 'with-tumor' when slices.csv's tumor_pixels > --tumor-threshold
(default 0: any annotated tumour pixel, as Han et al. 2019). Every arm takes the same number
of optimiser steps (--classifier-epochs passes over the real slices) and keeps the epoch with
the best validation AUC; sensitivity and specificity are at the validation's Youden threshold.

Writes OUT/augment.json (sensitivity, specificity, auc, each with _ci95, per arm and
fraction, and each arm's paired difference with real-only), OUT/augment.md, OUT/augment-auc.png
(AUC against the fraction), OUT/splits.json, OUT/predictions.npz and OUT/config.yaml.
Intervals: 95% bootstrap over test patients (and repeats).

  brainsynth augment-eval --data prepared --out augment --fractions 0.25,1 --repeats 2
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from brainsynth.augment_eval.config import ARMS, INPUT_SEQUENCES

    parser.add_argument("--data", required=True, help="prepared dataset folder")
    parser.add_argument("--out", required=True, help="output folder (new or empty)")
    parser.add_argument(
        "--fractions", default="0.1,0.25,1", help="fractions of training patients (0.1,0.25,1)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="seeds per fraction (default 3)")
    parser.add_argument(
        "--arms", default=",".join(ARMS), help=f"arms to run (default all: {','.join(ARMS)})"
    )
    parser.add_argument(
        "--sequence",
        choices=INPUT_SEQUENCES,
        default="flair",
        help="what the classifier and generator see (default flair; joint = all four)",
    )
    parser.add_argument(
        "--tumor-threshold",
        type=float,
        default=None,
        help="a slice has a tumour when tumor_pixels exceeds this (default 0)",
    )
    parser.add_argument(
        "--synthetic-ratio",
        type=float,
        default=1.0,
        help="synthetic slices per real training slice (default 1)",
    )
    parser.add_argument(
        "--classifier-epochs", type=int, default=10, help="passes over the real slices (10)"
    )
    parser.add_argument("--classifier-width", type=int, default=8, help="CNN base width (8)")
    parser.add_argument(
        "--arch", help="generator architecture (default: --gen-config's, else dcgan)"
    )
    parser.add_argument(
        "--gen-iters",
        type=int,
        help="generator iterations per fraction and repeat (default: --gen-config's, else 2000)",
    )
    parser.add_argument(
        "--gen-config",
        metavar="FILE.yaml",
        help="a TrainConfig YAML (as `train --config`) for the generators; data, patients, "
        "condition, seed and folder are set per fraction",
    )
    parser.add_argument(
        "--runs",
        action="append",
        metavar="FRACTION=RUN[,RUN...]",
        help="use trained conditional runs for a fraction (one, or one per repeat); repeatable",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of splits and training (0)")
    parser.add_argument(
        "--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000)"
    )
    parser.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto", help="(default auto)"
    )
    parser.add_argument(
        "--plan-only", action="store_true", help="write OUT/splits.json and stop (for --runs)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from brainsynth.augment_eval.config import (
        AugmentEvalConfig,
        ClassifierConfig,
        parse_fractions,
        parse_runs,
    )
    from brainsynth.augment_eval.experiment import (
        ExperimentResult,
        load_cohort,
        plan,
        run_experiment,
    )
    from brainsynth.augment_eval.report import summarise, write_report
    from brainsynth.augment_sources import default_source
    from brainsynth.config import save_config
    from brainsynth.data.labels import DEFAULT_TUMOR_THRESHOLD
    from brainsynth.errors import BrainsynthError

    config = AugmentEvalConfig(
        data=str(Path(args.data).resolve()),
        out=str(Path(args.out).resolve()),
        sequence=args.sequence,
        tumor_threshold=(
            DEFAULT_TUMOR_THRESHOLD if args.tumor_threshold is None else args.tumor_threshold
        ),
        fractions=parse_fractions(args.fractions),
        repeats=args.repeats,
        arms=tuple(a.strip() for a in args.arms.split(",") if a.strip()),
        synthetic_ratio=args.synthetic_ratio,
        seed=args.seed,
        n_boot=args.bootstrap,
        arch=args.arch,
        gen_iters=args.gen_iters,
        gen_config=str(Path(args.gen_config).resolve()) if args.gen_config else None,
        runs=parse_runs(args.runs),
        device=args.device,
        classifier=ClassifierConfig(width=args.classifier_width, epochs=args.classifier_epochs),
    )
    out = Path(config.out)
    if (out / "augment.json").exists():
        raise BrainsynthError(f"{out} already holds an augment-eval result: choose a new --out")
    out.mkdir(parents=True, exist_ok=True)
    save_config(config, out / "config.yaml")
    start = time.perf_counter()
    if args.plan_only:
        cohort = load_cohort(config.data, config.sequence, config.tumor_threshold)
        split, fractions = plan(config, cohort)
        ExperimentResult(split, fractions, cohort.labels[:0], cohort.patients[:0]).save(out)
        print(f"brainsynth: wrote {out / 'splits.json'}")
        return 0
    result = run_experiment(config, default_source(config), out, progress=not args.no_progress)
    result.save(out)
    summary = summarise(result, config)
    summary["wall_seconds"] = round(time.perf_counter() - start, 1)
    write_report(summary, out)
    print((out / "augment.md").read_text())
    print(f"brainsynth: wrote {out / 'augment.json'} ({summary['wall_seconds']:.0f} s)")
    return 0
