"""Realism per compute: train candidate generators for equal budgets, sample, evaluate, compare.

Issue 12. On a phantom cohort (default 28 patients, 64x64, Concat) or any prepared folder
(``--data``, e.g. BraTS) every candidate trains for the same budget (default 4, 12 and 36
minutes), samples 1,000 images (its EMA generator when it keeps one; a denoising model
with the candidate's sampling steps), timed (``sample_cpu_s``, ``sample_wall_s``: the "sample"
columns, the cost of sampling them once), and is measured by
``brainsynth evaluate`` twice: on the raw samples and with the background floor (pixels below
``--floor`` set to 0), so a model that wins only through its background shows it. Writes
OUT/realism.md, OUT/realism.json and one side-by-side figure of sample grids per budget
(OUT/grids-<budget>min.png, real images first).

Issue 17: the patients are split once, patient-disjointly, into a training part (the
generators train on it) and an evaluation part (``--eval-patients``, the real images every
evaluation compares with), so no model is evaluated against images it trained on. Every
evaluation adds the detectability curve, Fréchet distances in the ``--features`` spaces and
the spectrum/intensity diagnostics; one domain encoder, trained once on the training part
(OUT/domain_encoder-<size>.pt), serves every candidate, and the real images' Inception
features are computed once (OUT/feature-cache). realism.md ends with a ranking of the models
by detectability, by FD/recall and by the full-data C2ST (benchmarks/detectability.py).

    .venv/bin/python benchmarks/realism.py --out bench-realism --budgets 4,12 --jobs 3
    .venv/bin/python benchmarks/realism.py --candidates paper-dcgan,stylegan2 --budgets 120 \\
        --size 128 --clock wall --device cuda          # a GPU user, hours and 128 px

A longer budget continues the candidate's run of the next shorter budget (exact resume) once
that one has trained, so budgets 4, 12 and 36 cost 36 minutes per candidate, not 52.
Budgets count CPU time of each training process by default (``--clock cpu``, one torch
thread each): on a machine shared with other jobs, wall-clock budgets measure the neighbours
rather than the model, and CPU time lets ``--jobs`` candidates train side by side fairly.
``--clock wall`` gives each candidate wall-clock minutes instead. The machine's load average
is recorded before and after every run.
"""

from __future__ import annotations

import argparse
import copy
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

import arglists  # noqa: E402

from brainsynth.training.config import PRECISIONS  # noqa: E402
from brainsynth.training.presets import merge, preset  # noqa: E402

# The diffusion preset at GPU widths (MONAI's own scale; DDPM's Adam 2e-4).
DIFFUSION_GPU = {
    "model": {"options": {"base_channels": 64, "channel_mult": [1, 2, 2, 4],
                          "attention_resolutions": [16, 8], "res_blocks": 2, "head_channels": 32}},
    "optimizer": {"lr": 2e-4},
}  # fmt: skip

