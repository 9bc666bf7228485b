"""Start or continue a run: resolve the config, check everything, then write and train.

:func:`train` / :func:`run_training` start a fresh run in ``config.run.out``: a new or empty
folder, or one ``train`` made (see :mod:`brainsynth.outputs`), never a folder that already
holds a run, a prepared dataset or files of the user's. :func:`resume` /
:func:`resume_training` continue a run folder from ``checkpoints/last.pt``, which is read
once. Either way nothing in the folder changes until every check has passed: the config,
the data (found, same image size and count), the model and the checkpoint's keys. Only then
are ``config.yaml`` (paths absolute, so a run resumes from any working folder) and the other
files written. Runs of brainsynth 0.1.0 (a flat ``config.yaml``, checkpoint version 1)
resume too.

Under torchrun every rank calls these; rank 0 alone claims and writes the run folder and
reads the checkpoint, which it sends to the others (:func:`on_main`). ``config.yaml``
records how the run ran: ``run.world_size`` and ``run.per_rank_batch``. A run resumes on
any number of processes (its sampler and RNG states are the global ones), except with
``run.batch_norm: local`` and batch norms in the networks, whose statistics depend on the
per-process batch: that is refused in one line.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from brainsynth.config import config_from_dict, config_to_dict, save_config
from brainsynth.errors import BrainsynthError
from brainsynth.models import family, family_names
from brainsynth.models.checkpoint import find_checkpoint, load_checkpoint
from brainsynth.models.family import Family
from brainsynth.models.upgrade import is_flat, nest_flat_config
from brainsynth.outputs import (
    FolderClaim,
    Vocabulary,
    check_path_text,
    claim_folder,
    read_marker,
    shown,
)
from brainsynth.training.config import (
    OBJECTIVE_DEFAULTS,
    ONE_NETWORK_DEFAULTS,
    TrainConfig,
)
from brainsynth.training.distributed import Launch, on_main
from brainsynth.training.loop import RunResult, training_loop
from brainsynth.training.run_folder import DONE_FILE
from brainsynth.training.runtime import RankQuietError, Runtime, resolve_precision


def complete(config: TrainConfig, chosen: Family | None = None) -> TrainConfig:
    """``config`` with per-objective defaults and every setting of its family filled in,
    after checking that the family can train as asked. ``chosen``: the family of
    ``config.model.arch`` when the caller has it already."""
    chosen = chosen or family(config.model.arch)
    check_conditioning(config, chosen)
    objective = config.objective.name or chosen.default_objective
    check_family_settings(config, chosen, objective)
    shared = OBJECTIVE_DEFAULTS.get(objective, ONE_NETWORK_DEFAULTS)
    defaults = {**shared, **chosen.objective_defaults.get(objective, {})}
    option_defaults = dict(chosen.objective_options.get(objective, {}))
    config = config.resolved(objective, defaults, option_defaults)
    known = set(chosen.setting_names)
    unknown = sorted(set(config.model.options) - known)
    if unknown:
        raise BrainsynthError(
            f"architecture {chosen.name!r} has no setting {', '.join(unknown)}; its "
            f"settings (--arch-option KEY=VALUE): {', '.join(sorted(known))}"
        )
    options = chosen.Config(**config.model.options)
    model = dataclasses.replace(config.model, options=config_to_dict(options))
    return dataclasses.replace(config, model=model)


def check_conditioning(config: TrainConfig, chosen: Family) -> None:
    """One-line errors for a condition the family cannot take (class labels, or a tumour
    mask: the families that can are named), or one it must have and was not given."""
    condition = config.data.condition
    if condition == "mask" and "mask" not in chosen.conditioning:
        able = [f.name for f in map(family, family_names()) if "mask" in f.conditioning]
        raise BrainsynthError(f"--arch {chosen.name} cannot draw images for a tumour mask "
                              f"(--condition mask): use --arch {' | '.join(able)}")  # fmt: skip
    if condition not in ("none", "mask") and "class" not in chosen.conditioning:
        raise BrainsynthError(
            f"--arch {chosen.name} cannot be conditioned on labels (--condition {condition})"
        )
    if "mask" in chosen.requires and condition != "mask":
        raise BrainsynthError(f"--arch {chosen.name} ({chosen.display_name}) draws images for "
                              "given tumour masks: train it with --condition mask")  # fmt: skip


def check_family_settings(config: TrainConfig, chosen: Family, objective: str) -> None:
    """One-line errors for settings the family cannot use: an objective that is not one of
    its own (a denoising family trains with its own loss, a GAN with the adversarial
    objectives), and augmentation of discriminator inputs for a family with none."""
    arch, own = chosen.name, ", ".join(chosen.objectives)
    if objective not in chosen.objectives:
        if chosen.trainer != "adversarial":
            raise BrainsynthError(f"--arch {arch} ({chosen.display_name}) trains with its own "
                                  f"loss ({own}), not --objective {objective}")  # fmt: skip
        others = [f for f in map(family, family_names()) if objective in f.objectives]
        if others:
            names = ", ".join(f"--arch {f.name}" for f in others)
            raise BrainsynthError(f"--objective {objective} is the objective of {names}; "
                                  f"--arch {arch} is a GAN (objectives: {own})")  # fmt: skip
        raise BrainsynthError(f"unknown --objective {objective!r}: --arch {arch} trains with "
                              f"{own}")  # fmt: skip
    if chosen.trainer != "adversarial" and config.augment.policy:
        raise BrainsynthError(f"--arch {arch} has no discriminator: --augment (DiffAugment of "
                              "discriminator inputs) does not apply")  # fmt: skip


RUN_FILES: tuple[str, ...] = (
    "config.yaml",
    "sampling.yaml",
    "checkpoints",
    "metrics.jsonl",
    "samples",
    "tb",
    DONE_FILE,
)
"""What ``train`` writes into its run folder (all of it replaceable by ``train`` only)."""

RUN_VOCABULARY = Vocabulary(
    files=tuple(n for n in RUN_FILES if n not in ("checkpoints", "samples", "tb")),
    folders=("checkpoints", "samples", "tb"),
)
"""What a run folder's marker may list: ``train``'s files, and its three folders."""


def legacy_run(folder: Path) -> set[str] | None:
    """A run folder without marker (brainsynth 0.1.0): a config.yaml beside checkpoints/."""
    if (folder / "config.yaml").is_file() and (folder / "checkpoints").is_dir():
        return {name for name in RUN_FILES if (folder / name).exists()}
    return None


def check_fresh(out: str | Path) -> Path:
    """``out`` as a Path, if it does not hold a training run already."""
    run_dir = Path(out)
    if (run_dir / "checkpoints").is_dir():
        raise BrainsynthError(
            f"{shown(run_dir)}: already holds a training run; continue it with "
            f"'brainsynth train --resume {shown(run_dir)}' or choose another --out"
        )
    return run_dir


def claim_run(out: str | Path, resuming: bool, overwrite: bool = False) -> FolderClaim:
    """Check, before any work, that ``train`` may write the run folder ``out``.

    A fresh run needs a new or empty folder, or one train made that holds no run yet; a
    resumed run needs a folder train made (or a 0.1.0 run). Either must be writable.
    """
    check_path_text(out, "--resume" if resuming else "--out")
    if not resuming:
        check_fresh(out)
    flag = "--resume" if resuming else "--out"
    return claim_folder(
        out, "train", flag, RUN_FILES, overwrite, legacy_run, vocabulary=RUN_VOCABULARY
    )


def run_training(
    config: TrainConfig,
    runtime: Runtime | None = None,
    resume_state: dict[str, Any] | None = None,
    resume_path: Path | None = None,
    overwrite: bool = False,
    extra_configs: dict[str, Any] | None = None,
) -> RunResult:
    """Complete ``config``, check everything, write ``config.yaml`` first, train.

    ``extra_configs`` (file name -> dataclass, e.g. ``sampling.yaml``) are written beside
    ``config.yaml``, after the checks. ``overwrite`` lets a fresh run write into a folder
    train did not make (replacing only the files train writes).
    """
    chosen = family(config.model.arch)  # the one lookup of this run's family
    config = complete(config, chosen)
    runtime = runtime or Runtime.single(config.run.device)
    recorded = dataclasses.replace(
        config.run,
        precision=resolve_precision(config.run.precision, runtime.device),  # what it ran with
        world_size=runtime.world_size,
        per_rank_batch=runtime.per_rank_batch(config.run.batch),
    )
    config = dataclasses.replace(config, run=recorded)
    run_dir = Path(config.run.out)
    claims: list[FolderClaim] = []  # rank 0's; the other ranks write nothing

    def claim() -> None:
        claims.append(claim_run(run_dir, resuming=resume_state is not None, overwrite=overwrite))

    on_main(runtime, claim)  # its error, if any, stops every rank

    def begin() -> None:  # rank 0, once every check has passed
        names = [name for name in RUN_FILES if name != "sampling.yaml"]
        claims[0].begin([*names, *(extra_configs or {})])
        save_config(config, run_dir / "config.yaml")
        for name, extra in (extra_configs or {}).items():
            save_config(extra, run_dir / name)
        (run_dir / DONE_FILE).unlink(missing_ok=True)  # stale after a resume to more iters

    return training_loop(config, chosen, runtime, resume_state, resume_path, begin=begin)


def train(config: TrainConfig, extra_configs: dict[str, Any] | None = None) -> Path:
    """Train a generator as ``config`` says; returns the run folder (``config.run.out``).

    ``extra_configs``: more files for the run folder, e.g. ``{"sampling.yaml":
    SamplingConfig(background_floor=0.25)}`` (what ``train --background-floor`` writes).
    """
    return run_training(config, extra_configs=extra_configs).run


def load_run_config(run: Path) -> TrainConfig:
    """A run folder's ``config.yaml`` (this version's, or 0.1.0's flat one)."""
    path = run / "config.yaml"
    marker = read_marker(run)
    if marker is not None and marker["command"] != "train":
        raise BrainsynthError(
            f"--resume {shown(run)}: not a training run (made by 'brainsynth {marker['command']}')"
        )
    if not path.is_file():
        raise BrainsynthError(f"{shown(run)}: not a run folder (config.yaml is missing)")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise BrainsynthError(f"{path}: not valid YAML ({exc.__class__.__name__})") from exc
    if not isinstance(data, dict):
        raise BrainsynthError(f"{shown(path)}: not a training config")
    if is_flat(data):  # brainsynth 0.1.0's
        data = nest_flat_config(data, run)
    return config_from_dict(TrainConfig, data)


