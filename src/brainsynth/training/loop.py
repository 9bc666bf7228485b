"""The training loop: iterations, logging, sample grids, checkpoints, stops.

One iteration is one generator update (``--iters`` counts them); objectives with
``n_critic > 1`` do that many discriminator updates before each. The loop is the same for
every family: the trainer (:func:`~brainsynth.training.trainers.make_trainer`) does the
iteration and says what its state is. Nothing is lost on a stop:
SIGINT/SIGTERM and an exhausted ``max_seconds`` budget save ``checkpoints/last.pt`` and
return; a NaN or infinite loss, or generator weights that became NaN or infinite (checked
before every checkpoint), stop with an error and keep the last good checkpoint (never
overwritten by the broken state). Resume restores models, optimisers, EMA, objective and
augmentation state, iteration and every RNG, so a run resumed to N equals an uninterrupted
run to N (fp32, CPU). Only the main process (``runtime.is_main``) writes files.
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from brainsynth.config import config_to_dict
from brainsynth.errors import BrainsynthError
from brainsynth.models.checkpoint import ModelRecord, model_record, save_checkpoint
from brainsynth.models.family import Family
from brainsynth.models.shape import ModelShape
from brainsynth.outputs import shown
from brainsynth.training import rng
from brainsynth.training.config import RunConfig, TrainConfig
from brainsynth.training.data import (
    EpochSampler,
    load_training_set,
    to_model_range,
    warn_large_batch,
)
from brainsynth.training.distributed import StopVote, mean_over_ranks, on_main
from brainsynth.training.run_folder import RunLogger, write_done
from brainsynth.training.runtime import RankQuietError, Runtime, describe_device
from brainsynth.training.trainer import Trainer
from brainsynth.training.trainers import make_trainer

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


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def run_model_record(config: TrainConfig, family: Family, images: torch.Tensor) -> ModelRecord:
    """The family, its full settings and the shape this run trains (a latent size only for
    families that have one; a pair run's mask channels follow its image channels in
    ``images``)."""
    options = family.Config(**config.model.options)
    data = config.data
    shape = ModelShape(
        size=images.shape[-1],
        channels=images.shape[1] - data.mask_channels,
        latent=config.model.latent if family.uses_latent else None,
        num_classes=len(data.label_names) if data.condition != "none" else 0,
        mask_channels=data.mask_channels,
        condition_channels=data.condition_channels,
    )
    return ModelRecord(family, config_to_dict(options), shape)


class _Checkpointer:
    """Writes ``last.pt`` (and periodic copies) of the trainer's whole state."""

    def __init__(self, run_dir: Path, config: TrainConfig, record: ModelRecord) -> None:
        self.dir = run_dir / "checkpoints"
        self.fixed = {**record.as_dict(), "train": config_to_dict(config)}

    def save(self, iteration: int, trainer: Trainer, sampler: EpochSampler, periodic: bool):
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


def _restore(state: dict[str, Any], path: Path, trainer: Trainer, sampler: EpochSampler) -> int:
    """Load a checkpoint's state into the trainer, sampler and global RNGs; its iteration."""
    saved = model_record(state, path, trainer.family).with_config_defaults()
    now = trainer.record.shape
    if (saved.shape.size, saved.shape.channels) != (now.size, now.channels):
        raise BrainsynthError(
            f"{shown(path)}: the checkpoint was trained on {saved.shape.channels}-channel "
            f"{saved.shape.size} px images, but the data now gives {now.channels}-channel "
            f"{now.size} px images (prepared again at another size?), so it does not match "
            "this run's model"
        )
    if saved != trainer.record:
        raise BrainsynthError(
            f"{path}: checkpoint model {saved.as_dict()} does not match this run's model "
            f"{trainer.record.as_dict()}"
        )
    trainer.load_state_dict(state["trainer"], path)
    sampler.load_state_dict(state["sampler"])
    rng.restore_rng_state(state["rng"])
    return int(state["iteration"])


