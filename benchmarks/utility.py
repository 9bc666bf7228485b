"""Which realism measure predicts usefulness? Realism and segmentation benefit across models.

Issue 25, item 8. Image + tumour-mask pair generators (``train --with-mask``) of several
families and CPU-minute budgets all train on the same few patients (the low-data regime,
``--train-patients 4``); each then samples ``--n`` pairs, which are measured twice:

- realism: ``brainsynth evaluate``'s families (detectability, Fréchet distances in the
  ``--features`` spaces, precision/recall/coverage, and on pairs mask plausibility and
  image-mask consistency) against the held-out real images;
- usefulness: the segmentation benefit. The reference segmenter of ``augment-eval --task
  segmentation`` (MONAI ``BasicUNet``, ``DiceCELoss``, best validation epoch kept) trains on
  the real slices of the few patients plus ``--synthetic-ratio`` synthetic pairs per real
  slice, and on the real slices alone with the same optimiser steps, initial weights and
  order of real slices; benefit = its patient-level Dice (mean of the BraTS regions whole
  tumour, tumour core, enhancing; per patient the Dice of the stacked slices) on the
  held-out real test patients minus the real-only Dice, averaged over ``--seg-repeats``
  segmenter seeds. The synthetic-only Dice is recorded beside it.

Then, per realism measure, Spearman's rho between the measure (oriented so that larger is
more realistic) and the benefit across models, with a permutation p-value and 95% bootstrap
intervals over the test patients and over patients and models
(:mod:`brainsynth.metrics.rank_agreement`).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/utility.py --out bench-utility \\
        --candidates paper-dcgan,stylegan2,flow --budgets 1,3 --n 400

Data (benchmarks/realism.py's helpers): a phantom cohort (``--patients``) or ``--data
PREPARED``, split patient-disjointly into a training part and an evaluation part
(``--eval-patients``: the realism reference and the segmentation test patients). From the
training part, ``--train-patients`` (seeded) train every generator (``data.patients``) and
every segmenter; the rest are the segmenters' validation patients; the shared domain encoder
trains on the whole training part. A longer budget continues the shorter one's run (exact
resume). Everything runs in this one process, one step at a time, and is reused when the
benchmark is run again: trained runs, samples, evaluations and segmenters (each with the
settings it was made with). Writes OUT/utility.md and OUT/utility.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import arglists  # noqa: E402
import realism  # noqa: E402  (benchmarks/realism.py: the phantom, its split, training)

# (metrics.json key, title, +1 when larger is more realistic, -1 when smaller is)
MEASURES: list[tuple[str, str, int]] = [
    ("detectability", "detectability", -1),
    ("fid", "FD handcrafted", -1),
    ("fid_domain", "FD domain", -1),
    ("fid_inception", "FD Inception", -1),
    ("precision", "precision", 1),
    ("recall", "recall", 1),
    ("coverage", "coverage", 1),
    ("mask_area_wasserstein", "mask area W1", -1),
    ("image_mask_consistency_ratio", "image-mask consistency", 1),
]
EVAL_METRICS = "detectability,distances,prdc,mask_plausibility"
PAIR_FAMILIES = ("dcgan", "stylegan2", "ddpm", "flow")  # train --with-mask


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def cached(path: Path, settings: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON at ``path`` when it was made with ``settings``, else None."""
    if path.is_file():
        found = json.loads(path.read_text())
        if found.get("settings") == settings:
            return found
    return None


def write_json(path: Path, value: dict[str, Any]) -> None:
    from brainsynth.config import write_text_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(value, indent=2, default=str) + "\n")


