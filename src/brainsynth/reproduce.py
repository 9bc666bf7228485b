"""``brainsynth reproduce``: the paper's twelve configurations (Table 1), one command.

For each configuration, in the paper's order: train (or resume an unfinished run), sample,
evaluate, and keep the result in ``OUT/<slug>/``. Finished steps are skipped, so an
interrupted reproduction picks up where it stopped. The table is rewritten after every
configuration (``table1.md``, ``table1.csv``, ``table1.html``).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brainsynth.config import save_config, write_text_atomic
from brainsynth.data.dataset import IMAGE_SET_LABELS
from brainsynth.metrics.evaluate import EvalConfig


@dataclass(frozen=True)
class Configuration:
    """One row of the paper's Table 1: an image set, a GAN and an image size."""

    sequence: str  # t1 | t1c | t2 | flair | concat
    gan: str  # dcgan | wgan
    size: int  # 64 | 128

    @property
    def label(self) -> str:
        """The row name as the paper prints it, e.g. ``T1 (DCGAN, 128x128)``."""
        return f"{IMAGE_SET_LABELS[self.sequence]} ({self.gan.upper()}, {self.size}x{self.size})"

    @property
    def slug(self) -> str:
        return f"{self.sequence}-{self.gan}-{self.size}"


def paper_configurations() -> list[Configuration]:
    """The twelve rows of Table 1 in the paper's order (§3.2.2, §4.2)."""
    rows = []
    for gan in ("dcgan", "wgan"):
        rows += [Configuration(s, gan, 128) for s in ("t1", "t1c", "t2", "flair", "concat")]
        rows.append(Configuration("concat", gan, 64))
    return rows


PAPER_TABLE1: dict[str, tuple[int, int, int, int, int]] = {
    # label: (accuracy %, real as real, real as synt, synt as real, synt as synt)
    "T1 (DCGAN, 128x128)": (70, 26, 24, 6, 44),
    "T1c (DCGAN, 128x128)": (71, 24, 26, 3, 47),
    "T2 (DCGAN, 128x128)": (64, 22, 28, 8, 42),
    "FLAIR (DCGAN, 128x128)": (54, 12, 38, 8, 42),
    "Concat (DCGAN, 128x128)": (77, 34, 16, 7, 43),
    "Concat (DCGAN, 64x64)": (54, 13, 37, 9, 41),
    "T1 (WGAN, 128x128)": (64, 20, 30, 6, 44),
    "T1c (WGAN, 128x128)": (55, 13, 37, 8, 42),
    "T2 (WGAN, 128x128)": (58, 19, 31, 11, 39),
    "FLAIR (WGAN, 128x128)": (62, 16, 34, 4, 46),
    "Concat (WGAN, 128x128)": (66, 31, 19, 15, 35),
    "Concat (WGAN, 64x64)": (53, 18, 32, 15, 35),
}
"""The paper's Table 1 (one physician's Visual Turing Test), for comparison."""


@dataclass
class ReproduceConfig:
    data64: str  # prepared dataset at 64x64 (brainsynth prepare --size 64)
    data128: str  # prepared dataset at 128x128 (brainsynth prepare --size 128)
    out: str  # output folder: one sub-folder per configuration, plus the tables
    iters: int = 20000  # generator iterations per configuration
    width: int = 32  # base channel width (the paper's half-width DCGAN)
    seed: int = 0  # seeds training, sampling and evaluation
    n_samples: int = 1000  # synthetic images per configuration for evaluation
    precision: str = "bf16"  # fp32 | bf16 (autocast)
    device: str = "auto"  # auto | cpu | cuda
    vtt_db: str | None = None  # a Visual Turing Test database whose studies fill VTT columns
    batch: int = 64  # the paper's batch size
    evaluation: EvalConfig = field(default_factory=EvalConfig)  # the evaluation's settings


def run_reproduce(config: ReproduceConfig, only: list[str] | None = None) -> Path:
    """Run (or resume) every configuration, then write the tables; returns ``table1.md``."""
    check_sizes(config)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(config, out / "config.yaml")
    configurations = paper_configurations()
    todo = [c for c in configurations if only is None or c.slug in only]
    for index, configuration in enumerate(todo, 1):
        print(f"\n== [{index}/{len(todo)}] {configuration.label}", flush=True)
        run_configuration(config, configuration)
        write_tables(config, configurations)
    return write_tables(config, configurations)


def check_sizes(config: ReproduceConfig) -> None:
    """Refuse prepared datasets of the wrong image size before hours of training start."""
    from brainsynth.data.dataset import load_prepared
    from brainsynth.errors import BrainsynthError

    for flag, path, size in (("--data64", config.data64, 64), ("--data128", config.data128, 128)):
        found = load_prepared(path).size
        if found != size:
            raise BrainsynthError(
                f"{flag} {path}: images are {found}x{found}, expected {size}x{size} "
                f"(brainsynth prepare --size {size})"
            )


def run_configuration(config: ReproduceConfig, configuration: Configuration) -> dict[str, Any]:
    """Train, sample and evaluate one configuration, skipping the steps already finished."""
    from brainsynth.data.dataset import load_prepared
    from brainsynth.metrics.evaluate import evaluate, format_summary
    from brainsynth.sampling import generate_with_info, write_samples
    from brainsynth.training import (
        DataConfig,
        ModelConfig,
        ObjectiveConfig,
        RunConfig,
        TrainConfig,
        is_finished,
        resume,
        train,
    )

    folder = Path(config.out) / configuration.slug
    metrics_path = folder / "metrics.json"
    if metrics_path.is_file():
        print("   finished earlier: skipped", flush=True)
        return json.loads(metrics_path.read_text())
    data = config.data64 if configuration.size == 64 else config.data128
    run_dir = folder / "run"
    if not (run_dir / "config.yaml").is_file():
        train(
            TrainConfig(
                data=DataConfig(data, configuration.sequence),
                model=ModelConfig(options={"width": config.width}),
                objective=ObjectiveConfig(name=configuration.gan),
                run=RunConfig(
                    out=str(run_dir),
                    iters=config.iters,
                    batch=config.batch,
                    seed=config.seed,
                    precision=config.precision,
                    device=config.device,
                ),
            )
        )
    elif not is_finished(run_dir):
        resume(run_dir, iters=config.iters)
    real = load_prepared(data).image_set(configuration.sequence, as_float=False)
    samples_dir = folder / "samples"
    fake, sampling = generate_with_info(
        run_dir, n=config.n_samples, seed=config.seed, device=config.device
    )
    write_samples(fake, samples_dir, grid=folder / "grid.png", meta=sampling)
    metrics = evaluate(
        real,
        fake,
        dataclasses.replace(config.evaluation, seed=config.seed),
        out_dir=folder / "evaluation",
    )
    metrics["fake_sampling"] = sampling
    metrics["configuration"] = configuration.label
    write_text_atomic(metrics_path, json.dumps(metrics, indent=2, default=str))
    print(format_summary(metrics), flush=True)
    return metrics


def write_tables(config: ReproduceConfig, configurations: list[Configuration]) -> Path:
    """Write ``table1.md``, ``table1.csv`` and ``table1.html`` from what is finished so far."""
    from brainsynth.report.table1 import write_table1

    return write_table1(config, configurations)
