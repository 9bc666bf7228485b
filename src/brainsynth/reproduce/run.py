"""``brainsynth reproduce``: the paper's twelve configurations (Table 1), one command.

For each configuration, in the paper's order: train (or resume an unfinished run), sample,
evaluate, and keep the result in ``OUT/<slug>/``. Finished steps are skipped, so an
interrupted reproduction picks up where it stopped. The table is rewritten after every
configuration (``table1.md``, ``table1.csv``, ``table1.html``).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from brainsynth.config import load_config, save_config
from brainsynth.data.dataset import load_prepared
from brainsynth.errors import BrainsynthError
from brainsynth.outputs import Vocabulary, claim_folder, inside
from brainsynth.paper import Configuration, paper_configurations
from brainsynth.pipeline import Experiment, run_experiment
from brainsynth.report.table1 import write_table1
from brainsynth.reproduce.config import ReproduceConfig
from brainsynth.sampling import SamplingConfig
from brainsynth.training import DataConfig, ModelConfig, ObjectiveConfig, RunConfig, TrainConfig

TABLE_FILES: tuple[str, ...] = ("table1.md", "table1.csv", "table1.html")


def output_names(configurations: list[Configuration]) -> list[str]:
    """The entries ``reproduce`` writes at the top of its folder."""
    return ["config.yaml", *TABLE_FILES, *(c.slug for c in configurations)]


def reproduce_vocabulary() -> Vocabulary:
    """What a reproduction's marker may list: its files and one folder per configuration."""
    return Vocabulary(
        files=("config.yaml", *TABLE_FILES), folders=tuple(c.slug for c in paper_configurations())
    )


def legacy_reproduction(folder: Path) -> set[str] | None:
    """A folder written by brainsynth 0.1's ``reproduce`` (no marker): its entries."""
    try:
        load_config(ReproduceConfig, folder / "config.yaml")
    except BrainsynthError:
        return None
    names = output_names(paper_configurations())
    return {name for name in names if (folder / name).exists()}


def run_reproduce(
    config: ReproduceConfig, only: list[str] | None = None, overwrite: bool = False
) -> Path:
    """Run (or resume) every configuration, then write the tables; returns ``table1.md``.

    ``config.out`` must be new, empty or an earlier reproduction's (see
    :mod:`brainsynth.outputs`); that is checked with the data sizes, before any training.
    """
    configurations = paper_configurations()
    names = output_names(configurations)
    claim = claim_folder(
        config.out, "reproduce", "--out", names, overwrite, legacy_reproduction,
        reproduce_vocabulary(),
    )  # fmt: skip
    check_sizes(config)
    out = Path(config.out)
    claim.begin(names)
    save_config(config, out / "config.yaml")
    todo = [c for c in configurations if only is None or c.slug in only]
    for index, configuration in enumerate(todo, 1):
        print(f"\n== [{index}/{len(todo)}] {configuration.label}", flush=True)
        run_configuration(config, configuration)
        write_tables(config, configurations)
    return write_tables(config, configurations)


def check_sizes(config: ReproduceConfig) -> None:
    """Refuse prepared datasets of the wrong image size before hours of training start."""
    for flag, path, size in (("--data64", config.data64, 64), ("--data128", config.data128, 128)):
        found = load_prepared(path).size
        if found != size:
            raise BrainsynthError(
                f"{flag} {path}: images are {found}x{found}, expected {size}x{size} "
                f"(brainsynth prepare --size {size})"
            )


def run_configuration(config: ReproduceConfig, configuration: Configuration) -> dict[str, Any]:
    """Train, sample and evaluate one configuration, skipping the steps already finished.

    EMA and DiffAugment stay off (the configs' defaults): this is the paper's setting.
    """
    experiment = Experiment(inside(config.out, configuration.slug, "configuration"))
    if experiment.metrics.is_file():
        print("   finished earlier: skipped", flush=True)
        return json.loads(experiment.metrics.read_text())
    data = config.data64 if configuration.size == 64 else config.data128
    train_config = TrainConfig(
        data=DataConfig(data, configuration.sequence),
        model=ModelConfig(options={"width": config.width}),
        objective=ObjectiveConfig(name=configuration.gan),
        run=RunConfig(
            out=str(experiment.run),
            iters=config.iters,
            batch=config.batch,
            seed=config.seed,
            precision=config.precision,
            device=config.device,
        ),
    )
    real = load_prepared(data).image_set(configuration.sequence, as_float=False)
    return run_experiment(
        experiment,
        train_config,
        real,
        SamplingConfig(n=config.n_samples, seed=config.seed, device=config.device),
        dataclasses.replace(config.evaluation, seed=config.seed),
        extra={"configuration": configuration.label},
    )


def write_tables(config: ReproduceConfig, configurations: list[Configuration]) -> Path:
    """Write ``table1.md``, ``table1.csv`` and ``table1.html`` from what is finished so far."""
    return write_table1(config, configurations)
