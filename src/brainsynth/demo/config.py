"""The demo's settings (torch-free): what ``brainsynth demo`` trains, samples and measures."""

from __future__ import annotations

from dataclasses import dataclass, field

from brainsynth.metrics.evaluate import EvalConfig
from brainsynth.paper import BATCH, WIDTH


@dataclass
class DemoGan:
    """How one GAN of the demo is trained (the defaults are chosen in :data:`DEMO_GANS`)."""

    gan: str  # dcgan | wgan | wgan-gp
    lr: float | None = None  # None: the paper's learning rate for this GAN
    n_critic: int | None = None  # None: the paper's (1 for dcgan, 5 for wgan)
    note: str = ""  # why these settings, shown in the report


DEMO_GANS: tuple[DemoGan, ...] = (
    DemoGan("dcgan", note="the paper's DCGAN settings (Adam 2e-4, beta1 0.5, batch 64)"),
    DemoGan(
        "wgan",
        lr=5e-4,
        n_critic=2,
        note=(
            "WGAN with the paper's weight clipping (0.01) and RMSprop, but at 5e-4 instead of "
            "5e-5 and 2 critic steps instead of 5: at the paper's settings it draws only head "
            "outlines in a few CPU minutes; these give brain silhouettes on a black background"
        ),
    ),
)


@dataclass
class DemoConfig:
    out: str = "brainsynth-demo"  # output folder
    minutes: float = 8.0  # wall-clock budget for the whole demo
    seed: int = 0  # seeds the phantom, training, sampling and evaluation
    patients: int = 12  # phantom patients
    size: int = 64  # prepared image size (the paper's 64x64 Concat set)
    sequence: str = "concat"  # image set trained (paper §3.2.2)
    width: int = WIDTH  # base channel width (the paper's half-width DCGAN)
    batch: int = BATCH  # the paper's batch size
    precision: str = "bf16"  # bf16 autocast + channels_last: ~2x faster on CPU
    n_samples: int = 512  # synthetic images sampled per GAN for evaluation
    eval_reserve_s: float = 35.0  # seconds kept per GAN for sampling and evaluation
    min_train_s: float = 20.0  # each GAN trains at least this long, whatever the budget
    log_every: int = 10  # iterations between loss records (the report's curves)
    evaluation: EvalConfig = field(default_factory=lambda: EvalConfig(max_real=1000))
    gans: list[DemoGan] = field(default_factory=lambda: list(DEMO_GANS))
    vtt_n: int = 50  # images per class in the Visual Turing Test study