def choose_patients(args: argparse.Namespace) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The ``--train-patients`` of the training part (seeded) and the rest (validation)."""
    import numpy as np

    from brainsynth.data.dataset import load_prepared

    train_part = load_prepared(realism.split_folders(args)[0])
    patients = np.unique(train_part.patients[train_part.segmented.astype(bool)])
    if len(patients) < args.train_patients + 1:
        raise SystemExit(
            f"the training part has {len(patients)} segmented patients: --train-patients "
            f"{args.train_patients} leaves none to validate"
        )
    order = np.random.default_rng(args.seed).permutation(patients)
    few = tuple(sorted(str(p) for p in order[: args.train_patients]))
    return few, tuple(sorted(str(p) for p in order[args.train_patients :]))


def sample_pairs(name: str, budget: float, args: argparse.Namespace) -> tuple[Any, Any, dict]:
    """``--n`` pairs of the candidate's run (OUT/<b>min/<name>/samples, reused), timed."""
    from brainsynth.imageio import load_npy_images
    from brainsynth.sampling import SamplingConfig, write_samples
    from brainsynth.sampling.images import sample_loaded_pairs
    from brainsynth.sampling.source import load_generator

    folder = Path(args.out) / f"{budget:g}min" / name
    trains = realism.SAME_TRAINING.get(name, name)
    settings = {"n": args.n, "seed": args.seed, **realism.SAMPLING.get(name, {})}
    done = cached(folder / "sampled.json", settings)
    if done is not None and (folder / "samples" / "masks.npy").is_file():
        import numpy as np

        images = load_npy_images(folder / "samples" / "samples.npy")
        return images, np.load(folder / "samples" / "masks.npy"), done
    cpu0, wall0 = time.process_time(), time.perf_counter()
    run = Path(args.out) / f"{budget:g}min" / trains / "run"
    config = SamplingConfig(device="cpu", **settings)
    generator, record = load_generator(run, config.weights, config.device)
    images, masks, info = sample_loaded_pairs(generator, record, config)
    sampled = {"settings": settings, "sample_cpu_s": round(time.process_time() - cpu0, 1),
               "sample_wall_s": round(time.perf_counter() - wall0, 1)}  # fmt: skip
    write_samples(images, folder / "samples", grid=folder / "grid.png", meta=info, masks=masks)
    write_json(folder / "sampled.json", sampled)
    return images, masks, sampled


def realism_of(name: str, budget: float, images, masks, args: argparse.Namespace) -> dict:
    """``brainsynth evaluate``'s measures of the pairs against the evaluation part."""
    from brainsynth.data.dataset import load_prepared
    from brainsynth.metrics.evaluate import EvalConfig, evaluate
    from brainsynth.metrics.pair_realism import PairData, real_pairs

    folder = Path(args.out) / f"{budget:g}min" / name
    settings = {k: getattr(args, k) for k in ("features", "metrics", "detectability_sizes",
                                              "bootstrap", "max_real", "n", "seed")}  # fmt: skip
    done = cached(folder / "realism.json", settings)
    if done is not None:
        return done
    prepared = load_prepared(realism.split_folders(args)[1])
    real = prepared.image_set(args.sequence)
    with_masks = real_pairs(prepared, args.sequence)
    pairs = PairData(with_masks.images, with_masks.masks, with_masks.patients, images, masks)
    config = EvalConfig(
        metrics=args.metrics.split(","), seed=args.seed, max_real=args.max_real, threads=1,
        n_bootstrap=args.bootstrap, features=args.features.split(","),
        domain_encoder=str(realism.encoder_path(args)), prepared=str(prepared.root),
        feature_cache=str(Path(args.out) / "feature-cache"),
        detectability_sizes=[int(s) for s in args.detectability_sizes.split(",")],
    )  # fmt: skip
    cpu0 = time.process_time()
    metrics = evaluate(real, images, config, out_dir=folder / "eval", progress=False, pairs=pairs)
    write_json(folder / "eval" / "metrics.json", metrics)
    found = {"settings": settings, "eval_cpu_s": round(time.process_time() - cpu0, 1),
             **{key: metrics.get(key) for key, _, _ in MEASURES},
             **{f"{key}_ci95": metrics.get(f"{key}_ci95") for key, _, _ in MEASURES}}  # fmt: skip
    write_json(folder / "realism.json", found)
    return found


