"""Sampling a trained generator into [0, 1] images, and writing them to disk.

**Output mapping.** The generator has no tanh (paper §3.2.2), so its output is an unbounded
real number. Training scales the real images from [0, 1] to [-1, 1] (Radford et al.'s range),
so a generated image ``y`` is mapped back with ``x = clip((y + 1) / 2, 0, 1)``.

**Background floor** (a named post-processing option, off by default). Real skull-stripped
slices have an exactly black background; a calibration run found that faint noise in the
background of synthetic slices was most of what gave them away to a classifier. With
``background_floor = t > 0`` every pixel below ``t`` (after the mapping) is set to exactly 0.
It is stored in the run's ``config.yaml`` and in every ``sampling.json``; it is never on
unless asked for.

**Determinism.** The ``n`` latent vectors are drawn at once, z ~ N(0, I), from a
``torch.Generator`` seeded with ``seed``, and the generator runs in eval mode (batch
normalisation uses its running statistics) in fp32: the same checkpoint, seed, ``n`` and
``batch`` give identical images.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from brainsynth.config import config_from_dict, write_text_atomic
from brainsynth.errors import BrainsynthError
from brainsynth.imageio import save_grid, save_png
from brainsynth.models import Generator, ModelConfig
from brainsynth.training.checkpoint import find_checkpoint, load_checkpoint, load_state_checked
from brainsynth.training.data import from_model_range
from brainsynth.training.step import resolve_device

OUTPUT_MAPPING = "x = clip((G(z) + 1) / 2, 0, 1); training images scaled to [-1, 1]; no tanh"


def load_generator(
    source: str | os.PathLike[str], device: str = "auto"
) -> tuple[Generator, dict[str, Any]]:
    """The generator of a run folder (its ``checkpoints/last.pt``) or a ``.pt`` checkpoint.

    Returns the generator (eval mode, on ``device``) and a description of the checkpoint:
    ``checkpoint`` (path), ``iteration``, ``model`` and ``train`` (config dicts).
    """
    path = find_checkpoint(source)
    state = load_checkpoint(path)
    try:
        model_config = config_from_dict(ModelConfig, dict(state["model"]))
    except TypeError as exc:
        raise BrainsynthError(f"{path}: bad model config in checkpoint ({exc})") from exc
    generator = Generator(model_config)
    load_state_checked(generator, state["trainer"]["generator"], "generator", path)
    generator.to(resolve_device(device)).eval()
    info = {
        "checkpoint": str(path),
        "iteration": int(state["iteration"]),
        "model": dict(state["model"]),
        "train": dict(state["train"]),
    }
    return generator, info


def generate_with_info(
    source: str | os.PathLike[str],
    n: int,
    seed: int = 0,
    batch: int = 256,
    device: str = "auto",
    background_floor: float | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Like :func:`generate`, also returning what ``sampling.json`` records."""
    if n < 1 or batch < 1:
        raise BrainsynthError("--n and --batch must be at least 1")
    generator, info = load_generator(source, device)
    if background_floor is None:
        background_floor = float(info["train"].get("background_floor") or 0.0)
    if not 0.0 <= background_floor < 1.0:
        raise BrainsynthError(f"background floor {background_floor} is not in [0, 1)")
    latent = generator.config.latent
    z = torch.randn(n, latent, generator=torch.Generator().manual_seed(seed))
    device_of = next(generator.parameters()).device
    chunks = []
    with torch.no_grad():
        for start in range(0, n, batch):
            out = generator(z[start : start + batch].to(device_of))
            chunks.append(from_model_range(out).cpu())
    images = torch.cat(chunks).numpy().astype(np.float32)
    if background_floor > 0:
        images[images < background_floor] = 0.0
    info = {
        "checkpoint": info["checkpoint"],
        "iteration": info["iteration"],
        "gan": info["train"].get("gan"),
        "sequence": info["train"].get("sequence"),
        "size": info["model"]["size"],
        "seed": seed,
        "n": n,
        "batch": batch,
        "background_floor": background_floor,
        "output_mapping": OUTPUT_MAPPING,
        "generator_mode": "eval (batch-norm running statistics), fp32",
    }
    return images, info


def generate(
    source: str | os.PathLike[str],
    n: int,
    seed: int = 0,
    batch: int = 256,
    device: str = "auto",
    background_floor: float | None = None,
) -> np.ndarray:
    """``n`` generated images, (n, 1, H, W) float32 in [0, 1]; see the module docstring.

    ``source`` is a run folder or a ``.pt`` checkpoint; ``background_floor=None`` uses the
    run config's value (0 = off).
    """
    return generate_with_info(source, n, seed, batch, device, background_floor)[0]


def write_samples(
    images: np.ndarray,
    out_dir: str | os.PathLike[str],
    grid: str | os.PathLike[str] | None = None,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write ``DIR/000000.png``..., ``DIR/samples.npy`` and ``DIR/sampling.json``.

    ``images`` is (N, 1, H, W) in [0, 1]; ``grid`` optionally saves a montage of up to 64;
    ``meta`` (e.g. :func:`generate_with_info`'s info) goes into ``sampling.json``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0)
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"expected (N, 1, H, W) images, got shape {images.shape}")
    for i, image in enumerate(images):
        save_png(out / f"{i:06d}.png", image)
    tmp = out / ".samples.npy.tmp.npy"
    np.save(tmp, images)
    os.replace(tmp, out / "samples.npy")
    if grid is not None:
        save_grid(grid, images[:64])
    record = {**(meta or {}), "count": len(images), "grid": str(grid) if grid else None}
    write_text_atomic(out / "sampling.json", json.dumps(record, indent=2) + "\n")
    return out