class _FiniteWatch:
    """Remembers, on the device, the first iteration whose losses were NaN or infinite.

    Reading it back waits for the device, so the loop checks it after every iteration on a
    CPU (where that costs nothing) but on a GPU only at steps that log, draw a sample grid or
    write a checkpoint (they wait for the GPU anyway), always before writing: a broken state
    never overwrites the last good checkpoint.
    """

    def __init__(self, runtime: Runtime, every: int) -> None:
        self.runtime, self.every = runtime, every
        self.first_bad = torch.zeros((), dtype=torch.int64, device=runtime.device)  # 0: none

    def add(self, logs: dict[str, torch.Tensor], iteration: int) -> None:
        finite = torch.stack([v.detach().float() for v in logs.values()]).isfinite().all()
        first = (self.first_bad == 0) & ~finite
        self.first_bad = torch.where(first, torch.full_like(self.first_bad, iteration),
                                     self.first_bad)  # fmt: skip

    def check(self, last_good: Path | None) -> None:
        """Raise on every rank, alike, if any rank has seen a non-finite loss."""
        bad = self.first_bad.clone()
        if self.runtime.distributed:
            bad = torch.where(bad == 0, torch.full_like(bad, 2**62), bad)
            dist.all_reduce(bad, op=dist.ReduceOp.MIN)
            bad = torch.where(bad == 2**62, torch.zeros_like(bad), bad)
        at = int(bad.item())
        if at:
            kept = f"last good checkpoint: {last_good}" if last_good else "none saved"
            error = BrainsynthError if self.runtime.is_main else RankQuietError
            raise error(
                f"non-finite loss at iteration {at}; training stopped, {kept}. Try a lower "
                "--lr or --precision fp32."
            )

    def check_weights(self, trainer: Trainer, iteration: int, last_good: Path | None) -> None:
        """Raise if the generator's (or its EMA's) weights hold NaN or infinite values, which
        the losses need not show (a checkpoint of them would sample NaN images). Every rank
        holds the same weights, so every rank raises alike."""
        networks = {"generator": trainer.generator, "EMA generator": trainer.sampling_generator()}
        for name, network in networks.items():
            tensors = [t for t in network.state_dict().values()
                       if isinstance(t, torch.Tensor) and t.is_floating_point()]  # fmt: skip
            if tensors and not bool(torch.stack([t.isfinite().all() for t in tensors]).all()):
                kept = f"last good checkpoint: {last_good}" if last_good else "none saved"
                error = BrainsynthError if self.runtime.is_main else RankQuietError
                raise error(
                    f"the {name}'s weights became NaN or infinite by iteration {iteration} "
                    f"(its losses were finite); training stopped, {kept}. Try a lower --lr or "
                    "--precision fp32."
                )


def finite_check_interval(runtime: Runtime, run: RunConfig) -> int:
    """Iterations between NaN checks: 1 on a CPU, ``log_every`` where checks wait for a GPU."""
    return 1 if runtime.device.type == "cpu" else run.log_every


def stop_vote_interval(runtime: Runtime) -> int:
    """Iterations between the ranks' stop votes: every one on CPUs, every 10 on GPUs, whose
    iterations take milliseconds (a vote costs tens of microseconds on one machine, more
    across machines). A signal then stops the run at most 9 iterations later."""
    return 1 if runtime.device.type == "cpu" else 10


def _log_values(logs: dict[str, torch.Tensor], runtime: Runtime) -> dict[str, float]:
    """The logged scalars as floats, averaged over the ranks (= over the global batch)."""
    values = mean_over_ranks(runtime, torch.stack([v.detach().float() for v in logs.values()]))
    return dict(zip(logs, values.cpu().tolist(), strict=True))


def _progress_bar(config: TrainConfig, runtime: Runtime, start: int) -> Any:
    """The tqdm bar (rank 0's only). A run capped by a time budget far short of ``iters``
    would show a meaningless ETA, so its bar counts iterations and names the budget."""
    from tqdm.auto import tqdm

    run = config.run
    family, objective = config.model.arch, config.objective.name
    name = family if objective in (family, None) else f"{family} {objective}"
    budgeted = run.max_seconds is not None
    unit = "CPU s" if run.budget_clock == "cpu" else "s"
    return tqdm(
        total=None if budgeted else run.iters,
        initial=start,
        disable=not (run.progress and runtime.is_main),
        unit="it",
        dynamic_ncols=True,
        desc=f"{name} (stops after {run.max_seconds:.0f} {unit})" if budgeted else name,
    )