class Segmentation:
    """The segmenters' data: real training slices of the few patients, validation and test."""

    def __init__(self, args: argparse.Namespace, few: tuple[str, ...], val: tuple[str, ...]):
        import torch

        from brainsynth.augment_eval.segmentation import load_segmentation_cohort
        from brainsynth.metrics.seg_config import SegmenterConfig
        from brainsynth.metrics.segmenter import ValidationSet

        train_folder, eval_folder = realism.split_folders(args)
        train = load_segmentation_cohort(str(train_folder), args.sequence)
        test = load_segmentation_cohort(str(eval_folder), args.sequence)
        self.args, self.few = args, few
        self.real_images = train.images[train.select(few)]
        self.real_masks = train.masks[train.select(few)]
        index = train.select(val)
        self.validation = ValidationSet(torch.from_numpy(train.images[index]),
                                        train.masks[index], train.patients[index])  # fmt: skip
        self.test_images, self.test_masks = torch.from_numpy(test.images), test.masks
        self.test_patients = test.patients.astype(str)
        self.config = SegmenterConfig(width=args.seg_width, epochs=args.seg_epochs)
        self.n_synthetic = round(args.synthetic_ratio * len(self.real_images))
        self.settings = {"few": list(few), "val": list(val), "epochs": args.seg_epochs,
                         "width": args.seg_width, "n_synthetic": self.n_synthetic,
                         "sequence": args.sequence, "seed": args.seed}  # fmt: skip

    def seed(self, repeat: int) -> int:
        return self.args.seed + 7919 * repeat

    def dice(self, images, masks, n_real: int, repeat: int) -> dict[str, Any]:
        """Per test patient Dice (mean of the three BraTS regions) of one segmenter, trained on
        ``images``/``masks`` (the ``n_real`` real slices first) with repeat's seed."""
        import math

        import numpy as np
        import torch

        from brainsynth.metrics.seg_scores import dice_from_counts, overlap_counts
        from brainsynth.metrics.segmenter import segment, train_segmenter

        cpu0 = time.process_time()
        model, training = train_segmenter(
            torch.from_numpy(images), torch.from_numpy(masks.astype(np.int64)), n_real=n_real,
            validation=self.validation, config=self.config, seed=self.seed(repeat),
            steps_per_epoch=math.ceil(len(self.real_images) / self.config.batch),
        )  # fmt: skip
        # score_patients' Dice of each patient's stacked slices, without its HD95 (5 CPU s)
        counts = overlap_counts(segment(model, self.test_images), self.test_masks)
        names = np.unique(self.test_patients)
        dice = np.stack([dice_from_counts(counts[self.test_patients == name].sum(axis=0))
                         for name in names])  # fmt: skip
        return {"patients": names.tolist(), "dice": dice.mean(axis=1).tolist(),
                "dice_regions": dice.mean(axis=0).tolist(), "steps": training.steps,
                "best_epoch": training.best_epoch,
                "cpu_s": round(time.process_time() - cpu0, 1)}  # fmt: skip

    def real(self, repeat: int) -> dict[str, Any]:
        """The real-only segmenter of ``repeat`` (OUT/segmentation/real-r<repeat>.json)."""
        path = Path(self.args.out) / "segmentation" / f"real-r{repeat}.json"
        done = cached(path, self.settings)
        if done is None:
            done = {
                "settings": self.settings,
                **self.dice(self.real_images, self.real_masks, len(self.real_images), repeat),
            }
            write_json(path, done)  # fmt: skip
        return done

    def with_synthetic(self, folder: Path, images, masks, repeat: int) -> dict[str, Any]:
        """The real+synthetic and synthetic-only segmenters of one model and repeat."""
        import numpy as np

        path = folder / f"segmentation-r{repeat}.json"
        done = cached(path, self.settings)
        if done is not None:
            return done
        n = self.n_synthetic
        fake = np.clip(np.rint(images[:n] * 255.0), 0, 255).astype(np.uint8)
        mixed = (np.concatenate([self.real_images, fake]),
                 np.concatenate([self.real_masks, masks[:n]]))  # fmt: skip
        done = {"settings": self.settings,
                "real+synthetic": self.dice(*mixed, len(self.real_images), repeat),
                "synthetic": self.dice(fake, masks[:n], 0, repeat)}  # fmt: skip
        write_json(path, done)
        return done


def benefit_of(row: dict[str, Any], reals: list[dict[str, Any]], n_boot: int, seed: int):
    """Per test patient benefit averaged over repeats, its mean and patient-bootstrap CI."""
    import numpy as np

    from brainsynth.metrics.stats import bootstrap_mean_ci

    def mean_over_repeats(arm: str) -> Any:
        return np.mean([r[arm]["dice"] for r in row["segmentation"]], axis=0)

    real = np.mean([r["dice"] for r in reals], axis=0)
    per_patient = mean_over_repeats("real+synthetic") - real
    low, high = bootstrap_mean_ci(per_patient, n_boot=n_boot, seed=seed)
    return per_patient, {
        "dice_real": float(real.mean()), "dice_real_synthetic": float(per_patient.mean() +
                                                                      real.mean()),
        "dice_synthetic": float(mean_over_repeats("synthetic").mean()),
        "benefit": float(per_patient.mean()), "benefit_ci95": [low, high],
    }  # fmt: skip


