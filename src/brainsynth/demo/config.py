"""The demo's settings (torch-free): what ``brainsynth demo`` trains, samples and measures."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from brainsynth.metrics.evaluate import EvalConfig


@dataclass
class DemoModel:
    """One model of the demo: a training preset (``brainsynth train --preset``) and its
    overrides (nested TrainConfig sections); the defaults are in :data:`DEMO_MODELS`."""

    name: str  # shown in the report and used as its folder name
    preset: str  # recommended | paper-dcgan | paper-wgan
    overrides: dict[str, Any] = field(default_factory=dict)
    note: str = ""  # why these settings, shown in the report


DEMO_MODELS: tuple[DemoModel, ...] = (
    DemoModel(
        "stylegan2",
        "recommended",
        note=(
            "the recommended preset (the README's rule for it: among the models of "
            "benchmarks/realism.py that pass its gates, the highest recall at 12 CPU minutes): "
            "StyleGAN2 at CPU widths, R1, EMA, adaptive DiffAugment"
        ),
    ),
    DemoModel("dcgan", "paper-dcgan", note="the paper's DCGAN (Adam 2e-4, beta1 0.5, batch 64)"),
)
DEMO_WGAN = DemoModel(
    "wgan",
    "paper-wgan",
    overrides={"objective": {"n_critic": 2}, "optimizer": {"lr": 5e-4}},
    note=(
        "WGAN with the paper's weight clipping (0.01) and RMSprop, but at 5e-4 instead of "
        "5e-5 and 2 critic steps instead of 5: at the paper's settings it draws only head "
        "outlines in a few CPU minutes; these give brain silhouettes on a black background"
    ),
)

DemoGan = DemoModel  # the names before 0.4 (the demo also trains models that are not GANs)
DEMO_GANS = DEMO_MODELS


@dataclass
class DemoConfig:
    """The whole demo within ``minutes``. Budgets are fixed before anything starts: the
    setup (phantom, preparation, the evaluations' real side) and the report get ``setup_s``;
    sampling and evaluation get ``eval_share`` of the rest, at most ``eval_cap_s`` per model;
    each model trains for an equal share of what remains (at least ``min_train_s``)."""

    out: str = "brainsynth-demo"  # output folder
    minutes: float = 9.0  # wall-clock budget for the whole demo
    seed: int = 0  # seeds the phantom, training, sampling and evaluation
    patients: int = 12  # phantom patients
    size: int = 64  # prepared image size (the paper's 64x64 Concat set)
    sequence: str = "concat"  # image set trained (paper §3.2.2)
    precision: str = "auto"  # bf16 autocast where the CPU/GPU has native bf16, else fp32
    n_samples: int = 512  # synthetic images sampled per model for evaluation
    # reserved for the phantom, its preparation, the evaluations' real side, the VTT and report
    setup_s: float = 90.0  # 76 s on a quiet 2-core machine (61 s of it the three setup steps)
    eval_share: float = 0.25  # of the time after setup, for sampling and evaluation
    eval_cap_s: float = 45.0  # at most this many seconds of that per model
    min_train_s: float = 20.0  # each model trains at least this long, whatever the budget
    log_every: int = 10  # iterations between loss records (the report's curves)
    # one real-vs-real C2ST control instead of three pays for the detectability curve; one
    # thread: the families' declared costs (the budget's estimates) are one-thread figures,
    # and a second spinning thread loses more than it gains on a busy machine
    # 500 real images against the 512 samples; what every evaluation repeats on the real
    # images alone (controls, domain encoder) is done once, during setup (warm_real_side)
    evaluation: EvalConfig = field(
        default_factory=lambda: EvalConfig(max_real=500, c2st_control_repeats=1, threads=1)
    )
    gans: list[DemoModel] = field(default_factory=lambda: list(DEMO_MODELS))  # the models
    vtt_n: int = 50  # images per class in the Visual Turing Test study
    fit_evaluation: bool = True  # plan each evaluation to its reserved time (cut, skip, say)


REPORT_S = 15.0
"""Seconds kept at the end for the Visual Turing Test study and the report."""
TRAIN_OVERHEAD_S = 10.0
"""Seconds a training takes beyond its budget (start, last checkpoint and grid) until one
has been measured; the next model's budget is shortened by what the last one overran."""


def next_training_budget(
    planned_s: float,
    seconds_left: float,
    eval_s: float,
    models_left: int,
    overrun_s: float,
    min_train_s: float,
) -> float:
    """The training budget of the next model, set when it starts: the planned share, or less
    when setup or the models before it overran, so that what is left still holds every
    remaining model's training and evaluation and the report within the demo's minutes."""
    share = (seconds_left - REPORT_S - eval_s * models_left) / max(1, models_left)
    return max(min_train_s, min(planned_s, share - max(overrun_s, 0.0)))


def training_budgets(config: DemoConfig) -> tuple[float, float]:
    """(training seconds per model, evaluation seconds per model), fixed up front; a
    training's budget leaves room for its overhead (:data:`TRAIN_OVERHEAD_S`)."""
    models = max(1, len(config.gans))
    after_setup = max(0.0, config.minutes * 60 - config.setup_s)
    evaluation = min(config.eval_cap_s, after_setup * config.eval_share / models)
    train = (after_setup - evaluation * models) / models - TRAIN_OVERHEAD_S
    return max(config.min_train_s, train), evaluation


QUIET_ITERATIONS: dict[str, tuple[int, float, str, str]] = {
    "stylegan2": (710, 177.0, "a quiet 2-core AVX2 machine in fp32",
                  "the mean of three runs, 564 to 873 scaled to 177 s"),
}  # fmt: skip
"""Iterations a model of the demo reached on a quiet machine, in how many seconds of
training, which machine and how measured (issue 27's demo runs on the development machine
in fp32; 0.3.0 reached 1,226 in 174 s in bf16 on a CPU that computes in bf16), for the
report's "what the load cost"."""
MIN_EVAL_IMAGES = 200
"""The fewest real (and synthetic) images a squeezed demo evaluation keeps."""


def plan_evaluation(
    evaluation: EvalConfig,
    n_real: int,
    n_fake: int,
    size: int,
    budget_s: float,
    slowdown: float,
) -> tuple[EvalConfig, str]:
    """The evaluation that fits ``budget_s`` on a machine ``slowdown`` times slower than a
    quiet one, and one line saying what was cut (empty when nothing was).

    Families declare their cost for 1,000 vs 1,000 64x64 images on a quiet thread, the real
    images' side apart: the demo does that side during setup, so only each model's own work
    is planned here, which grows with the images both classes of a C2ST can balance
    (:func:`~brainsynth.metrics.budget.model_work_scale`). When it exceeds the budget, fewer
    synthetic images are evaluated (no fewer than :data:`MIN_EVAL_IMAGES`); the real ones
    stay, so the real side is still read from the cache. Whatever still does not fit is
    skipped as it comes (``EvalConfig.budget_s``), with a note in the metrics.
    """
    from brainsynth.metrics import families
    from brainsynth.metrics.budget import model_work_scale

    registered = families.registered()
    runs = [registered[m] for m in evaluation.metrics if m in registered]
    # the demo's samples are images alone: families that need pairs (masks) never run
    cost = sum(m.cost(evaluation) for m in runs if m.needs <= {"images"})
    real, fake = min(n_real, evaluation.max_real), min(n_fake, evaluation.max_fake)
    need = cost * model_work_scale(real, fake, size) * slowdown
    note = ""
    if need > budget_s:
        keep = max(int(min(real, fake) * budget_s / need), MIN_EVAL_IMAGES)
        if keep < fake:
            note = (
                f"evaluated {keep} synthetic images against {real} real (not {fake}) to fit "
                f"{budget_s:.0f} s on a machine {slowdown:.1f}x slower than a quiet one"
            )
            fake = keep
    planned = dataclasses.replace(
        evaluation, max_real=real, max_fake=fake, budget_s=budget_s, slowdown=slowdown
    )
    return planned, note


def training_precision(name: str) -> str:
    """``auto``: bf16 where the CPU computes in bf16 (AVX512-BF16, AMX; ~2x faster than fp32),
    else fp32: on an AVX2-only CPU bf16 autocast is emulated and the demo's StyleGAN2 reached
    10 iterations in 168 s instead of hundreds (issue 27)."""
    if name != "auto":
        return name
    import torch

    return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"
