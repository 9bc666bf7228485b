"""Settings of an augmentation benefit experiment; torch-free, written as ``config.yaml``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from brainsynth.data.labels import DEFAULT_TUMOR_THRESHOLD
from brainsynth.errors import BrainsynthError
from brainsynth.metrics.seg_config import SegmenterConfig

ARMS: tuple[str, ...] = ("real", "real+classic", "real+synthetic", "real+classic+synthetic")
"""The four arms; ``real`` is the reference every other arm is compared with."""

TASKS: tuple[str, ...] = ("classification", "segmentation")
"""What the downstream model learns: tumour / no-tumour per slice, or the tumour label map."""

SEGMENTATION_ARMS: tuple[str, ...] = (
    "real",
    "real+classic",
    "real+synthetic",
    "real+synthetic-from-masks",
    "synthetic",
)
"""The arms of ``--task segmentation`` (:mod:`.segmentation`); ``real`` is the reference."""

INPUT_SEQUENCES: tuple[str, ...] = ("t1", "t1c", "t2", "flair", "joint")
"""What the classifier sees: one sequence's channel, or all four (``joint``)."""


@dataclass
class ClassifierConfig:
    """The downstream CNN and its training, identical in every arm."""

    width: int = 8  # channels of the first ResNet stage (ResNet-18: 64)
    epochs: int = 10  # passes over the REAL training slices; every arm takes as many steps
    batch: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4

    def __post_init__(self) -> None:
        for name in ("width", "epochs", "batch"):
            if getattr(self, name) < 1:
                raise BrainsynthError(f"classifier {name} {getattr(self, name)}: must be >= 1")
        if not self.lr > 0:
            raise BrainsynthError(f"classifier lr {self.lr}: must be > 0")


