"""The training loop, and :func:`train` / :func:`resume` that drive it from a TrainConfig.

One iteration is one generator update (``--iters`` counts them); WGAN variants do
``n_critic`` discriminator updates before each. Nothing is lost on a stop: SIGINT/SIGTERM and
an exhausted ``max_seconds`` budget save ``checkpoints/last.pt`` and return; a NaN or
infinite loss stops with an error and keeps the last good checkpoint (never overwritten by
the broken state). Resume restores models, optimisers, iteration and every RNG, so a run
resumed to N equals an uninterrupted run to N (fp32, CPU).
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

from brainsynth.config import config_to_dict, load_config, save_config
from brainsynth.errors import BrainsynthError
from brainsynth.models import ModelConfig
from brainsynth.training import checkpoint as ckpt
from brainsynth.training.config import TrainConfig
from brainsynth.training.data import EpochSampler, from_model_range, load_training_images
from brainsynth.training.run_folder import DONE_FILE, RunLogger, write_done
from brainsynth.training.step import GanTrainer, resolve_device

GRID_SIZE = 64  # images in samples/grid-<iter>.png


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


def training_loop(
    run_dir: Path,  # run folder; config.yaml is already written there
    data: str,  # prepared dataset folder
    sequence: str,  # image set: t1 | t1c | t2 | flair | concat
    gan: str,  # dcgan | wgan | wgan-gp
    iters: int,  # total generator updates to reach
    batch: int,  # images per batch (paper: 64)
    seed: int,  # seeds weights, data order, latents
    width: int,  # base channel width (paper: 32)
    latent: int,  # latent size (paper: 100)
    precision: str,  # fp32 | bf16 autocast
    device: str,  # auto | cpu | cuda
    lr: float,  # learning rate (resolved per-GAN default)
    betas: tuple[float, float] | None,  # Adam betas, None for RMSprop
    n_critic: int,  # discriminator updates per generator update
    clip: float | None,  # WGAN weight clipping bound
    gp_lambda: float | None,  # WGAN-GP penalty weight
    disc_norm: str,  # critic normalisation: batch | layer | none
    max_seconds: float | None = None,  # wall-clock budget for this call; None = unlimited
    checkpoint_every: int = 1000,  # iterations between periodic checkpoints
    sample_every: int = 500,  # iterations between sample grids
    log_every: int = 50,  # iterations between metric lines
    progress: bool = True,  # show a tqdm bar with ETA
    resume_from: Path | None = None,  # checkpoint to continue from, None = fresh start
    **_ignored: Any,  # other TrainConfig fields (out, background_floor: sampling only)
) -> RunResult:
    """Train until ``iters`` generator updates, a signal or the time budget; see module doc."""
    from tqdm.auto import tqdm

    torch_device = resolve_device(device)
    images = load_training_images(data, sequence)
    model_config = ModelConfig(
        size=images.shape[-1], width=width, latent=latent, disc_norm=disc_norm
    )
    _seed_everything(seed)
    trainer = GanTrainer(
        model_config, gan, lr, betas, n_critic, clip, gp_lambda, precision, seed, torch_device
    )
    sampler = EpochSampler(images, batch, seed, torch_device)
    start = 0
    if resume_from is not None:
        start = _restore(resume_from, trainer, sampler, model_config)
    grid_z = torch.randn(GRID_SIZE, latent, generator=torch.Generator().manual_seed(seed + 2))
    train_dict = config_to_dict(load_config(TrainConfig, run_dir / "config.yaml"))

    def checkpoint(iteration: int, periodic: bool) -> Path:
        state = {
            "iteration": iteration,
            "model": config_to_dict(model_config),
            "train": train_dict,
            "trainer": trainer.state_dict(),
            "sampler": sampler.state_dict(),
            "rng": ckpt.capture_rng_state(),
        }
        last = ckpt.save_checkpoint(run_dir / "checkpoints" / "last.pt", state)
        if periodic:
            periodic_path = run_dir / "checkpoints" / f"iter-{iteration:06d}.pt"
            shutil.copyfile(last, periodic_path.with_suffix(".tmp"))
            periodic_path.with_suffix(".tmp").replace(periodic_path)
        return last

    logger = RunLogger(run_dir, start)
    images_per_iter = batch * (n_critic if gan != "dcgan" else 1)
    # A run capped by a time budget far short of ``iters`` would show a meaningless ETA, so
    # its bar counts iterations and names the budget instead.
    budgeted = max_seconds is not None
    bar = tqdm(
        total=None if budgeted else iters,
        initial=start,
        disable=not progress,
        unit="it",
        dynamic_ncols=True,
        desc=f"{gan} (stops after {max_seconds:.0f} s)" if budgeted else gan,
    )
    stop: dict[str, str | None] = {"signal": None}
    began = interval_start = time.perf_counter()
    step_seconds = overhead_seconds = 0.0
    iteration, reason, last_good, saved_at, logged_at = start, "done", resume_from, start, start
    try:
        with _stop_on_signals(stop):
            while iteration < iters:
                t0 = time.perf_counter()
                losses = trainer.step(sampler)
                values = torch.stack(list(losses.values())).float().cpu()
                t1 = time.perf_counter()
                step_seconds += t1 - t0
                iteration += 1
                bar.update(1)
                if not torch.isfinite(values).all():
                    named = dict(zip(losses, values.tolist(), strict=True))
                    shown = ", ".join(f"{k}={v:.4g}" for k, v in named.items())
                    kept = f"last good checkpoint: {last_good}" if last_good else "none saved"
                    raise BrainsynthError(
                        f"non-finite loss at iteration {iteration} ({shown}); training stopped, "
                        f"{kept}. Try a lower --lr or --precision fp32."
                    )
                if iteration % log_every == 0 or iteration == iters:
                    now = time.perf_counter()
                    record = {"iter": iteration, **dict(zip(losses, values.tolist(), strict=True))}
                    done_iters = iteration - logged_at
                    record["images_per_s"] = done_iters * images_per_iter / (now - interval_start)
                    record["seconds"] = now - began
                    logger.log(record)
                    bar.set_postfix(d=f"{record['loss_d']:.3f}", g=f"{record['loss_g']:.3f}")
                    interval_start, logged_at = now, iteration
                if iteration % sample_every == 0 or iteration == iters:
                    logger.grid(iteration, from_model_range(trainer.sample(grid_z)).numpy())
                if iteration % checkpoint_every == 0:
                    last_good, saved_at = checkpoint(iteration, periodic=True), iteration
                overhead_seconds += time.perf_counter() - t1
                if stop["signal"]:
                    reason = stop["signal"]
                    break
                if max_seconds is not None and time.perf_counter() - began >= max_seconds:
                    reason = "time"
                    break
            if last_good is None or iteration != saved_at:
                last_good = checkpoint(iteration, periodic=False)
    finally:
        bar.close()
        logger.close()
    summary = {
        "iteration": iteration,
        "iters": iters,
        "reason": reason,
        "seconds": time.perf_counter() - began,
        "step_seconds": step_seconds,
        "overhead_seconds": overhead_seconds,
    }
    if iteration >= iters:
        write_done(run_dir, summary)
    if reason != "done":
        print(
            f"brainsynth: stopped at iteration {iteration}/{iters} ({reason}); checkpoint "
            f"{last_good}; continue with: brainsynth train --resume {run_dir}"
        )
    return RunResult(run_dir, iteration, reason)


def _restore(path: Path, trainer: GanTrainer, sampler: EpochSampler, model: ModelConfig) -> int:
    """Load a checkpoint into the trainer, sampler and global RNGs; return its iteration."""
    state = ckpt.load_checkpoint(path)
    saved = state["model"]
    if saved != config_to_dict(model):
        raise BrainsynthError(
            f"{path}: checkpoint model {saved} does not match this run's model "
            f"{config_to_dict(model)}"
        )
    parts = state["trainer"]
    ckpt.load_state_checked(trainer.generator, parts["generator"], "generator", path)
    ckpt.load_state_checked(trainer.discriminator, parts["discriminator"], "discriminator", path)
    try:
        trainer.opt_g.load_state_dict(parts["opt_g"])
        trainer.opt_d.load_state_dict(parts["opt_d"])
    except (ValueError, KeyError) as exc:
        raise BrainsynthError(f"{path}: optimiser state does not match ({exc})") from exc
    trainer.noise.set_state(parts["noise"])
    sampler.load_state_dict(state["sampler"])
    ckpt.restore_rng_state(state["rng"])
    return int(state["iteration"])


def run_training(config: TrainConfig, resume_from: Path | None = None) -> RunResult:
    """Resolve ``config``, write ``config.yaml`` first, then run the loop."""
    config = config.resolved()
    run_dir = Path(config.out)
    if resume_from is None and (run_dir / "checkpoints").is_dir():
        raise BrainsynthError(
            f"{run_dir}: already holds a training run; continue it with "
            f"'brainsynth train --resume {run_dir}' or choose another --out"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, run_dir / "config.yaml")
    (run_dir / DONE_FILE).unlink(missing_ok=True)  # stale after a resume to more iters
    return training_loop(run_dir, resume_from=resume_from, **config_to_dict(config))


def train(config: TrainConfig) -> Path:
    """Train a GAN as ``config`` says; returns the run folder (``config.out``)."""
    return run_training(config).run


def resume_training(
    run: Path | str,
    iters: int | None = None,
    max_seconds: float | None = None,
    progress: bool | None = None,
) -> RunResult:
    """Continue ``run`` from ``checkpoints/last.pt`` up to ``iters`` (default: its config's)."""
    run = Path(run)
    if not (run / "config.yaml").is_file():
        raise BrainsynthError(f"{run}: not a run folder (config.yaml is missing)")
    last = ckpt.find_checkpoint(run)
    config = load_config(TrainConfig, run / "config.yaml")
    changes: dict[str, Any] = {"out": str(run), "max_seconds": max_seconds}
    if iters is not None:
        changes["iters"] = iters
    if progress is not None:
        changes["progress"] = progress
    config = TrainConfig(**{**config_to_dict(config), **changes})
    done = int(ckpt.load_checkpoint(last)["iteration"])
    if done >= config.iters:
        print(f"brainsynth: {run} is already at iteration {done} >= {config.iters}; nothing to do")
        return RunResult(run, done, "done")
    return run_training(config, resume_from=last)


def resume(run: Path | str, iters: int | None = None, max_seconds: float | None = None) -> Path:
    """Continue a run to ``iters`` generator updates; returns the run folder."""
    return resume_training(run, iters, max_seconds).run
