"""``brainsynth augment-eval``: does synthetic data help a tumour classifier or segmenter?"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from brainsynth.models import DEFAULT_FAMILY, DEFAULT_MASK_FAMILY, family_names

if TYPE_CHECKING:
    from brainsynth.augment_eval.config import AugmentEvalConfig

HELP = "measure whether synthetic images help a tumour classifier (or segmenter: --task)"
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

--task segmentation: a 2D U-Net (MONAI BasicUNet at width --classifier-width, Dice +
cross-entropy loss, --classifier-epochs passes over the real slices, the epoch with the best
validation Dice kept) learns the tumour label maps of masks.npy (prepare writes them); input
--sequence, default joint (all four). Arms: real, real+classic (geometry moves image and
mask alike, nearest neighbour for the mask; intensity on the image only), real+synthetic
(image + mask pairs from a generator trained with --with-mask), real+synthetic-from-masks
(images a generator trained with --condition mask draws for the training set's own masks,
each tumour randomly scaled 0.8-1.25x, rotated +-30 deg, moved up to 1/16 of the side and
mirrored half the time, inside its brain), synthetic (synthetic pairs only, tested on real);
default: every arm. Both generators are trained per training set and repeat on exactly its
patients (OUT/generators/<set>-pairs, <set>-from-masks; --gen-iters, --gen-config; --arch
names their family, default the paper's DCGAN for pairs and the SPADE-DCGAN for images from
masks; a family that cannot serve an asked arm is refused first). Training sizes:
--fractions of the training patients and/or --train-patients COUNTS (e.g. 2,4: the
low-data regime; keyed "2p", "4p" beside fractions "0.5", "1"). Scores per test patient:
Dice of its stacked slices and mean 2D HD95 in pixels, per region (whole tumour {1,2,3},
tumour core {1,3}, enhancing {3}); both empty = Dice 1, HD95 0; one empty = Dice 0, HD95 =
image diagonal. Writes augment.json (arms[ARM][SIZE]: dice, dice_ci95, hd95, hd95_ci95,
regions, vs_real, vs_real_classic), augment.md, augment-dice.png, splits.json,
predictions.npz.

  brainsynth augment-eval --task segmentation --data prepared --out seg --train-patients 2,4 \\
      --fractions 1 --repeats 2
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from brainsynth.augment_eval.config import ARMS, INPUT_SEQUENCES, TASKS

    parser.add_argument("--data", required=True, help="prepared dataset folder")
    parser.add_argument("--out", required=True, help="output folder (new or empty)")
    parser.add_argument(
        "--task",
        choices=TASKS,
        default="classification",
        help="tumour / no-tumour per slice (default), or tumour label maps (segmentation)",
    )
    parser.add_argument(
        "--fractions",
        help="fractions of training patients (default 0.1,0.25,1; none when only "
        "--train-patients is given)",
    )
    parser.add_argument(
        "--train-patients",
        metavar="COUNTS",
        help="training-set sizes in patients, e.g. 2,4 (--task segmentation; beside --fractions)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="seeds per fraction (default 3)")
    parser.add_argument(
        "--arms",
        help=f"arms to run (default all: {','.join(ARMS)}; --task segmentation: see above)",
    )
    parser.add_argument(
        "--sequence",
        choices=INPUT_SEQUENCES,
        help="what the model and generator see (default flair; --task segmentation: joint "
        "= all four)",
    )
    parser.add_argument(
        "--tumor-threshold",
        type=float,
        default=None,
        help="a slice has a tumour when tumor_pixels exceeds this (default 0; classification)",
    )
    parser.add_argument(
        "--synthetic-ratio",
        type=float,
        default=1.0,
        help="synthetic slices per real training slice (default 1)",
    )
    parser.add_argument(
        "--classifier-epochs",
        type=int,
        default=10,
        help="passes over the real slices (10); the segmenter's under --task segmentation",
    )
    parser.add_argument(
        "--classifier-width", type=int, default=8, help="CNN (or U-Net) base width (8)"
    )
    parser.add_argument(
        "--arch",
        choices=family_names(),
        help=f"generator family (default: --gen-config's, else {DEFAULT_FAMILY}; --task "
        f"segmentation's images from masks: {DEFAULT_MASK_FAMILY})",
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

    from brainsynth.augment_eval.config import (
        ARMS,
        SEGMENTATION_ARMS,
        AugmentEvalConfig,
        ClassifierConfig,
        parse_fractions,
        parse_patient_counts,
        parse_runs,
    )
    from brainsynth.config import save_config
    from brainsynth.data.labels import DEFAULT_TUMOR_THRESHOLD
    from brainsynth.errors import BrainsynthError
    from brainsynth.metrics.seg_config import SegmenterConfig

    segmentation = args.task == "segmentation"
    if segmentation and args.tumor_threshold is not None:
        raise BrainsynthError("--tumor-threshold: classification only (segmentation learns masks)")
    counts = parse_patient_counts(args.train_patients) if args.train_patients else ()
    if args.fractions is not None:
        fractions = parse_fractions(args.fractions)
    else:
        fractions = () if counts else parse_fractions("0.1,0.25,1")
    if args.arms is not None:
        arms = tuple(a.strip() for a in args.arms.split(",") if a.strip())
    else:
        arms = SEGMENTATION_ARMS if segmentation else ARMS  # every arm of the task
    config = AugmentEvalConfig(
        data=str(Path(args.data).resolve()),
        out=str(Path(args.out).resolve()),
        sequence=args.sequence or ("joint" if segmentation else "flair"),
        tumor_threshold=(
            DEFAULT_TUMOR_THRESHOLD if args.tumor_threshold is None else args.tumor_threshold
        ),
        fractions=fractions,
        repeats=args.repeats,
        arms=arms,
        synthetic_ratio=args.synthetic_ratio,
        seed=args.seed,
        n_boot=args.bootstrap,
        arch=args.arch,
        gen_iters=args.gen_iters,
        gen_config=str(Path(args.gen_config).resolve()) if args.gen_config else None,
        runs=parse_runs(args.runs),
        device=args.device,
        classifier=ClassifierConfig(width=args.classifier_width, epochs=args.classifier_epochs),
        task=args.task,
        train_patients=counts,
        segmenter=SegmenterConfig(width=args.classifier_width, epochs=args.classifier_epochs),
    )
    out = Path(config.out)
    if (out / "augment.json").exists():
        raise BrainsynthError(f"{out} already holds an augment-eval result: choose a new --out")
    if segmentation:
        return run_segmentation_task(config, out, args.plan_only, not args.no_progress)
    from brainsynth.augment_eval.experiment import (
        ExperimentResult,
        load_cohort,
        plan,
        run_experiment,
    )
    from brainsynth.augment_eval.report import summarise, write_report
    from brainsynth.augment_sources import default_source

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


def run_segmentation_task(
    config: AugmentEvalConfig, out: Path, plan_only: bool, progress: bool
) -> int:
    """``--task segmentation``: plan or run, then write the report."""
    import json
    import time

    from brainsynth.augment_eval.seg_report import (
        summarise_segmentation,
        write_segmentation_report,
    )
    from brainsynth.augment_eval.segmentation import (
        check_sources,
        load_segmentation_cohort,
        plan_sizes,
        run_segmentation,
    )
    from brainsynth.augment_sources import random_tumour_edits, segmentation_sources
    from brainsynth.config import save_config

    pair_source, mask_source = segmentation_sources(config)  # families checked here
    check_sources(config, pair_source, mask_source)
    start = time.perf_counter()
    cohort = load_segmentation_cohort(config.data, config.sequence)
    split, chosen = plan_sizes(config, cohort.patients)  # refuses sizes it cannot draw
    if plan_only:
        out.mkdir(parents=True, exist_ok=True)
        save_config(config, out / "config.yaml")
        splits = {**split.as_dict(), "sizes": [{k: list(p) for k, p in c.items()} for c in chosen]}
        (out / "splits.json").write_text(json.dumps(splits, indent=2))
        print(f"brainsynth: wrote {out / 'splits.json'}")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    save_config(config, out / "config.yaml")
    result = run_segmentation(
        config, out, pair_source, mask_source, mask_edit=random_tumour_edits, progress=progress,
        cohort=cohort,
    )  # fmt: skip
    result.save(out)
    summary = summarise_segmentation(result, config)
    summary["wall_seconds"] = round(time.perf_counter() - start, 1)
    write_segmentation_report(summary, out)
    print((out / "augment.md").read_text())
    print(f"brainsynth: wrote {out / 'augment.json'} ({summary['wall_seconds']:.0f} s)")
    return 0