# Candidates: a preset with overrides (nested TrainConfig sections), and why it is here.
CANDIDATES: dict[str, tuple[str, dict[str, Any], str]] = {
    "paper-dcgan": ("paper-dcgan", {}, "the paper's DCGAN (§3.2.2)"),
    "paper-wgan": ("paper-wgan", {}, "the paper's WGAN (§3.2.2)"),
    "dcgan-ema-diffaug": (
        "paper-dcgan",
        {
            "ema": {"half_life_kimg": 10.0, "rampup": 0.05},
            "augment": {"policy": ["translation", "cutout"]},
        },
        "the paper's DCGAN + EMA (ramp-up) + DiffAugment translation,cutout",
    ),  # fmt: skip
    "stylegan2": (
        "recommended",
        {},
        "the recommended preset: StyleGAN2 (channel_base 512) + R1 + EMA + ADA DiffAugment",
    ),
    "stylegan2-wide": (
        "recommended",
        {"model": {"options": {"channel_base": 1024}}},
        "twice the channels from 32x32 up (fewer iterations per minute)",
    ),
    "stylegan2-diffaug": (
        "recommended",
        {"augment": {"ada_target": None}},
        "DiffAugment translation,cutout always on instead of adaptive",
    ),
    "stylegan2-noaug": (
        "recommended",
        {"augment": {"policy": [], "ada_target": None}},
        "no augmentation",
    ),
    "stylegan2-hinge": ("recommended", {"objective": {"name": "hinge"}}, "hinge loss + R1"),
    "diffusion": (
        "diffusion",
        {},
        "the diffusion preset: MONAI UNet at CPU widths, 64 noise-level features, "
        "v-prediction, EMA; DDIM 25 steps",
    ),
    "diffusion-100": ("diffusion", {}, "the diffusion run, sampled with 100 DDIM steps"),
    "diffusion-0.3": (
        "diffusion-0.3",
        {},
        "0.3.0's diffusion preset (MONAI's 8-feature time embedding); DDIM 25 steps",
    ),
    "diffusion-0.3-100": ("diffusion-0.3", {}, "the diffusion-0.3 run, 100 DDIM steps"),
    "diffusion-minsnr": (
        "diffusion",
        {"model": {"options": {"weighting": "min-snr", "snr_gamma": 5.0}}},
        "the diffusion preset with Min-SNR-5 loss weighting (Hang et al. 2023); DDIM 25 steps",
    ),
    "diffusion-minsnr-100": ("diffusion", {}, "the diffusion-minsnr run, 100 DDIM steps"),
    "flow": (
        "flow",
        {},
        "the flow preset: flow matching on the same UNet, logit-normal t; its default sampler",
    ),
    "flow-4": ("flow", {}, "the flow run, sampled with 4 Heun steps (7 network passes)"),
    "flow-25": ("flow", {}, "the flow run, sampled with 25 steps of its solver"),
    "flow-100": ("flow", {}, "the flow run, sampled with 100 steps of its solver"),
    "flow-monai": (
        "flow",
        {"model": {"options": {"time_features": 0}}},
        "flow matching with MONAI's 8-feature time embedding; its default sampler",
    ),
    "diffusion-gpu": (
        "diffusion",
        DIFFUSION_GPU,
        "GPU widths (64-256 channels, 2 blocks, attention at 16 and 8 px); DDIM 25 steps",
    ),  # fmt: skip
    "diffusion-gpu-100": ("diffusion", {}, "the diffusion-gpu run, sampled with 100 DDIM steps"),
}
DEFAULT_CANDIDATES = "paper-dcgan,paper-wgan,dcgan-ema-diffaug,stylegan2,stylegan2-wide"
# Sampler settings per candidate (a diffusion model's DDIM steps; GANs have none). Sampling
# steps are a sampling setting: a candidate here samples the training run of another one
# (SAME_TRAINING) instead of training its own, so 25 and 100 steps cost one training.
SAMPLING: dict[str, dict[str, Any]] = {
    "diffusion": {"steps": 25}, "diffusion-100": {"steps": 100},
    "diffusion-gpu": {"steps": 25}, "diffusion-gpu-100": {"steps": 100},
    "diffusion-0.3": {"steps": 25}, "diffusion-0.3-100": {"steps": 100},
    "diffusion-minsnr": {"steps": 25}, "diffusion-minsnr-100": {"steps": 100},
    "flow": {}, "flow-4": {"steps": 4}, "flow-25": {"steps": 25}, "flow-100": {"steps": 100},
    "flow-monai": {},
}  # fmt: skip
SAME_TRAINING: dict[str, str] = {
    "diffusion-100": "diffusion", "diffusion-gpu-100": "diffusion-gpu",
    "diffusion-0.3-100": "diffusion-0.3", "diffusion-minsnr-100": "diffusion-minsnr",
    "flow-4": "flow", "flow-25": "flow", "flow-100": "flow",
}  # fmt: skip

METRICS = [  # (key, column title, digits)
    ("detectability", "detect.", 2), ("detectability_control", "detect. ctrl", 2),
    ("fid", "FD", 1), ("fid_inception", "FD Incep.", 1), ("fid_domain", "FD domain", 2),
    ("kid", "KID", 2), ("precision", "prec", 2), ("recall", "recall", 2),
    ("density", "dens", 2), ("coverage", "cover", 2), ("c2st_knn_accuracy", "kNN-C2ST", 2),
    ("c2st_accuracy", "C2ST", 2), ("c2st_control_accuracy", "control", 2),
    ("c2st_gap", "gap", 2), ("ms_ssim_real", "MS-SSIM real", 2),
    ("ms_ssim_fake", "MS-SSIM syn", 2), ("collapse_suspected", "collapse", 0),
    ("memorized_fraction", "memorised", 3), ("black_share", "black px", 2),
]  # fmt: skip


