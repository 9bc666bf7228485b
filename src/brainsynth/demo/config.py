"""The demo's settings (torch-free): what ``brainsynth demo`` trains, samples and measures."""

from __future__ import annotations

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
            "the recommended preset (the best realism per CPU minute measured by "
            "benchmarks/realism.py): StyleGAN2 at CPU widths, R1, EMA, adaptive DiffAugment"
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
    setup (phantom, preparation) and the report get ``setup_s``; sampling and evaluation get
    ``eval_share`` of the rest, at most ``eval_cap_s`` per model; each model trains for an
    equal share of what remains (at least ``min_train_s``)."""

    out: str = "brainsynth-demo"  # output folder
    minutes: float = 9.0  # wall-clock budget for the whole demo
    seed: int = 0  # seeds the phantom, training, sampling and evaluation
    patients: int = 12  # phantom patients
    size: int = 64  # prepared image size (the paper's 64x64 Concat set)
    sequence: str = "concat"  # image set trained (paper §3.2.2)
    precision: str = "auto"  # bf16 autocast where the CPU/GPU has native bf16, else fp32
    n_samples: int = 512  # synthetic images sampled per model for evaluation
    setup_s: float = 75.0  # reserved for the phantom, its preparation, the VTT and report
    eval_share: float = 0.25  # of the time after setup, for sampling and evaluation
    eval_cap_s: float = 60.0  # at most this many seconds of that per model
    min_train_s: float = 20.0  # each model trains at least this long, whatever the budget
    log_every: int = 10  # iterations between loss records (the report's curves)
    # one real-vs-real C2ST control instead of three pays for the detectability curve
    evaluation: EvalConfig = field(
        default_factory=lambda: EvalConfig(max_real=1000, c2st_control_repeats=1)
    )
    gans: list[DemoModel] = field(default_factory=lambda: list(DEMO_MODELS))  # the models
    vtt_n: int = 50  # images per class in the Visual Turing Test study


def training_budgets(config: DemoConfig) -> tuple[float, float]:
    """(training seconds per model, evaluation seconds per model), fixed up front."""
    models = max(1, len(config.gans))
    after_setup = max(0.0, config.minutes * 60 - config.setup_s)
    evaluation = min(config.eval_cap_s, after_setup * config.eval_share / models)
    train = max(config.min_train_s, (after_setup - evaluation * models) / models)
    return train, evaluation