def resume_training(
    run: Path | str,
    iters: int | None = None,
    max_seconds: float | None = None,
    progress: bool | None = None,
    runtime: Runtime | None = None,
    launch: Launch | None = None,
) -> RunResult:
    """Continue ``run`` from ``checkpoints/last.pt`` up to ``iters`` (default: its config's).

    ``runtime``: where to run; or ``launch`` (torchrun's processes), whose device is then the
    run's own ``run.device``; neither: one process on that device.
    """
    run = Path(run)
    where = runtime or launch or Launch()

    def read() -> tuple[TrainConfig, Path, dict[str, Any]]:
        config = load_run_config(run)
        last = find_checkpoint(run)
        return config, last, load_checkpoint(last)

    config, last, state = on_main(where, read)
    changes: dict[str, Any] = {"out": str(run), "max_seconds": max_seconds}
    if iters is not None:
        changes["iters"] = iters
    if progress is not None:
        changes["progress"] = progress
    config = dataclasses.replace(config, run=dataclasses.replace(config.run, **changes))
    done = int(state["iteration"])
    if done >= config.run.iters:
        if where.is_main:
            print(f"brainsynth: {shown(run)} is already at iteration {done} >= "
                  f"{config.run.iters}; nothing to do")  # fmt: skip
        return RunResult(run, done, "done")
    if runtime is None:
        runtime = (launch or Launch()).runtime(config.run.device)
    check_process_count(config, state, runtime, run)
    return run_training(config, runtime, resume_state=state, resume_path=last)


