"""Checkpoints: plain state dicts plus configs, written atomically, read with weights_only.

A checkpoint is a dict of tensors and plain Python values (never a pickled module), so
``torch.load(..., weights_only=True)`` can read it and nothing in the file can run code:

- ``format`` / ``version``: identifies a brainsynth GAN checkpoint;
- ``iteration``: generator updates done; ``model``: :class:`ModelConfig` as a dict;
  ``train``: the resolved :class:`TrainConfig` as a dict;
- ``trainer``: generator, discriminator, both optimisers, the latent RNG;
- ``sampler``: the data sampler's RNG, permutation and position;
- ``rng``: global torch CPU (and CUDA), numpy and Python ``random`` states.
"""

from __future__ import annotations

import os
import pickle
import random
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from brainsynth.errors import BrainsynthError

FORMAT = "brainsynth-gan-checkpoint"
VERSION = 1


def capture_rng_state() -> dict[str, Any]:
    """Every global RNG state, as tensors and plain values (weights_only-safe)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    py_version, py_state, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "python": {"version": py_version, "state": list(py_state), "gauss": py_gauss},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Undo :func:`capture_rng_state`."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state((n["kind"], keys, n["pos"], n["has_gauss"], n["cached"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, checkpoint: dict[str, Any]) -> Path:
    """Write ``checkpoint`` to ``path`` atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save({"format": FORMAT, "version": VERSION, **checkpoint}, handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; clear errors for bad files."""
    path = Path(path)
    if not path.is_file():
        raise BrainsynthError(f"{path}: checkpoint not found")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BrainsynthError(f"{path}: corrupt or unreadable checkpoint ({first})") from exc
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise BrainsynthError(f"{path}: not a brainsynth GAN checkpoint")
    if checkpoint.get("version") != VERSION:
        raise BrainsynthError(
            f"{path}: checkpoint version {checkpoint.get('version')} is not supported "
            f"(this brainsynth reads version {VERSION})"
        )
    missing = [k for k in ("iteration", "model", "train", "trainer") if k not in checkpoint]
    if missing:
        raise BrainsynthError(f"{path}: incomplete checkpoint (missing {', '.join(missing)})")
    return checkpoint


def find_checkpoint(source: str | os.PathLike[str]) -> Path:
    """A run folder -> its ``checkpoints/last.pt``; a ``.pt`` file -> itself."""
    source = Path(source)
    if source.is_dir():
        last = source / "checkpoints" / "last.pt"
        if not last.is_file():
            raise BrainsynthError(f"{source}: no checkpoints/last.pt (not a trained run folder?)")
        return last
    if not source.exists():
        raise BrainsynthError(f"{source}: no such run folder or checkpoint")
    return source


def load_state_checked(module: torch.nn.Module, state: dict[str, Any], what: str, path: Path):
    """``module.load_state_dict`` with a one-line error when shapes or keys do not match."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError) as exc:
        first = str(exc).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else (first[0] if first else "")
        raise BrainsynthError(f"{path}: {what} does not match the model ({detail})") from exc