def agreement(rows: list[dict[str, Any]], per_patient: Any, args: argparse.Namespace) -> dict:
    """Per realism measure: Spearman's rho (oriented measure vs benefit) with its intervals;
    a measure some model lacks (not computed, or not finite) gets a reason instead."""
    import math

    import numpy as np

    from brainsynth.metrics.rank_agreement import rank_agreement

    out: dict[str, Any] = {}
    for key, _, sign in MEASURES:
        values = [row["realism"].get(key) for row in rows]
        if any(v is None or not math.isfinite(v) for v in values):
            out[key] = {"note": "not measured (--features, --metrics)"}
            continue
        oriented = sign * np.asarray(values, dtype=np.float64)
        if np.ptp(oriented) == 0:  # e.g. detectability saturated at 1: nothing to rank
            out[key] = {"note": f"{values[0]:g} for every model: no ranking"}
            continue
        out[key] = {"orientation": "larger is more realistic" if sign > 0 else "negated",
                    **rank_agreement(oriented, per_patient, n_boot=args.rank_bootstrap,
                                     seed=args.seed)}  # fmt: skip
    return out


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}"


def interval(pair: Any, digits: int = 2) -> str:
    return "-" if pair is None else f"[{pair[0]:.{digits}f}, {pair[1]:.{digits}f}]"


def markdown(rows: list[dict[str, Any]], agreed: dict[str, Any], header: str) -> str:
    """The table per model, then the rank agreement per measure."""
    digits = {"fid": 1, "fid_inception": 1}
    measured = [(k, t) for k, t, _ in MEASURES if any(r["realism"].get(k) is not None
                                                       for r in rows)]  # fmt: skip
    titles = ["model", "family", "budget", "iters", "train CPU s", *[t for _, t in measured],
              "Dice real", "Dice real+syn", "benefit [95% CI]", "Dice syn only"]  # fmt: skip
    lines = [header, "", "| " + " | ".join(titles) + " |", "|" + "---|" * len(titles)]
    for r in rows:
        u = r["utility"]
        cells = [r["candidate"], r["family"], f"{r['budget_min']:g} min", str(r["iterations"]),
                 f"{r['train_cpu_s']:.0f}",
                 *[fmt(r["realism"].get(k), digits.get(k, 2)) for k, _ in measured],
                 fmt(u["dice_real"], 3), fmt(u["dice_real_synthetic"], 3),
                 f"{u['benefit']:+.3f} {interval(u['benefit_ci95'], 3)}",
                 fmt(u["dice_synthetic"], 3)]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Rank agreement with the segmentation benefit (Spearman's rho; measure "
              "oriented so that larger is more realistic: a positive rho means the more "
              "realistic models helped more):", "",
              "| measure | rho | p (permutation) | 95% CI, test patients | 95% CI, patients "
              "and models |", "|---|---|---|---|---|"]  # fmt: skip
    for key, title, _ in MEASURES:
        a = agreed[key]
        if "rho" not in a:
            lines.append(f"| {title} | {a['note']} | | | |")
            continue
        cells = [title, f"{a['rho']:+.2f}", fmt(a["p_value"], 3),
                 interval(a["rho_ci95_patients"]), interval(a["rho_ci95"])]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    some = next((a for a in agreed.values() if "rho" in a), None)
    if some is not None:
        lines += ["", f"{some['n_models']} models: rho moves in steps of "
                  f"{some['rho_step']:.3f}; {some['n_patients']} test patients; "
                  f"{some['n_boot']} bootstrap resamples."]  # fmt: skip
    return "\n".join(lines) + "\n"


