"""What a training run writes besides checkpoints: metrics, TensorBoard, grids, done marker.

Layout of a run folder ``RUN/``:

- ``config.yaml``: the resolved :class:`TrainConfig`, written before anything else;
- ``sampling.yaml``: the run's default sampling settings (``train --background-floor``);
- ``checkpoints/last.pt`` and ``checkpoints/iter-NNNNNN.pt``
  (:mod:`brainsynth.models.checkpoint`);
- ``metrics.jsonl``: one JSON object per log step (``iter``, whatever the objective reports:
  ``loss_d``, ``loss_g``, ``wasserstein`` for wgan*, ``gp``, ``r1``; ``images_per_s``,
  ``seconds``);
- ``samples/grid-<iter>.png``: generator samples for a fixed latent batch;
- ``tb/``: TensorBoard events (the same scalars, plus the grids);
- ``done.json``: written only when the requested iterations completed. A run is finished
  iff ``RUN/done.json`` exists and its ``iteration`` reaches ``config.yaml``'s ``run.iters``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from brainsynth.config import write_text_atomic
from brainsynth.imageio import as_tiles, save_grid

DONE_FILE = "done.json"


def is_finished(run: str | Path) -> bool:
    """True when ``run`` completed the iterations its config.yaml asks for."""
    import yaml

    run = Path(run)
    try:
        done = json.loads((run / DONE_FILE).read_text())
        config = yaml.safe_load((run / "config.yaml").read_text())
    except (OSError, ValueError, yaml.YAMLError):
        return False
    iters = (config.get("run") or config).get("iters", 0)  # nested, or 0.1.0's flat config
    return int(done.get("iteration", -1)) >= int(iters)


def no_follow(path: str, flags: int) -> int:
    """An ``opener`` that refuses to open a symbolic link (the run's claim refused links among
    its outputs before training; this keeps a link made since from being written through)."""
    return os.open(path, flags | getattr(os, "O_NOFOLLOW", 0), 0o666)


def write_done(run: Path, summary: dict[str, Any]) -> None:
    write_text_atomic(run / DONE_FILE, json.dumps(summary, indent=2) + "\n")


def truncate_metrics(path: Path, after_iter: int) -> None:
    """Drop metric lines beyond ``after_iter`` (a resumed run rewrites them)."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)["iter"] <= after_iter:
                kept.append(line)
        except (ValueError, KeyError, TypeError):
            continue
    write_text_atomic(path, "".join(f"{line}\n" for line in kept))


class RunLogger:
    """Appends metrics to ``metrics.jsonl`` and TensorBoard; saves sample grids."""

    def __init__(self, run: Path, start_iter: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.run = run
        self.metrics_path = run / "metrics.jsonl"
        truncate_metrics(self.metrics_path, start_iter)
        self.metrics = open(self.metrics_path, "a", opener=no_follow)  # noqa: SIM115 (closed in close)
        self.writer = SummaryWriter(log_dir=str(run / "tb"), purge_step=start_iter + 1)

    def log(self, record: dict[str, Any]) -> None:
        self.metrics.write(json.dumps(record) + "\n")
        self.metrics.flush()
        step = record["iter"]
        for key, value in record.items():
            if key != "iter" and isinstance(value, (int, float)):
                self.writer.add_scalar(f"train/{key}", value, step)

    def grid(self, iteration: int, images01: np.ndarray) -> Path:
        path = save_grid(self.run / "samples" / f"grid-{iteration:06d}.png", images01)
        tiles = as_tiles(images01)  # joint (4-channel) samples as 2x2 panels
        tiles = tiles.astype(np.float32) / 255.0 if tiles.dtype == np.uint8 else tiles
        self.writer.add_images("samples", tiles, iteration, dataformats="NCHW")
        return path

    def close(self) -> None:
        self.metrics.close()
        self.writer.close()