@dataclass
class AugmentEvalConfig:
    """One augment-eval experiment (see ``brainsynth augment-eval --help``)."""

    data: str = ""
    out: str = ""
    sequence: str = "flair"
    tumor_threshold: float = DEFAULT_TUMOR_THRESHOLD
    fractions: tuple[float, ...] = (0.1, 0.25, 1.0)
    repeats: int = 3
    arms: tuple[str, ...] = ARMS
    synthetic_ratio: float = 1.0  # synthetic slices per real training slice
    val_fraction: float = 0.15  # share of patients for model selection and the threshold
    test_fraction: float = 0.25  # share of patients for the reported metrics
    seed: int = 0
    n_boot: int = 1000
    arch: str | None = None  # generator architecture; None = --gen-config's, else dcgan
    gen_iters: int | None = None  # generator iterations; None = --gen-config's, else 2000
    gen_config: str | None = None
    runs: dict[str, list[str]] = field(default_factory=dict)  # fraction -> run per repeat
    device: str = "auto"
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    task: str = "classification"
    train_patients: tuple[int, ...] = ()  # training-set sizes in patients (segmentation)
    segmenter: SegmenterConfig = field(default_factory=SegmenterConfig)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise BrainsynthError(f"--task {self.task!r}: choose one of {', '.join(TASKS)}")
        if self.sequence not in INPUT_SEQUENCES:
            raise BrainsynthError(
                f"--sequence {self.sequence!r}: choose one of {', '.join(INPUT_SEQUENCES)}"
            )
        if not self.fractions and not self.train_patients:
            raise BrainsynthError("--fractions: give at least one fraction")
        for f in self.fractions:
            if not 0 < f <= 1:
                whole = f > 1 and f % 1 == 0
                hint = f"; for {f:g} patients use --train-patients {f:g}" if whole else ""
                raise BrainsynthError(f"--fractions: {f:g} is not in (0, 1]{hint}")
        if len(set(self.fractions)) != len(self.fractions):
            raise BrainsynthError("--fractions: each fraction once")
        self.check_train_patients()
        arms = SEGMENTATION_ARMS if self.task == "segmentation" else ARMS
        unknown = [a for a in self.arms if a not in arms]
        if unknown or "real" not in self.arms:
            raise BrainsynthError(
                f"--arms: choose from {', '.join(arms)} and include 'real' (the reference)"
            )
        if self.repeats < 1:
            raise BrainsynthError(f"--repeats {self.repeats}: must be >= 1")
        if self.synthetic_ratio < 0 or not math.isfinite(self.synthetic_ratio):
            raise BrainsynthError(f"--synthetic-ratio {self.synthetic_ratio}: must be >= 0")
        if self.uses_synthetic and self.synthetic_ratio == 0:
            raise BrainsynthError("--synthetic-ratio 0 with a synthetic arm: nothing to add")
        if not (0 < self.val_fraction < 1 and 0 < self.test_fraction < 1):
            raise BrainsynthError("validation and test fractions must be in (0, 1)")
        if self.val_fraction + self.test_fraction >= 1:
            raise BrainsynthError("validation + test fractions leave no training patients")
        if self.gen_iters is not None and self.gen_iters < 1:
            raise BrainsynthError(f"--gen-iters {self.gen_iters}: must be >= 1")
        if self.n_boot < 100:
            raise BrainsynthError(f"bootstrap resamples {self.n_boot}: use at least 100")
        for key, runs in self.runs.items():
            if float(key) not in self.fractions:
                raise BrainsynthError(f"--runs {key}=...: {key} is not one of --fractions")
            if len(runs) not in (1, self.repeats):
                raise BrainsynthError(
                    f"--runs {key}=...: give one run, or one per repeat ({self.repeats})"
                )

    def check_train_patients(self) -> None:
        if self.train_patients and self.task != "segmentation":
            raise BrainsynthError("--train-patients: only with --task segmentation")
        for k in self.train_patients:
            if isinstance(k, bool) or not isinstance(k, int) or k < 1:
                raise BrainsynthError(f"--train-patients: {k!r} is not a whole number >= 1")
        if len(set(self.train_patients)) != len(self.train_patients):
            raise BrainsynthError("--train-patients: each count once")

    @property
    def uses_synthetic(self) -> bool:
        return any("synthetic" in arm for arm in self.arms)

    def runs_for(self, fraction: float, repeat: int) -> str | None:
        """The run given with ``--runs`` for this fraction and repeat, if any."""
        for key, runs in self.runs.items():
            if float(key) == fraction:
                return runs[repeat] if len(runs) > 1 else runs[0]
        return None


def parse_fractions(text: str) -> tuple[float, ...]:
    """``"0.1,0.25,1"`` -> (0.1, 0.25, 1.0), sorted."""
    try:
        values = tuple(sorted(float(v) for v in text.split(",") if v.strip()))
    except ValueError as exc:
        raise BrainsynthError(f"--fractions {text!r}: expected numbers like 0.1,0.25,1") from exc
    return values


def parse_patient_counts(text: str) -> tuple[int, ...]:
    """``"2,4"`` -> (2, 4), sorted: training-set sizes in patients (``--train-patients``)."""
    try:
        values = tuple(sorted(int(v) for v in text.split(",") if v.strip()))
    except ValueError as exc:
        raise BrainsynthError(
            f"--train-patients {text!r}: expected whole numbers of patients like 2,4"
        ) from exc
    if not values:
        raise BrainsynthError("--train-patients: give at least one number of patients")
    return values


def parse_runs(items: list[str] | None) -> dict[str, list[str]]:
    """``["0.25=runs/a,runs/b", "1=runs/c"]`` -> {"0.25": [...], "1.0": [...]}."""
    runs: dict[str, list[str]] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        paths = [p for p in value.split(",") if p.strip()]
        try:
            fraction = float(key)
        except ValueError:
            fraction = math.nan
        if not sep or not paths or not math.isfinite(fraction):
            raise BrainsynthError(f"--runs {item!r}: expected FRACTION=RUN[,RUN...]")
        runs[str(fraction)] = paths
    return runs