def run_model(name: str, budget: float, args, few, data: Segmentation) -> dict[str, Any]:
    """Train (or reuse), sample, evaluate and segment with one candidate at one budget."""
    from brainsynth.config import load_config
    from brainsynth.training import TrainConfig

    trains = realism.SAME_TRAINING.get(name, name)
    settings = {"data": {"with_mask": True, "patients": list(few)}}
    log(f"{budget:g} min {name}: training (or reusing) {trains}")
    trained = realism.train_candidate(trains, budget, args, wait=False, settings=settings)
    run = Path(args.out) / f"{budget:g}min" / trains / "run"
    config = load_config(TrainConfig, run / "config.yaml")
    if tuple(config.data.patients) != few or not config.data.with_mask:
        raise SystemExit(f"{run}: trained on other patients or without masks; use a new --out")
    log(f"{budget:g} min {name}: {trained['iterations']} it; sampling {args.n} pairs")
    images, masks, sampled = sample_pairs(name, budget, args)
    log(f"{budget:g} min {name}: evaluating ({sampled['sample_cpu_s']} CPU s sampling)")
    found = realism_of(name, budget, images, masks, args)
    folder = Path(args.out) / f"{budget:g}min" / name
    segmentation = []
    for repeat in range(args.seg_repeats):
        log(f"{budget:g} min {name}: segmenters, repeat {repeat} ({found['eval_cpu_s']} CPU s "
            "evaluation)")  # fmt: skip
        segmentation.append(data.with_synthetic(folder, images, masks, repeat))
    return {"candidate": name, "family": config.model.arch, "budget_min": budget,
            "iterations": trained["iterations"], "train_cpu_s": trained["train_cpu_s"],
            "sample_cpu_s": sampled["sample_cpu_s"], "realism": found,
            "segmentation": segmentation}  # fmt: skip


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace):
    from brainsynth.errors import BrainsynthError
    from brainsynth.metrics.evaluate import FEATURE_SPACES, metric_names

    pairs = [n for n, (base, overrides, _) in realism.CANDIDATES.items()
             if realism.merge(realism.preset(base), overrides)["model"]["arch"]
             in PAIR_FAMILIES]  # fmt: skip
    names = arglists.checked(parser, "--candidates", arglists.names, args.candidates, pairs)
    budgets = arglists.checked(parser, "--budgets", arglists.minutes, args.budgets)
    arglists.checked(parser, "--features", arglists.names, args.features, FEATURE_SPACES)
    arglists.checked(parser, "--metrics", arglists.names, args.metrics, metric_names())
    arglists.checked(parser, "--detectability-sizes", arglists.counts, args.detectability_sizes, 4)
    positive = ("n", "train_patients", "seg_epochs", "seg_repeats", "seg_width", "bootstrap",
                "rank_bootstrap")  # fmt: skip
    for flag in positive:
        if getattr(args, flag) < 1:
            parser.error(f"argument --{flag.replace('_', '-')}: must be at least 1")
    if not args.synthetic_ratio > 0:
        parser.error("argument --synthetic-ratio: must be > 0")
    if "inception" in args.features:
        from brainsynth.metrics.spaces import require_inception

        try:
            require_inception()
        except BrainsynthError as exc:
            parser.error(str(exc))
    if len(names) * len(budgets) < 3:
        parser.error("--candidates x --budgets: at least 3 models to rank")
    return names, budgets


