"""Checkpoint files: plain state dicts plus configs, written atomically, read with weights_only.

A checkpoint is a dict of tensors and plain Python values (never a pickled module), so
``torch.load(..., weights_only=True)`` can read it and nothing in the file can run code.
Version 3 (brainsynth 0.4), ``format`` "brainsynth-checkpoint":

- ``format`` / ``version``; ``iteration``: generator updates done;
- ``arch`` (a registered family), ``arch_config`` (its ``Config`` as a dict), ``shape``
  (:class:`ModelShape` as a dict, with ``mask_channels`` and ``condition_channels``; a
  family without a latent stores none): enough to rebuild the models with no other file;
- ``train``: the resolved training config as a dict;
- ``trainer``: ``generator`` (every family's sampling network), ``generator_ema`` when EMA
  is on, and the rest of the trainer's state (:mod:`brainsynth.training.trainer`);
- ``sampler`` and ``rng``: data order and global RNG states (training only).

Older checkpoints (0.1.0's version 1, 0.2-0.3's version 2, both named
"brainsynth-gan-checkpoint") are read through :func:`brainsynth.models.upgrade.upgrade_checkpoint`,
the one place that knows their layouts: :func:`load_checkpoint` returns every checkpoint in
this version's layout, and training writes this version.
"""

from __future__ import annotations

import os
import pickle
import re
import tempfile
import zipfile
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from brainsynth.config import brief, check_nesting, config_to_dict
from brainsynth.errors import BrainsynthError
from brainsynth.models import family as family_of
from brainsynth.models.family import Family
from brainsynth.models.shape import MAX_PARAMETERS, ModelShape
from brainsynth.models.upgrade import FORMAT, VERSION, check_checkpoint, upgrade_checkpoint


@dataclass(frozen=True)
class ModelRecord:
    """Which family a model is, with its settings (its Config as a dict) and shape."""

    family: Family
    arch_config: dict[str, Any]
    shape: ModelShape

    @classmethod
    def read(
        cls, arch: Any, arch_config: Any, shape: Any, where: str, expected: Family | None = None
    ) -> ModelRecord:
        """The record of a family name, settings and shape read from a file (a checkpoint or
        an export's config.json), checked (:meth:`check`) but not built. ``where`` names the
        file in one-line errors; ``expected``: the family the caller resolved already (the
        file must name it). A family without a latent vector gets none, whatever an older
        file stored."""
        if not isinstance(arch, str):
            raise BrainsynthError(f"{where}: bad arch {brief(arch)} (a family name)")
        if expected is not None and arch != expected.name:
            raise BrainsynthError(f"{where}: checkpoint model {brief(arch)} does not match this "
                                  f"run's model ({expected.name})")  # fmt: skip
        try:
            found = expected or family_of(arch)
        except BrainsynthError as exc:
            raise BrainsynthError(f"{where}: {exc}") from exc
        try:
            if not isinstance(shape, dict):
                raise TypeError("not a mapping")
            model_shape = ModelShape(**shape)
        except (TypeError, BrainsynthError) as exc:
            raise BrainsynthError(f"{where}: bad shape ({exc})") from exc
        if not found.uses_latent:
            model_shape = replace(model_shape, latent=None)
        record = cls(found, arch_config, model_shape)
        try:
            record.check()
        except BrainsynthError as exc:
            raise BrainsynthError(f"{where}: {exc}") from exc
        return record

    @property
    def arch(self) -> str:
        """The family's registered name."""
        return self.family.name

    @cached_property
    def config(self) -> Any:
        """The family's ``Config`` of these settings (:meth:`check`)."""
        return self.check()

    def check(self) -> Any:
        """The family's ``Config`` of these settings, after every check that needs no
        network: each setting of its declared type and within its bounds (the Config's own
        checks), a latent size where the family has one, and the networks' size (the
        family's ``parameter_estimate``) within
        :data:`~brainsynth.models.shape.MAX_PARAMETERS`. Nothing is allocated before."""
        name = self.family.name
        if not isinstance(self.arch_config, dict):
            raise BrainsynthError(f"bad {name} settings: {brief(self.arch_config)}")
        check_nesting(self.arch_config, f"{name} settings")
        try:
            config = self.family.Config(**self.arch_config)
        except TypeError as exc:
            names = ", ".join(map(brief, self.arch_config))
            raise BrainsynthError(f"bad {name} settings {names} ({exc})") from exc
        if self.family.uses_latent and self.shape.latent is None:
            raise BrainsynthError(f"{name} needs a latent size in its shape")
        count = self.family.parameter_estimate(config, self.shape)
        if count > MAX_PARAMETERS:
            raise BrainsynthError(
                f"{name} at {self.shape.size} px with these settings would hold about "
                f"{count:,} parameters, more than the {MAX_PARAMETERS:,} brainsynth builds "
                "(check the widths, latent and image size)"
            )
        return config

    def build(self) -> tuple[torch.nn.Module, ...]:
        """Fresh networks of this family, config and shape: the generator first (a GAN:
        (generator, discriminator); a denoiser: (generator,)), after :meth:`check`."""
        config = self.check()
        try:
            return self.family.build(config, self.shape)
        except ValueError as exc:  # a library's own check (e.g. MONAI's)
            raise BrainsynthError(
                f"{self.family.name}: the network cannot be built with these settings "
                f"({one_line(exc)})"
            ) from exc

    def with_config_defaults(self) -> ModelRecord:
        """The same model with every setting written out (defaults filled in), as a run
        records it: two records of one model then compare equal."""
        return replace(self, arch_config=config_to_dict(self.family.Config(**self.arch_config)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelRecord):
            return NotImplemented
        return self.as_dict() == other.as_dict()

    def __hash__(self) -> int:
        return hash((self.family.name, self.shape))

    def as_dict(self) -> dict[str, Any]:
        return {"arch": self.family.name, "arch_config": dict(self.arch_config),
                "shape": config_to_dict(self.shape)}  # fmt: skip


def model_record(
    checkpoint: dict[str, Any], path: Path | str = "checkpoint", expected: Family | None = None
) -> ModelRecord:
    """The :class:`ModelRecord` of a checkpoint read by :func:`load_checkpoint` (of the
    ``expected`` family, when the caller knows it)."""
    return ModelRecord.read(checkpoint.get("arch"), checkpoint.get("arch_config"),
                            checkpoint.get("shape"), str(path), expected)  # fmt: skip


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
    """Read a checkpoint with ``weights_only=True`` and return it in this version's layout
    (older versions upgraded); clear errors for bad files."""
    path = Path(path)
    if not path.is_file():
        raise BrainsynthError(f"{path}: checkpoint not found")
    checkpoint = load_plain(path, "checkpoint")
    check_checkpoint(checkpoint, path)
    for key in ("train", "arch_config", "shape", "model"):
        check_nesting(checkpoint.get(key), f"{path}: {key}")
    return upgrade_checkpoint(checkpoint, path)


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