INTERVALS = (
    "detectability",
    "detectability_control",
    "fid",
    "fid_inception",
    "fid_domain",
    "recall",
    "c2st",
)  # fmt: skip (c2st_ci95 is the C2ST accuracy's interval)


def train_config(name: str, data: Path, run: Path, args: argparse.Namespace, budget: float):
    """The candidate's TrainConfig dict for one budget."""
    base, overrides, _ = CANDIDATES[name]
    config = merge(preset(base), copy.deepcopy(overrides))
    return merge(config, {
        "data": {"prepared": str(data), "sequence": args.sequence},
        "run": {"out": str(run), "iters": 10**9, "seed": args.seed, "max_seconds": budget * 60,
                "budget_clock": args.clock, "device": args.device, "progress": False,
                "precision": args.precision,
                "checkpoint_every": 10**9, "sample_every": 500, "log_every": 50},
    })  # fmt: skip


def train_candidate(
    name: str,
    budget: float,
    args: argparse.Namespace,
    wait: bool,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train one candidate for ``budget`` minutes; continue its run of the longest shorter
    budget when one has finished training (exact resume), so 4, 12 and 36 minutes cost 36.
    ``wait``: the next shorter budget of this candidate is being trained by another worker.
    ``settings``: TrainConfig sections put over the candidate's (benchmarks/utility.py: pairs,
    a few patients); a continued run keeps those it was started with.
    Writes and returns ``trained.json`` (iterations, CPU and wall seconds in total)."""
    import shutil

    from brainsynth.config import config_from_dict, write_text_atomic
    from brainsynth.training import TrainConfig
    from brainsynth.training.launch import resume_training, run_training

    out = Path(args.out) / f"{budget:g}min" / name
    if (out / "trained.json").is_file() and (out / "run" / "checkpoints" / "last.pt").is_file():
        return json.loads((out / "trained.json").read_text())  # trained by an earlier call
    data = split_folders(args)[0]
    shorter = [b for b in parse_budgets(args.budgets) if b < budget]
    waited = Path(args.out) / f"{max(shorter):g}min" / name / "trained.json" if wait else None
    while waited is not None and not waited.is_file():  # the shorter run trains elsewhere
        time.sleep(5)
    previous = next(
        (
            Path(args.out) / f"{b:g}min" / name
            for b in sorted(shorter, reverse=True)
            if (Path(args.out) / f"{b:g}min" / name / "trained.json").is_file()
        ),
        None,
    )
    shutil.rmtree(out / "run", ignore_errors=True)  # an interrupted attempt starts over
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if previous is None:
        values = merge(train_config(name, data, out / "run", args, budget), settings or {})
        config = config_from_dict(TrainConfig, values)
        result, before = run_training(config), {"train_cpu_s": 0.0, "train_wall_s": 0.0}
    else:
        before = json.loads((previous / "trained.json").read_text())
        shutil.copytree(previous / "run", out / "run")
        rest = (budget - before["budget_min"]) * 60
        result = resume_training(out / "run", max_seconds=rest, progress=False)
    trained = {
        "budget_min": budget, "iterations": result.iteration,
        "continued_from": str(previous) if previous else None,
        "train_cpu_s": round(before["train_cpu_s"] + time.process_time() - cpu0, 1),
        "train_wall_s": round(before["train_wall_s"] + time.perf_counter() - wall0, 1),
    }  # fmt: skip
    write_text_atomic(out / "trained.json", json.dumps(trained, indent=2))
    return trained


def parse_budgets(text: str) -> list[float]:
    return arglists.minutes(text)


def check_arguments(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> tuple[list[str], list[float], set[tuple[float, str]]]:
    """The candidates, budgets and --only pairs; every list-like argument (and the
    Inception network, when its features are asked for) checked before any work, a wrong
    one refused in argparse's one line."""
    from brainsynth.errors import BrainsynthError
    from brainsynth.metrics.evaluate import FEATURE_SPACES

    names = arglists.checked(parser, "--candidates", arglists.names, args.candidates, CANDIDATES)
    budgets = arglists.checked(parser, "--budgets", arglists.minutes, args.budgets)
    wanted = arglists.checked(parser, "--only", arglists.budget_pairs, args.only)
    features = arglists.checked(parser, "--features", arglists.names, args.features, FEATURE_SPACES)
    arglists.checked(parser, "--variants", arglists.names, args.variants, ("raw", "floor"))
    arglists.checked(parser, "--detectability-sizes", arglists.counts, args.detectability_sizes, 4)
    strangers = sorted(f"{b:g}:{c}" for b, c in wanted if b not in budgets or c not in names)
    if strangers:
        parser.error(f"argument --only: {', '.join(strangers)} not among --budgets x --candidates")
    if "inception" in features:
        from brainsynth.metrics.spaces import require_inception

        try:
            require_inception()
        except BrainsynthError as exc:
            parser.error(str(exc))
    return names, budgets, wanted


