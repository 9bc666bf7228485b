"""The training loop: iterations, logging, sample grids, checkpoints, stops.

One iteration is one generator update (``--iters`` counts them); objectives with
``n_critic > 1`` do that many discriminator updates before each. Nothing is lost on a stop:
SIGINT/SIGTERM and an exhausted ``max_seconds`` budget save ``checkpoints/last.pt`` and
return; a NaN or infinite loss stops with an error and keeps the last good checkpoint (never
overwritten by the broken state). Resume restores models, optimisers, EMA, objective and
augmentation state, iteration and every RNG, so a run resumed to N equals an uninterrupted
run to N (fp32, CPU). Only the main process (``runtime.is_main``) writes files.
"""

from __future__ import annotations

import random
import shutil
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from brainsynth.config import config_to_dict
from brainsynth.errors import BrainsynthError
from brainsynth.models import architecture
from brainsynth.models.checkpoint import ModelRecord, model_record, save_checkpoint
from brainsynth.models.shape import ModelShape
from brainsynth.training import rng
from brainsynth.training.config import TrainConfig
from brainsynth.training.data import EpochSampler, load_training_images
from brainsynth.training.run_folder import RunLogger, write_done
from brainsynth.training.runtime import Runtime
from brainsynth.training.step import GanTrainer

GRID_SIZE = 64  # images in samples/grid-<iter>.png
# What ``max_seconds`` counts: wall-clock time, or this process's CPU time (all its threads),
# which on a machine shared with other jobs measures the run, not its neighbours.
BUDGET_CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


@dataclass
class RunResult:
    """How a call to the loop ended: ``reason`` is done | time | SIGINT | SIGTERM."""

    run: Path
    iteration: int
    reason: str


@contextmanager
def _stop_on_signals(stop: dict[str, str | None]):
    """While active, SIGINT/SIGTERM set ``stop['signal']`` instead of killing the process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        stop["signal"] = signal.Signals(signum).name
        print(f"\nbrainsynth: {stop['signal']} received, saving a checkpoint after this iteration")

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def run_model_record(config: TrainConfig, images: torch.Tensor) -> ModelRecord:
    """The architecture, its full settings and the shape this run trains."""
    options = architecture(config.model.arch).Config(**config.model.options)
    shape = ModelShape(
        size=images.shape[-1],
        channels=images.shape[1],
        latent=config.model.latent,
        num_classes=len(config.data.label_names) if config.data.condition != "none" else 0,
    )
    return ModelRecord(config.model.arch, config_to_dict(options), shape)


class _Checkpointer:
    """Writes ``last.pt`` (and periodic copies) of the trainer's whole state."""

    def __init__(self, run_dir: Path, config: TrainConfig, record: ModelRecord) -> None:
        self.dir = run_dir / "checkpoints"
        self.fixed = {**record.as_dict(), "train": config_to_dict(config)}

    def save(self, iteration: int, trainer: GanTrainer, sampler: EpochSampler, periodic: bool):
        state = {
            "iteration": iteration,
            **self.fixed,
            "trainer": trainer.state_dict(),
            "sampler": sampler.state_dict(),
            "rng": rng.capture_rng_state(),
        }
        last = save_checkpoint(self.dir / "last.pt", state)
        if periodic:
            periodic_path = self.dir / f"iter-{iteration:06d}.pt"
            shutil.copyfile(last, periodic_path.with_suffix(".tmp"))
            periodic_path.with_suffix(".tmp").replace(periodic_path)
        return last


def _restore(state: dict[str, Any], path: Path, trainer: GanTrainer, sampler: EpochSampler) -> int:
    """Load a checkpoint's state into the trainer, sampler and global RNGs; its iteration."""
    saved = model_record(state, path)
    saved_options = architecture(saved.arch).Config(**saved.arch_config)
    saved = ModelRecord(saved.arch, config_to_dict(saved_options), saved.shape)
    if saved != trainer.record:
        raise BrainsynthError(
            f"{path}: checkpoint model {saved.as_dict()} does not match this run's model "
            f"{trainer.record.as_dict()}"
        )
    trainer.load_state_dict(state["trainer"], path)
    sampler.load_state_dict(state["sampler"])
    rng.restore_rng_state(state["rng"])
    return int(state["iteration"])


def _check_finite(logs: dict[str, torch.Tensor], iteration: int, last_good: Path | None):
    values = torch.stack([v.float() for v in logs.values()]).cpu()
    if not torch.isfinite(values).all():
        shown = ", ".join(f"{k}={v:.4g}" for k, v in zip(logs, values.tolist(), strict=True))
        kept = f"last good checkpoint: {last_good}" if last_good else "none saved"
        raise BrainsynthError(
            f"non-finite loss at iteration {iteration} ({shown}); training stopped, "
            f"{kept}. Try a lower --lr or --precision fp32."
        )
    return dict(zip(logs, values.tolist(), strict=True))


