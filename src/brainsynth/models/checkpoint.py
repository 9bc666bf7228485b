"""Checkpoint files: plain state dicts plus configs, written atomically, read with weights_only.

A checkpoint is a dict of tensors and plain Python values (never a pickled module), so
``torch.load(..., weights_only=True)`` can read it and nothing in the file can run code.
Version 2 (brainsynth 0.2):

- ``format`` / ``version``; ``iteration``: generator updates done;
- ``arch`` (registered name), ``arch_config`` (its ``Config`` as a dict), ``shape``
  (:class:`ModelShape` as a dict): enough to rebuild the models with no other file;
- ``train``: the resolved training config as a dict;
- ``trainer``: ``generator`` (every family's sampling network), ``generator_ema`` when EMA
  is on, and the rest of the trainer's state: a GAN's discriminator, optimisers, objective
  and augmentation states and latent RNG; a denoiser's ``optimizer`` and ``noise`` RNG;
- ``sampler`` and ``rng``: data order and global RNG states (training only).

Version 1 (brainsynth 0.1.0) stored the DCGAN's ``model`` dict (size, width, latent,
channels, disc_norm) and a flat ``train`` dict; :func:`model_record` reads both.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from brainsynth.config import config_to_dict
from brainsynth.errors import BrainsynthError
from brainsynth.models import architecture, check_arch
from brainsynth.models.shape import ModelShape

FORMAT = "brainsynth-gan-checkpoint"
VERSION = 2
READABLE_VERSIONS = (1, 2)
REQUIRED = {1: ("iteration", "model", "train", "trainer"),
            2: ("iteration", "arch", "arch_config", "shape", "train", "trainer")}  # fmt: skip


@dataclass(frozen=True)
class ModelRecord:
    """Which architecture a checkpoint holds, with its settings and shape."""

    arch: str
    arch_config: dict[str, Any]
    shape: ModelShape

    def build(self) -> tuple[torch.nn.Module, ...]:
        """Fresh networks of this architecture, config and shape: the generator first (a
        GAN: (generator, discriminator); a denoiser: (generator,))."""
        module = architecture(self.arch)
        try:
            config = module.Config(**self.arch_config)
        except TypeError as exc:
            raise BrainsynthError(f"bad {self.arch} settings {self.arch_config} ({exc})") from exc
        return module.build(config, self.shape)

    def as_dict(self) -> dict[str, Any]:
        return {"arch": self.arch, "arch_config": dict(self.arch_config),
                "shape": config_to_dict(self.shape)}  # fmt: skip


def model_record(checkpoint: dict[str, Any], path: Path | str = "checkpoint") -> ModelRecord:
    """The :class:`ModelRecord` of a loaded checkpoint of any readable version."""
    try:
        if checkpoint["version"] == 1:
            model = dict(checkpoint["model"])
            shape = ModelShape(model.pop("size"), model.pop("channels"), model.pop("latent"))
            return ModelRecord("dcgan", model, shape)
        shape = ModelShape(**checkpoint["shape"])
        return ModelRecord(check_arch(checkpoint["arch"]), dict(checkpoint["arch_config"]), shape)
    except (KeyError, TypeError) as exc:
        raise BrainsynthError(f"{path}: bad model description in checkpoint ({exc})") from exc


def save_checkpoint(path: Path, checkpoint: dict[str, Any]) -> Path:
    """Write ``checkpoint`` (current version) to ``path`` atomically (temporary file, rename)."""
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
    version = checkpoint.get("version")
    if version not in READABLE_VERSIONS:
        raise BrainsynthError(
            f"{path}: checkpoint version {version} is not supported (this brainsynth reads "
            f"versions {', '.join(map(str, READABLE_VERSIONS))})"
        )
    missing = [k for k in REQUIRED[version] if k not in checkpoint]
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


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise BrainsynthError("--device cuda: no CUDA GPU is available (use --device cpu)")
    return torch.device(name)