def parse_arguments() -> tuple[argparse.Namespace, list[str], list[float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--out", default="bench-utility", help="output folder (reused: resumes)")
    add("--data", default=None, help="a prepared folder (with masks.npy) instead of the phantom")
    add("--patients", type=int, default=18, help="phantom patients (18)")
    add(
        "--eval-patients",
        type=int,
        default=10,
        help="held-out patients: the realism reference and the segmentation test set (10)",
    )
    add(
        "--train-patients",
        type=int,
        default=4,
        help="patients every generator and segmenter trains on (4; the rest of the training "
        "part validate the segmenters)",
    )
    add(
        "--candidates",
        default="paper-dcgan,stylegan2,flow",
        help="realism.py candidates of a pair family (paper-dcgan,stylegan2,flow)",
    )
    add("--budgets", default="1,3", help="CPU (or --clock wall) minutes per candidate (1,3)")
    add("--clock", choices=("cpu", "wall"), default="cpu", help="what a budget counts (cpu)")
    add("--n", type=int, default=400, help="pairs sampled per model (400)")
    add(
        "--features",
        default="handcrafted,domain",
        help="FD spaces (handcrafted,domain; add inception: ~0.35 CPU s per image)",
    )
    add(
        "--metrics",
        default=EVAL_METRICS,
        help=f"evaluate's families ({EVAL_METRICS}; add image_mask_consistency: a "
        "reference segmenter, ~40 CPU s, trained once and cached beside the prepared set)",
    )
    add(
        "--detectability-sizes",
        default="4,8,16,32,128",
        help="training sizes of the detectability curve (4,8,16,32,128)",
    )
    add("--max-real", type=int, default=1000, help="real images evaluated at most (1000)")
    add(
        "--bootstrap", type=int, default=200, help="bootstrap resamples per evaluate interval (200)"
    )
    add("--rank-bootstrap", type=int, default=1000,
        help="bootstrap resamples of the benefits and of each rho (1000; cheap)")  # fmt: skip
    add("--seg-epochs", type=int, default=10, help="segmenter epochs over the real slices (10)")
    add("--seg-width", type=int, default=8, help="segmenter U-Net width (8)")
    add("--seg-repeats", type=int, default=2, help="segmenter seeds averaged per model (2)")
    add(
        "--synthetic-ratio",
        type=float,
        default=1.0,
        help="synthetic pairs per real training slice (1.0; at most --n in all)",
    )
    add("--size", type=int, default=64, help="image size of the phantom (64)")
    add("--sequence", default="flair", help="the segmenter's and generators' sequence (flair)")
    add("--seed", type=int, default=0)
    add(
        "--precision",
        default="auto",
        choices=realism.PRECISIONS,
        help="generator training precision (auto)",
    )
    args = parser.parse_args()
    names, budgets = check_arguments(parser, args)
    args.device = "cpu"
    return args, names, budgets


def main() -> int:
    import numpy as np
    import torch

    args, names, budgets = parse_arguments()
    torch.set_num_threads(1)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.data:
        from brainsynth.data.dataset import load_prepared

        args.size = load_prepared(args.data).size
    log("data: phantom / prepared folder, patient split, domain encoder")
    realism.split_patients(Path(args.data) if args.data else realism.prepare_phantom(args), args)
    realism.train_shared_encoder(args)
    few, val = choose_patients(args)
    data = Segmentation(args, few, val)
    if data.n_synthetic > args.n:
        raise SystemExit(
            f"--synthetic-ratio {args.synthetic_ratio:g} asks for {data.n_synthetic} "
            f"synthetic pairs per model; --n is {args.n}"
        )
    log(f"generators and segmenters train on {', '.join(few)} ({len(data.real_images)} "
        f"slices); {len(val)} validation patients; {len(np.unique(data.test_patients))} test "
        "patients")  # fmt: skip
    reals = []
    for repeat in range(args.seg_repeats):
        reals.append(data.real(repeat))
        log(f"real-only segmenter {repeat}: Dice {np.mean(reals[-1]['dice']):.3f}")
    rows, per_patient = [], []
    for budget in budgets:  # shortest first: a longer budget continues its run
        for name in names:
            row = run_model(name, budget, args, few, data)
            patient_benefit, row["utility"] = benefit_of(row, reals, args.rank_bootstrap, args.seed)
            rows.append(row)
            per_patient.append(patient_benefit)
            log(f"{budget:g} min {name}: benefit {row['utility']['benefit']:+.3f}, "
                f"detectability {fmt(row['realism'].get('detectability'))}")  # fmt: skip
    agreed = agreement(rows, np.asarray(per_patient), args)
    cpu_s, wall_s = time.process_time() - cpu0, time.perf_counter() - wall0
    source = args.data or f"phantom {args.patients} patients"
    header = (f"Realism against usefulness: {source} ({args.eval_patients} held out), "
              f"{args.size}x{args.size} {args.sequence}, pair generators (train --with-mask) "
              f"on {args.train_patients} patients, {args.clock.upper()} budgets "
              f"{args.budgets} min, {args.n} pairs each; segmenters of {args.seg_epochs} "
              f"epochs, {data.n_synthetic} synthetic pairs beside {len(data.real_images)} real "
              f"slices, {args.seg_repeats} seeds; this call {cpu_s / 60:.1f} CPU min, "
              f"{wall_s / 60:.1f} min wall; {os.cpu_count()} CPUs, load "
              f"{os.getloadavg()}.")  # fmt: skip
    text = markdown(rows, agreed, header)
    (out / "utility.md").write_text(text)
    result = {"args": vars(args), "train_patients": few, "validation_patients": val,
              "real_only": reals, "rows": rows, "agreement": agreed,
              "per_patient_benefit": np.asarray(per_patient).tolist(),
              "cpu_s": round(cpu_s, 1), "wall_s": round(wall_s, 1)}  # fmt: skip
    write_json(out / "utility.json", result)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
