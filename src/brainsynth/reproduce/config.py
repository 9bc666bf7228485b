"""The settings of ``brainsynth reproduce`` (light to import: the command line's defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field

from brainsynth.metrics.evaluate import EvalConfig
from brainsynth.paper import BATCH, WIDTH


@dataclass
class ReproduceConfig:
    data64: str  # prepared dataset at 64x64 (brainsynth prepare --size 64)
    data128: str  # prepared dataset at 128x128 (brainsynth prepare --size 128)
    out: str  # output folder: one sub-folder per configuration, plus the tables
    iters: int = 20000  # generator iterations per configuration
    width: int = WIDTH  # base channel width (the paper's half-width DCGAN)
    seed: int = 0  # seeds training, sampling and evaluation
    n_samples: int = 1000  # synthetic images per configuration for evaluation
    precision: str = "auto"  # fp32 | bf16 (autocast) | auto (bf16 where native)
    device: str = "auto"  # auto | cpu | cuda
    vtt_db: str | None = None  # a Visual Turing Test database whose studies fill VTT columns
    batch: int = BATCH  # the paper's batch size
    evaluation: EvalConfig = field(default_factory=EvalConfig)  # the evaluation's settings