def check_process_count(
    config: TrainConfig, state: dict[str, Any], runtime: Runtime, run: Path
) -> None:
    """Refuse, in one line, to resume a ``batch_norm: local`` run on another number of
    processes (its batch statistics are per process); say so when a run changes it."""
    before, now = config.run.world_size, runtime.world_size
    if before == now:
        return
    networks = state["trainer"]
    uses_batch_norm = any(
        key.endswith("running_mean")
        for part in ("generator", "discriminator")
        for key in networks.get(part, {})
    )
    if config.run.batch_norm == "local" and uses_batch_norm and max(before, now) > 1:
        raise RankQuietError(
            f"{shown(run)}: trained on {before} process(es) with batch_norm: local, i.e. batch "
            f"statistics over {config.run.batch // before} images per process; resuming on "
            f"{now} would change them. Resume it with {before} process(es)"
        )
    if runtime.is_main:
        print(f"brainsynth: {shown(run)} was trained on {before} process(es), continues on {now}; "
              f"each takes its share of the same global batch of {config.run.batch}")  # fmt: skip


def resume(run: Path | str, iters: int | None = None, max_seconds: float | None = None) -> Path:
    """Continue a run to ``iters`` generator updates; returns the run folder."""
    return resume_training(run, iters, max_seconds).run
