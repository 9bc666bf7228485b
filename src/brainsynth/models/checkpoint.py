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
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from brainsynth.config import brief, check_nesting, config_to_dict
from brainsynth.errors import BrainsynthError
from brainsynth.models import architecture, check_arch
from brainsynth.models.shape import MAX_PARAMETERS, ModelShape

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

    def check(self) -> Any:
        """The architecture's ``Config`` of these settings, after every check that needs no
        network: each setting of its declared type and within its bounds (the Config's own
        checks), and the networks' size (the architecture's ``parameter_estimate``) within
        :data:`~brainsynth.models.shape.MAX_PARAMETERS`. Nothing is allocated before."""
        module = architecture(self.arch)
        if not isinstance(self.arch_config, dict):
            raise BrainsynthError(f"bad {self.arch} settings: {brief(self.arch_config)}")
        check_nesting(self.arch_config, f"{self.arch} settings")
        try:
            config = module.Config(**self.arch_config)
        except TypeError as exc:
            names = ", ".join(map(brief, self.arch_config))
            raise BrainsynthError(f"bad {self.arch} settings {names} ({exc})") from exc
        estimate = getattr(module, "parameter_estimate", None)
        count = estimate(config, self.shape) if estimate is not None else 0
        if count > MAX_PARAMETERS:
            raise BrainsynthError(
                f"{self.arch} at {self.shape.size} px with these settings would hold about "
                f"{count:,} parameters, more than the {MAX_PARAMETERS:,} brainsynth builds "
                "(check the widths, latent and image size)"
            )
        return config

    def build(self) -> tuple[torch.nn.Module, ...]:
        """Fresh networks of this architecture, config and shape: the generator first (a
        GAN: (generator, discriminator); a denoiser: (generator,)), after :meth:`check`."""
        config = self.check()
        try:
            return architecture(self.arch).build(config, self.shape)
        except ValueError as exc:  # a library's own check (e.g. MONAI's)
            raise BrainsynthError(
                f"{self.arch}: the network cannot be built with these settings ({one_line(exc)})"
            ) from exc

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
        if not isinstance(checkpoint["shape"], dict) or not isinstance(checkpoint["arch"], str):
            raise TypeError("shape must be a mapping and arch a name")
        shape = ModelShape(**checkpoint["shape"])
        return ModelRecord(check_arch(checkpoint["arch"]), dict(checkpoint["arch_config"]), shape)
    except (KeyError, TypeError, ValueError) as exc:
        raise BrainsynthError(f"{path}: bad model description in checkpoint ({exc})") from exc
    except BrainsynthError as exc:
        raise BrainsynthError(f"{path}: {exc}") from exc


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
    checkpoint = load_plain(path, "checkpoint")
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise BrainsynthError(f"{path}: not a brainsynth GAN checkpoint")
    for key in ("train", "arch_config", "shape", "model"):
        check_nesting(checkpoint.get(key), f"{path}: {key}")
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


def load_plain(path: Path, what: str) -> Any:
    """``torch.load(path, weights_only=True)``: tensors and plain values only, nothing in the
    file can run code. Any failure is one line; PyTorch's own advice for files it refuses
    (to load them again with ``weights_only`` off, which would run whatever they hold) is
    never repeated: such a file is refused, not a reason to trust it."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"Unsupported global: GLOBAL [\w.]+", str(exc))
        if found is None:  # not a PyTorch file at all
            raise BrainsynthError(f"{path}: corrupt or unreadable {what} (not a PyTorch "
                                  "file)") from exc  # fmt: skip
        raise BrainsynthError(
            f"{path}: not a plain {what} file ({found.group(0)}); brainsynth reads only "
            "tensors and plain values and never runs code from a file"
        ) from exc
    except RecursionError as exc:
        raise BrainsynthError(f"{path}: {what} nested too deeply to read") from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BrainsynthError(f"{path}: corrupt or unreadable {what} ({one_line(exc)})") from exc


def one_line(exc: BaseException | str) -> str:
    """The first line of an error message from a library, without terminal escapes or any
    mention of ``weights_only`` (never advice to brainsynth's users), at most 200 chars."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    line = text.splitlines()[0].strip() if text else type(exc).__name__
    if "weights_only" in line:
        line = "the file is not a plain set of tensors and values"
    return line if len(line) <= 200 else line[:197] + "..."


def check_state(module: torch.nn.Module, state: dict[str, Any], what: str, path: Path) -> None:
    """Refuse tensors that are not what ``module`` saves before loading them: a dtype other
    than the freshly built module's (a bool or int32 tensor where float32 weights belong
    would be cast silently; a bool bundle samples white images) and NaN or infinite values
    (they give NaN images). Missing, extra and reshaped tensors are left to
    ``load_state_dict``'s own check."""
    expected = module.state_dict()
    for key, value in state.items():
        own = expected.get(key)
        if not isinstance(own, torch.Tensor):
            continue
        if not isinstance(value, torch.Tensor):
            raise BrainsynthError(f"{path}: {what} entry {key} is not a tensor")
        if value.dtype != own.dtype:
            raise BrainsynthError(
                f"{path}: {what} tensor {key} is {value.dtype}, but the model saves "
                f"{own.dtype} (refused, not converted)"
            )
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise BrainsynthError(
                f"{path}: {what} tensor {key} holds NaN or infinite values (a broken model)"
            )


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
    """``module.load_state_dict`` after :func:`check_state`, with a one-line error when
    shapes or keys do not match."""
    if not isinstance(state, dict):
        raise BrainsynthError(f"{path}: {what} is not a state dict")
    check_state(module, state, what, path)
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError, TypeError) as exc:
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