def run_candidate(
    name: str, budget: float, args: argparse.Namespace, wait: bool = False
) -> dict[str, Any]:
    """Train, sample and evaluate one candidate at one budget (in its own process)."""
    import numpy as np
    import torch

    from brainsynth.config import load_config, write_text_atomic
    from brainsynth.data.dataset import load_prepared
    from brainsynth.metrics.evaluate import EvalConfig
    from brainsynth.pipeline import evaluate_and_record
    from brainsynth.sampling import generate_with_info, write_samples
    from brainsynth.training import TrainConfig

    torch.set_num_threads(args.threads)
    out = Path(args.out) / f"{budget:g}min" / name
    data = split_folders(args)[1]  # the evaluation part: patients no candidate trained on
    load_before = os.getloadavg()
    trains = SAME_TRAINING.get(name, name)  # whose training run this candidate samples
    base_trained = Path(args.out) / f"{budget:g}min" / trains / "trained.json"
    while trains != name and trains in args.candidates.split(",") and not base_trained.is_file():
        time.sleep(5)  # that candidate's own job trains it
    trained = train_candidate(trains, budget, args, wait)
    if args.train_only:
        return {"candidate": name, "budget_min": budget, **trained}
    run = Path(args.out) / f"{budget:g}min" / trains / "run"
    config = load_config(TrainConfig, run / "config.yaml")
    if Path(config.data.prepared).resolve() != split_folders(args)[0].resolve():
        print(f"WARNING {out}: trained on {config.data.prepared}, not on the training part "
              f"{split_folders(args)[0]}: it may have seen the evaluation patients; train it "
              "again in a new --out for an honest evaluation", flush=True)  # fmt: skip
    real = load_prepared(data).image_set(args.sequence)
    row: dict[str, Any] = {
        "candidate": name, "budget_min": budget, "clock": args.clock,
        "iterations": trained["iterations"],
        "images_seen": trained["iterations"] * config.run.batch,
        "train_cpu_s": trained["train_cpu_s"], "train_wall_s": trained["train_wall_s"],
        "continued_from": trained["continued_from"], "trained_on": config.data.prepared,
        "load_before": [round(x, 2) for x in load_before], "note": CANDIDATES[name][2],
    }  # fmt: skip
    cpu0, wall0 = time.process_time(), time.perf_counter()
    sampled, sampled_info = generate_with_info(
        run, n=args.n, seed=args.seed, background_floor=0.0, device=args.device,
        **SAMPLING.get(name, {}),
    )  # fmt: skip
    row["sample_cpu_s"] = round(time.process_time() - cpu0, 1)  # the n images, once
    row["sample_wall_s"] = round(time.perf_counter() - wall0, 1)
    row["sampling"] = SAMPLING.get(name, {})
    variants = {"raw": 0.0, "floor": args.floor}
    for variant in args.variants.split(","):
        floor = variants[variant]
        fake, info = with_floor(sampled, sampled_info, floor)
        write_samples(fake, out / f"samples-{variant}", grid=out / f"grid-{variant}.png",
                      meta=info)  # fmt: skip
        evaluation = EvalConfig(seed=args.seed, max_real=args.max_real, threads=args.threads,
                                n_bootstrap=args.bootstrap,
                                c2st_control_repeats=args.control_repeats,
                                features=args.features.split(","),
                                domain_encoder=str(encoder_path(args)),
                                feature_cache=str(Path(args.out) / "feature-cache"),
                                detectability_sizes=[int(s) for s in
                                                     args.detectability_sizes.split(",")],
                                device=args.device)  # fmt: skip
        metrics = evaluate_and_record(
            real, fake, evaluation, out / f"eval-{variant}" / "metrics.json",
            out / f"eval-{variant}", fake_sampling=info,
            extra={"black_share": float((fake == 0).mean())}, progress=False,
        )  # fmt: skip
        row[variant] = {key: metrics.get(key) for key, _, _ in METRICS} | {
            f"{key}_ci95": metrics.get(f"{key}_ci95") for key in INTERVALS
        }
        row["weights"] = info.get("weights")
    row["real_black_share"] = float(
        (real.float_images(np.arange(min(len(real), 1000))) == 0).mean()
    )
    row["load_after"] = [round(x, 2) for x in os.getloadavg()]
    write_text_atomic(out / "row.json", json.dumps(row, indent=2))
    return row


