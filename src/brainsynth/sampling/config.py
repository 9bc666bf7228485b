"""How images are sampled from a trained generator (torch-free; ``sampling.json`` records it).

**Limits**: ``n`` 1..:data:`MAX_SAMPLES`, ``batch`` 1..:data:`MAX_BATCH` and ``seed``
0..:data:`MAX_SEED`, real integers; the background floor in [0, 0.5].

**Background floor** (a named post-processing option, off by default). Real skull-stripped
slices have an exactly black background; a calibration run found that faint noise in the
background of synthetic slices was most of what gave them away to a classifier. With
``background_floor = t > 0`` every pixel below ``t`` (after the output mapping) is set to
exactly 0. ``None`` takes the run's own default: ``RUN/sampling.yaml`` (written by
``brainsynth train --background-floor``), or what a brainsynth 0.1.0 checkpoint recorded;
otherwise 0 (off).

**Sampler settings** (families that sample in several steps; ``None`` = the model's own
default, and a family refuses, in one line, a setting its sampler does not have: a GAN has
none): ``steps``, the number of denoising or integration steps (more: slower, usually
closer to the model's distribution), ``guidance``, the classifier-free guidance weight of a
conditional model (1: plain conditional; > 1: stronger class features, less diversity;
Ho & Salimans 2022), and ``options``, any other setting its family's sampler declares
(``brainsynth sample --sampler-option KEY=VALUE``).

**Weights**: ``ema`` samples the generator's exponential moving average (runs trained with
``--ema-half-life``), ``raw`` the trained weights; ``auto`` is EMA when the run has it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from brainsynth.config import DEVICES, brief, check_int
from brainsynth.errors import BrainsynthError
from brainsynth.vocabulary import floor_problem

WEIGHTS: tuple[str, ...] = ("auto", "ema", "raw")
MAX_SAMPLES = 1_000_000
"""The most images one sampling run makes: ``sample`` names them 000000.png..999999.png."""
MAX_BATCH = 65_536
"""The most images per forward pass (the default, 256, is plenty on a GPU)."""
MAX_SEED = 2**64 - 1
"""Seeds are those of ``torch.Generator.manual_seed``: 64-bit, 0..2**64 - 1."""
FLAGGED: tuple[str, ...] = ("steps", "guidance")
"""Sampler settings with their own fields and flags (``--steps``, ``--guidance``)."""
OPTION_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


@dataclass
class SamplingConfig:
    n: int = 1000  # images to generate
    seed: int = 0  # seeds the latent vectors
    batch: int = 256  # images per forward pass (does not change the images)
    device: str = "auto"  # auto | cpu | cuda
    weights: str = "auto"  # auto | ema | raw
    background_floor: float | None = None  # pixels below become 0; None = the run's default
    label: int | str | None = None  # class id or name (conditional runs); None = all in turn
    steps: int | None = None  # diffusion sampling steps; None = the model's default
    guidance: float | None = None  # classifier-free guidance weight; None = the model's
    options: dict[str, Any] = field(default_factory=dict)  # other sampler settings, by name

    def __post_init__(self) -> None:
        check_int(self.n, "--n", 1, MAX_SAMPLES, "sampling")
        check_int(self.batch, "--batch", 1, MAX_BATCH, "sampling")
        check_int(self.seed, "--seed", 0, MAX_SEED, "sampling")
        if self.weights not in WEIGHTS:
            raise BrainsynthError(f"unknown --weights {self.weights!r}: {', '.join(WEIGHTS)}")
        if self.device not in DEVICES:
            raise BrainsynthError(f"unknown --device {self.device!r}: {', '.join(DEVICES)}")
        if self.background_floor is not None and floor_problem(self.background_floor):
            raise BrainsynthError(str(floor_problem(self.background_floor)))
        if isinstance(self.label, str) and self.label.strip().isdigit():
            self.label = int(self.label)
        if self.steps is not None and (isinstance(self.steps, bool) or self.steps < 1):
            raise BrainsynthError(f"--steps must be at least 1, got {self.steps}")
        if self.guidance is not None and not self.guidance >= 0:  # NaN fails too
            raise BrainsynthError(f"--guidance must be a number >= 0, got {self.guidance}")
        if isinstance(self.label, int) and self.label < 0:
            raise BrainsynthError("--label must be a class name or an id >= 0")
        self.options = dict(self.options)
        for key, value in self.options.items():
            if not isinstance(key, str) or not OPTION_NAME.fullmatch(key) or key in FLAGGED:
                raise BrainsynthError(f"--sampler-option {key!r:.40}: a setting name (steps and "
                                      "guidance have their own flags)")  # fmt: skip
            if not isinstance(value, (str, int, float, bool)):
                raise BrainsynthError(f"--sampler-option {key}: a plain value, got {brief(value)}")