def training_loop(
    config: TrainConfig,
    runtime: Runtime,
    resume_state: dict[str, Any] | None = None,
    resume_path: Path | None = None,
) -> RunResult:
    """Train until ``config.run.iters`` generator updates, a signal or the time budget.

    ``config`` is resolved and already written to the run folder; ``resume_state`` is a
    loaded checkpoint (from ``resume_path``) to continue from, or None for a fresh start.
    """
    from tqdm.auto import tqdm

    run, run_dir = config.run, Path(config.run.out)
    images = load_training_images(config.data.prepared, config.data.sequence)
    record = run_model_record(config, images)
    _seed_everything(run.seed)
    trainer = GanTrainer(config, record, runtime)
    sampler = EpochSampler(images, run.batch // run.world_size, run.seed, runtime.device)
    start = 0
    if resume_state is not None:
        start = _restore(resume_state, resume_path or run_dir, trainer, sampler)
    grid_z = torch.randn(GRID_SIZE, record.shape.latent,
                         generator=torch.Generator().manual_seed(run.seed + 2))  # fmt: skip
    checkpointer = _Checkpointer(run_dir, config, record)
    logger = RunLogger(run_dir, start) if runtime.is_main else None
    images_per_iter = run.batch * trainer.objective.n_critic
    # A run capped by a time budget far short of ``iters`` would show a meaningless ETA, so
    # its bar counts iterations and names the budget instead.
    name = config.objective.name if config.model.arch == "dcgan" else config.model.arch
    budgeted = run.max_seconds is not None
    unit = "CPU s" if run.budget_clock == "cpu" else "s"
    bar = tqdm(
        total=None if budgeted else run.iters,
        initial=start,
        disable=not (run.progress and runtime.is_main),
        unit="it",
        dynamic_ncols=True,
        desc=f"{name} (stops after {run.max_seconds:.0f} {unit})" if budgeted else name,
    )
    stop: dict[str, str | None] = {"signal": None}
    clock = BUDGET_CLOCKS[run.budget_clock]
    budget_began, cpu_began = clock(), time.process_time()
    began = interval_start = time.perf_counter()
    step_seconds = overhead_seconds = 0.0
    iteration, reason, last_good, saved_at, logged_at = start, "done", resume_path, start, start

    def save(periodic: bool) -> Path | None:
        if not runtime.is_main:
            return None
        return checkpointer.save(iteration, trainer, sampler, periodic)

    try:
        with _stop_on_signals(stop):
            while iteration < run.iters:
                t0 = time.perf_counter()
                logs = trainer.step(sampler, iteration)
                values = _check_finite(logs, iteration + 1, last_good)
                t1 = time.perf_counter()
                step_seconds += t1 - t0
                iteration += 1
                bar.update(1)
                if logger and (iteration % run.log_every == 0 or iteration == run.iters):
                    now = time.perf_counter()
                    record_ = {"iter": iteration, **values}
                    done_iters = iteration - logged_at
                    record_["images_per_s"] = done_iters * images_per_iter / (now - interval_start)
                    record_["seconds"] = now - began
                    logger.log(record_)
                    bar.set_postfix({k: f"{v:.3f}" for k, v in values.items() if "loss" in k})
                    interval_start, logged_at = now, iteration
                if logger and (iteration % run.sample_every == 0 or iteration == run.iters):
                    grid = trainer.sampling_generator().to_images(trainer.sample(grid_z))
                    logger.grid(iteration, grid.cpu().numpy())
                if iteration % run.checkpoint_every == 0:
                    last_good, saved_at = save(periodic=True) or last_good, iteration
                overhead_seconds += time.perf_counter() - t1
                if stop["signal"]:
                    reason = stop["signal"]
                    break
                if run.max_seconds is not None and clock() - budget_began >= run.max_seconds:
                    reason = "time"
                    break
            if last_good is None or iteration != saved_at:
                last_good = save(periodic=False) or last_good
    finally:
        bar.close()
        if logger:
            logger.close()
    summary = {
        "iteration": iteration,
        "iters": run.iters,
        "reason": reason,
        "seconds": time.perf_counter() - began,
        "cpu_seconds": time.process_time() - cpu_began,
        "step_seconds": step_seconds,
        "overhead_seconds": overhead_seconds,
    }
    if iteration >= run.iters and runtime.is_main:
        write_done(run_dir, summary)
    if reason != "done" and runtime.is_main:
        print(
            f"brainsynth: stopped at iteration {iteration}/{run.iters} ({reason}); checkpoint "
            f"{last_good}; continue with: brainsynth train --resume {run_dir}"
        )
    return RunResult(run_dir, iteration, reason)