def split_folders(args: argparse.Namespace) -> tuple[Path, Path]:
    """The prepared folders of the training part and of the evaluation part."""
    out = Path(args.out)
    return out / f"prepared{args.size}-train", out / f"prepared{args.size}-eval"


def split_patients(source: Path, args: argparse.Namespace) -> tuple[Path, Path]:
    """Split ``source`` by patient: ``--eval-patients`` drawn with the seed for evaluation,
    the rest for training; written once as two prepared folders and reused."""
    import numpy as np

    from brainsynth.data.dataset import load_prepared, write_prepared

    train, evaluation = split_folders(args)
    if (train / "dataset.json").is_file() and (evaluation / "dataset.json").is_file():
        return train, evaluation
    prepared = load_prepared(source)
    patients = np.unique(prepared.patients)
    if args.eval_patients < 6 or len(patients) - args.eval_patients < 3:
        raise SystemExit(
            f"{source}: {len(patients)} patients; the evaluation part needs at least 6 "
            f"(--eval-patients {args.eval_patients}) and the training part 3"
        )
    chosen = np.random.default_rng(args.seed).choice(patients, args.eval_patients, replace=False)
    is_eval = np.isin(prepared.patients, chosen)
    for folder, mask, part in ((train, ~is_eval, "train"), (evaluation, is_eval, "eval")):
        meta = {**prepared.meta, "split_of": str(source), "split_part": part,
                "split_patients": sorted(np.unique(prepared.patients[mask]).tolist())}  # fmt: skip
        rows = [row for row, keep in zip(prepared.slices, mask, strict=True) if keep]
        masks = np.asarray(prepared.masks[mask]) if prepared.has_masks else None
        write_prepared(folder, np.asarray(prepared.images[mask]), rows, meta, masks=masks)
    return train, evaluation


def encoder_path(args: argparse.Namespace) -> Path:
    return Path(args.out) / f"domain_encoder-{args.size}.pt"


def train_shared_encoder(args: argparse.Namespace) -> Path:
    """One domain encoder for every candidate, trained on the training part's real images."""
    from brainsynth.data.dataset import load_prepared
    from brainsynth.metrics.domain import domain_targets, save_encoder, train_domain_encoder
    from brainsynth.metrics.evaluate import real_image_labels

    path = encoder_path(args)
    if path.is_file() or "domain" not in args.features.split(","):
        return path
    prepared = load_prepared(split_folders(args)[0])
    real = prepared.image_set(args.sequence)
    targets = domain_targets(real.channels, real_image_labels(prepared, real))
    model, info = train_domain_encoder(real.float_images(), real.patients, targets, args.seed)
    return save_encoder(model, path, args.size, {**info, "trained_on": str(prepared.root)})


def with_floor(images: Any, info: dict[str, Any], floor: float) -> tuple[Any, dict[str, Any]]:
    """The sampled images with the background floor applied as ``brainsynth sample`` does
    (pixels below it set to 0), and their record: sampling once serves both variants."""
    floored = images.copy()
    if floor > 0:
        floored[floored < floor] = 0.0
    return floored, {**info, "background_floor": floor}