def training_loop(
    config: TrainConfig,
    family: Family,
    runtime: Runtime,
    resume_state: dict[str, Any] | None = None,
    resume_path: Path | None = None,
    begin: Callable[[], None] | None = None,
) -> RunResult:
    """Train until ``config.run.iters`` generator updates, a signal or the time budget.

    ``config`` is resolved, for ``family`` (its ``model.arch``, resolved once by the caller);
    ``resume_state`` is a loaded checkpoint (from ``resume_path``)
    to continue from, or None for a fresh start. Nothing is written before every check has
    passed (data, image size, model, checkpoint keys); then ``begin`` (main process) writes
    ``config.yaml`` and clears a stale ``done.json``, and training starts. Every rank runs
    this; only the main one writes files and shows the progress bar.
    """
    run, run_dir = config.run, Path(config.run.out)
    if runtime.device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest
    images, labels, masks = load_training_set(config.data)
    record = run_model_record(config, family, images)
    if runtime.is_main:
        warn_large_batch(run.batch, len(images))
    _seed_everything(run.seed)
    trainer = make_trainer(config, record, runtime)
    sampler = EpochSampler(images, run.batch, run.seed, runtime, labels=labels, masks=masks)
    start = 0
    if resume_state is not None:
        start = _restore(resume_state, resume_path or run_dir, trainer, sampler)
    if begin is not None:
        on_main(runtime, begin)  # every rank waits for it, and for its error if any
    grid_z = torch.randn(GRID_SIZE, *trainer.generator.noise_shape,
                         generator=torch.Generator().manual_seed(run.seed + 2))  # fmt: skip
    grid_masks = None  # a mask-conditional run draws its grid for training masks, evenly spread
    if masks is not None:
        grid_masks = to_model_range(masks[torch.linspace(0, len(masks) - 1, GRID_SIZE).long()])
    image_channels = record.shape.channels  # the grid shows images (a pair's mask is not)
    checkpointer = _Checkpointer(run_dir, config, record)
    logger = RunLogger(run_dir, start) if runtime.is_main else None
    images_per_iter = trainer.images_per_iteration
    bar = _progress_bar(config, runtime, start)
    vote = StopVote(runtime, stop_vote_interval(runtime))
    watch = _FiniteWatch(runtime, finite_check_interval(runtime, run))
    clock = BUDGET_CLOCKS[run.budget_clock]  # each rank's own; any rank's time up stops all
    budget_began, cpu_began = clock(), time.process_time()
    began = interval_start = time.perf_counter()
    step_seconds = overhead_seconds = 0.0
    iteration, reason, last_good, saved_at, logged_at = start, "done", resume_path, start, start
    ever_saved = resume_path is not None  # the same on every rank (unlike last_good)

    def save(periodic: bool) -> Path | None:
        nonlocal ever_saved
        watch.check(last_good)  # every rank: a broken state is never saved
        watch.check_weights(trainer, iteration, last_good)
        ever_saved = True
        if not runtime.is_main:
            return None
        return checkpointer.save(iteration, trainer, sampler, periodic)

    try:
        with vote.catching_signals():
            while iteration < run.iters:
                t0 = time.perf_counter()
                logs = trainer.step(sampler, iteration)
                watch.add(logs, iteration + 1)
                t1 = time.perf_counter()
                step_seconds += t1 - t0
                iteration += 1
                bar.update(1)
                log_now = iteration % run.log_every == 0 or iteration == run.iters
                grid_now = iteration % run.sample_every == 0 or iteration == run.iters
                if log_now or grid_now or iteration % watch.every == 0:
                    watch.check(last_good)  # nothing is logged or drawn from a broken state
                if log_now:
                    values = _log_values(logs, runtime)  # every rank: averaged over ranks
                    now = time.perf_counter()
                    if logger:
                        rate = (iteration - logged_at) * images_per_iter / (now - interval_start)
                        logger.log({"iter": iteration, **values, "images_per_s": rate,
                                    "seconds": now - began})  # fmt: skip
                    bar.set_postfix({k: f"{v:.3f}" for k, v in values.items() if "loss" in k})
                    interval_start, logged_at = now, iteration
                if grid_now:  # every rank alike; no grid is drawn from broken weights
                    watch.check_weights(trainer, iteration, last_good)
                if logger and grid_now:
                    raw = trainer.sample(grid_z, grid_masks)
                    grid = trainer.sampling_generator().to_images(raw)[:, :image_channels]
                    logger.grid(iteration, grid.cpu().numpy())
                if iteration % run.checkpoint_every == 0:
                    last_good, saved_at = save(periodic=True) or last_good, iteration
                overhead_seconds += time.perf_counter() - t1
                budget_spent = (
                    run.max_seconds is not None and clock() - budget_began >= run.max_seconds
                )
                stop = vote.decide(iteration, time_up=budget_spent)
                if stop:
                    reason = stop
                    break
            if not ever_saved or iteration != saved_at:
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
        "world_size": runtime.world_size,
        "per_rank_batch": runtime.per_rank_batch(run.batch),
        "device": describe_device(runtime.device),
    }
    if iteration >= run.iters and runtime.is_main:
        write_done(run_dir, summary)
    if reason != "done" and runtime.is_main:
        print(
            f"brainsynth: stopped at iteration {iteration}/{run.iters} ({reason}); checkpoint "
            f"{last_good}; continue with: brainsynth train --resume {run_dir}"
        )
    return RunResult(run_dir, iteration, reason)
