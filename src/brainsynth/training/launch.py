"""Start or continue a run: resolve the config, write ``config.yaml`` first, run the loop.

:func:`train` / :func:`run_training` start a fresh run in ``config.run.out`` (refusing a
folder that already holds one); :func:`resume` / :func:`resume_training` continue a run
folder from ``checkpoints/last.pt``, which is read once. Runs of brainsynth 0.1.0 (a flat
``config.yaml``, checkpoint version 1) resume too.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from brainsynth.config import config_from_dict, config_to_dict, save_config
from brainsynth.errors import BrainsynthError
from brainsynth.models import architecture
from brainsynth.models.checkpoint import find_checkpoint, load_checkpoint
from brainsynth.training.config import TrainConfig, flat_to_nested, is_flat
from brainsynth.training.loop import RunResult, training_loop
from brainsynth.training.run_folder import DONE_FILE
from brainsynth.training.runtime import Runtime


def complete(config: TrainConfig) -> TrainConfig:
    """``config`` with per-objective defaults and every architecture setting filled in."""
    arch = architecture(config.model.arch)
    config = config.resolved(getattr(arch, "DEFAULT_OBJECTIVE", "dcgan"))
    known = {f.name for f in dataclasses.fields(arch.Config)}
    unknown = sorted(set(config.model.options) - known)
    if unknown:
        raise BrainsynthError(
            f"architecture {config.model.arch!r} has no setting {', '.join(unknown)}; its "
            f"settings (--arch-option KEY=VALUE): {', '.join(sorted(known))}"
        )
    options = arch.Config(**config.model.options)
    model = dataclasses.replace(config.model, options=config_to_dict(options))
    return dataclasses.replace(config, model=model)


def check_fresh(out: str | Path) -> Path:
    """``out`` as a Path, if it does not hold a training run already."""
    run_dir = Path(out)
    if (run_dir / "checkpoints").is_dir():
        raise BrainsynthError(
            f"{run_dir}: already holds a training run; continue it with "
            f"'brainsynth train --resume {run_dir}' or choose another --out"
        )
    return run_dir


def run_training(
    config: TrainConfig,
    runtime: Runtime | None = None,
    resume_state: dict[str, Any] | None = None,
    resume_path: Path | None = None,
) -> RunResult:
    """Complete ``config``, write ``config.yaml`` first (main process), then run the loop."""
    config = complete(config)
    runtime = runtime or Runtime.single(config.run.device)
    run_dir = Path(config.run.out)
    if resume_state is None:
        check_fresh(run_dir)
    if runtime.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(config, run_dir / "config.yaml")
        (run_dir / DONE_FILE).unlink(missing_ok=True)  # stale after a resume to more iters
    return training_loop(config, runtime, resume_state, resume_path)


def train(config: TrainConfig) -> Path:
    """Train a GAN as ``config`` says; returns the run folder (``config.run.out``)."""
    return run_training(config).run


def load_run_config(run: Path) -> TrainConfig:
    """A run folder's ``config.yaml`` (this version's, or 0.1.0's flat one)."""
    path = run / "config.yaml"
    if not path.is_file():
        raise BrainsynthError(f"{run}: not a run folder (config.yaml is missing)")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise BrainsynthError(f"{path}: not valid YAML ({exc.__class__.__name__})") from exc
    return config_from_dict(TrainConfig, flat_to_nested(data) if is_flat(data) else data)


def resume_training(
    run: Path | str,
    iters: int | None = None,
    max_seconds: float | None = None,
    progress: bool | None = None,
    runtime: Runtime | None = None,
) -> RunResult:
    """Continue ``run`` from ``checkpoints/last.pt`` up to ``iters`` (default: its config's)."""
    run = Path(run)
    config = load_run_config(run)
    last = find_checkpoint(run)
    changes: dict[str, Any] = {"out": str(run), "max_seconds": max_seconds}
    if iters is not None:
        changes["iters"] = iters
    if progress is not None:
        changes["progress"] = progress
    config = dataclasses.replace(config, run=dataclasses.replace(config.run, **changes))
    state = load_checkpoint(last)
    done = int(state["iteration"])
    if done >= config.run.iters:
        print(f"brainsynth: {run} is already at iteration {done} >= {config.run.iters}; "
              "nothing to do")  # fmt: skip
        return RunResult(run, done, "done")
    return run_training(config, runtime, resume_state=state, resume_path=last)


def resume(run: Path | str, iters: int | None = None, max_seconds: float | None = None) -> Path:
    """Continue a run to ``iters`` generator updates; returns the run folder."""
    return resume_training(run, iters, max_seconds).run