def prepare_phantom(args: argparse.Namespace) -> Path:
    """The phantom cohort prepared like the paper (sagittal #80-#149), reused when present."""
    from brainsynth.data.prepare import PrepareConfig, prepare
    from brainsynth.phantom import make_cohort

    out = Path(args.out)
    data = out / f"prepared{args.size}"
    if (data / "dataset.json").is_file():
        return data
    cohort = out / "phantom"
    if not (cohort / "PHANTOM.json").is_file():
        make_cohort(cohort, args.patients, seed=args.seed)
    return prepare(cohort, data, PrepareConfig(size=args.size))


def fmt(value: Any, digits: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:.{digits}f}"


def markdown(rows: list[dict[str, Any]], header: str) -> str:
    """One row per candidate and budget; each metric as raw / with the background floor."""
    titles = ["budget", "candidate", "iters", "CPU s", "wall s", "sample CPU s",
              "sample wall s"] + [t for _, t, _ in METRICS]  # fmt: skip
    lines = [header, "", "| " + " | ".join(titles) + " |", "|" + "---|" * len(titles)]
    for row in sorted(rows, key=lambda r: (r["budget_min"], r["candidate"])):
        cells = [f"{row['budget_min']:g} min", row["candidate"], str(row["iterations"]),
                 f"{row['train_cpu_s']:.0f}", f"{row['train_wall_s']:.0f}",
                 fmt(row.get("sample_cpu_s"), 0), fmt(row.get("sample_wall_s"), 0)]  # fmt: skip
        for key, _, digits in METRICS:
            raw = fmt(row["raw"][key], digits)
            floor = fmt(row["floor"][key], digits) if "floor" in row else raw
            cells.append(raw if raw == floor else f"{raw} / {floor}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def figure(rows: list[dict[str, Any]], budget: float, args: argparse.Namespace) -> Path:
    """Real images, then each candidate's raw samples, as labelled grids side by side."""
    import numpy as np
    from PIL import Image, ImageDraw

    from brainsynth.data.dataset import load_prepared
    from brainsynth.imageio import load_npy_images, make_grid

    real = load_prepared(split_folders(args)[1]).image_set(args.sequence)
    pick = np.random.default_rng(args.seed).choice(len(real), 16, replace=False)
    panels = [("real", make_grid(real.float_images(np.sort(pick)), ncols=4))]
    for row in sorted(rows, key=lambda r: r["candidate"]):
        if row["budget_min"] == budget:
            samples = Path(args.out) / f"{budget:g}min" / row["candidate"] / "samples-raw"
            images = load_npy_images(samples / "samples.npy")[:16]
            panels.append((f"{row['candidate']} ({row['iterations']} it)", make_grid(images, 4)))
    h, w = panels[0][1].shape
    canvas = Image.new("L", (len(panels) * (w + 8) + 8, h + 24), 255)
    draw = ImageDraw.Draw(canvas)
    for i, (label, grid) in enumerate(panels):
        x = 8 + i * (w + 8)
        canvas.paste(Image.fromarray(grid), (x, 20))
        draw.text((x, 4), label, fill=0)
    path = Path(args.out) / f"grids-{budget:g}min.png"
    canvas.save(path)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench-realism", help="output folder (reused: resumes)")
    parser.add_argument("--budgets", default="4,12,36", help="minutes per candidate (4,12,36)")
    parser.add_argument("--candidates", default=DEFAULT_CANDIDATES,
                        help=f"comma list of {', '.join(CANDIDATES)}")  # fmt: skip
    parser.add_argument("--only", default="", help="budget:candidate pairs to run (default all)")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                        help="what a budget counts (default: CPU time of each run)")  # fmt: skip
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--data", default=None,
                        help="a prepared folder (e.g. BraTS) instead of the phantom; its "
                        "patients are split into training and evaluation parts")  # fmt: skip
    parser.add_argument("--patients", type=int, default=28,
                        help="phantom patients (28: 16 train the models, 12 evaluate)")  # fmt: skip
    parser.add_argument("--eval-patients", type=int, default=12,
                        help="patients held out for evaluation, never trained on (12; at least "
                        "6 for the real-vs-real controls)")  # fmt: skip
    parser.add_argument(
        "--features",
        default="handcrafted,domain,inception",
        help="FD/KID feature spaces (handcrafted,domain,inception)",
    )
    parser.add_argument(
        "--detectability-sizes",
        default="4,8,16,32,128,512",
        help="training sizes of the detectability curve (4,8,16,32,128,512; plus all)",
    )
    parser.add_argument("--size", type=int, default=64, help="image size (64)")
    parser.add_argument("--sequence", default="concat", help="image set (concat)")
    parser.add_argument("--n", type=int, default=1000, help="samples per candidate (1000)")
    parser.add_argument("--max-real", type=int, default=1000, help="real images evaluated")
    parser.add_argument("--floor", type=float, default=0.05, help="background floor (0.05)")
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=200,
        help="bootstrap resamples per 95%% interval (evaluate's 200)",
    )
    parser.add_argument("--control-repeats", type=int, default=3,
                        help="real-vs-real C2ST controls per evaluation (evaluate's 3); the "
                        "control does not depend on the candidate")  # fmt: skip
    parser.add_argument("--train-only", action="store_true",
                        help="train (or continue) the runs and stop; a later call without it "
                        "samples and evaluates them, reusing what was trained")  # fmt: skip
    parser.add_argument("--variants", default="raw,floor",
                        help="evaluate the raw samples and/or the samples with the background "
                        "floor (raw,floor; 'raw' halves the evaluation time)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    parser.add_argument(
        "--precision",
        default="auto",
        choices=PRECISIONS,
        help="every candidate's precision (auto: bf16 where the CPU/GPU computes it natively, "
        "~2x faster there; fp32 elsewhere, where bf16 is emulated and ~10x slower)",
    )
    args = parser.parse_args()
    names, budgets, wanted = check_arguments(parser, args)
    if args.data:  # the prepared folder decides the size
        from brainsynth.data.dataset import load_prepared

        args.size = load_prepared(args.data).size
    jobs = [(b, c) for b in budgets for c in names]
    if wanted:
        jobs = [j for j in jobs if j in wanted]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    source = Path(args.data) if args.data else prepare_phantom(args)
    split_patients(source, args)
    if not args.train_only:
        train_shared_encoder(args)
    rows, todo = [], []
    for budget, name in jobs:
        done = out / f"{budget:g}min" / name / "row.json"
        if done.is_file():
            rows.append(json.loads(done.read_text()))
        else:
            todo.append((budget, name))
    # Shortest first: longer budgets continue them; a candidate that samples another's run
    # after that one, which trains it.
    todo.sort(key=lambda job: (job[0], job[1] in SAME_TRAINING))
    print(f"{len(todo)} runs to do, {len(rows)} done; load {os.getloadavg()}", flush=True)
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
        futures = {
            pool.submit(run_candidate, name, b, args, any(c == name and s < b for s, c in todo)):
            (b, name) for b, name in todo
        }  # fmt: skip
        for future in as_completed(futures):
            row = future.result()
            if args.train_only:
                print(
                    f"{row['budget_min']:g} min {row['candidate']}: trained, "
                    f"{row['iterations']} it, {row['train_cpu_s']:.0f} CPU s",
                    flush=True,
                )
                continue
            rows.append(row)
            print(f"{row['budget_min']:g} min {row['candidate']}: {row['iterations']} it, "
                  f"FD {row['raw']['fid']:.1f}, recall {row['raw']['recall']:.2f}, "
                  f"load {row['load_after']}", flush=True)  # fmt: skip
    if args.train_only:
        return 0
    data = args.data or f"phantom {args.patients} patients"
    header = (f"Realism per compute: {data} ({args.eval_patients} patients held out for "
              f"evaluation), {args.size}x{args.size} "
              f"{args.sequence}, budget clock {args.clock}, {args.n} samples, background floor "
              f"{args.floor}; {os.cpu_count()} CPUs, {args.jobs} runs at once, "
              f"{args.threads} thread(s) each; load average at the end {os.getloadavg()}. "
              "Cells: raw / with the floor (one value when equal).")  # fmt: skip
    from detectability import ranking_markdown  # benchmarks/detectability.py

    text = markdown(rows, header) + "\n" + ranking_markdown(rows)
    (out / "realism.md").write_text(text)
    (out / "realism.json").write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2))
    for budget in sorted({r["budget_min"] for r in rows}):
        figure(rows, budget, args)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
