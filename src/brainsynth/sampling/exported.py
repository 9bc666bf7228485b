"""Reading an exported generator: ``config.json`` + ``model.safetensors`` + ``README.md`` +
``manifest.json``.

``brainsynth export`` (:mod:`brainsynth.export`) writes a folder another lab can sample
without the training run: the generator's weights only, as safetensors (plain tensors, no
pickle, nothing in the file can run code), ``config.json``, which names the format and
its version, the family with its settings and shape (a
:class:`~brainsynth.models.checkpoint.ModelRecord`, so every family is rebuilt through the
registry) and what the images are (image set, channel order, class names, output mapping,
background floor), the model card, and ``manifest.json``, the sha256 of each of them
(:mod:`.manifest`). Nothing here imports training code: loading an export imports the
registry and the one family module it names.

**A bundle is whole or refused**, in this order, before any network is built: every file's
hash against the manifest; every field of ``config.json`` against its vocabulary and bounds
(image set, condition and channels from the known lists and consistent with each other;
class names plain, unique, as many as the classes and those of the condition, in order;
background floor in [0, 0.5]; the architecture's settings and shape of their declared types,
within their maxima, and the networks' size within
:data:`~brainsynth.models.shape.MAX_PARAMETERS`); then each tensor's dtype against the
freshly built generator's and its values finite. Anything else is one line naming the file.

**Format versions.** Version 3 (brainsynth 0.4) adds ``mask_channels`` and
``condition_channels`` to the shape and stores no latent size for a family without one
(older exports read them as 0, and their latent is ignored there). Version 2 (0.3.1) added
``manifest.json``. Version 1 (0.3.0) exports have none: they are still read, with every
field and tensor checked the same way, and a one-line warning on stderr that their
``config.json`` is covered by no hash (export the run again to add one).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import torch

from brainsynth.config import brief, check_nesting, is_int
from brainsynth.errors import BrainsynthError
from brainsynth.models.checkpoint import ModelRecord, load_state_checked, resolve_device
from brainsynth.sampling.manifest import (
    HEX64,
    MANIFEST_FILE,
    check_file,
    read_manifest,
    sha256_of,
)
from brainsynth.sampling.record import GeneratorRecord
from brainsynth.vocabulary import description_problems, floor_problem, threshold_problem

FORMAT = "brainsynth-generator"
FORMAT_VERSION = 3
READABLE_VERSIONS: tuple[int, ...] = (1, 2, 3)
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "README.md"
BUNDLE_FILES: tuple[str, ...] = (CONFIG_FILE, WEIGHTS_FILE, CARD_FILE)
"""The files ``manifest.json`` lists (all of them, from format version 2)."""
MAX_CONFIG_BYTES = 1 << 20  # config.json is about 3 KB
EXPORT_WEIGHTS: tuple[str, ...] = ("ema", "raw")
REQUIRED: tuple[str, ...] = (
    "format_version", "arch", "arch_config", "shape", "weights", "weights_sha256",
    "image_set", "channels", "label_names", "output_mapping", "background_floor",
)  # fmt: skip
VERSION_TEXT = re.compile(r"[0-9][0-9A-Za-z.+-]{0,31}")


def is_export(source: str | os.PathLike[str]) -> bool:
    """True for a folder holding an export's ``model.safetensors`` (checked when read)."""
    return (Path(source) / WEIGHTS_FILE).is_file()


def read_export_config(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The validated ``config.json`` of an export folder (its files checked against the
    manifest first); one-line errors otherwise."""
    folder = Path(folder)
    path = folder / CONFIG_FILE
    if not (folder / WEIGHTS_FILE).is_file() or not path.is_file():
        raise BrainsynthError(
            f"{folder}: not a brainsynth export (needs {CONFIG_FILE} and {WEIGHTS_FILE})"
        )
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise BrainsynthError(f"{path}: larger than {MAX_CONFIG_BYTES:,} bytes, not an export's")
    data = path.read_bytes()
    try:
        config = json.loads(data.decode("utf-8"))
    except RecursionError as exc:
        raise BrainsynthError(f"{path}: unreadable JSON (nested too deeply)") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise BrainsynthError(f"{path}: unreadable JSON ({exc})") from exc
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise BrainsynthError(f"{path}: not a brainsynth export config (format is not {FORMAT})")
    version = check_version(config, folder)
    if version >= 2:
        files = read_manifest(folder, BUNDLE_FILES, BUNDLE_FILES)
        check_file(path, files[CONFIG_FILE], data)
        check_file(folder / CARD_FILE, files[CARD_FILE])
        if config.get("weights_sha256") != files[WEIGHTS_FILE]:
            raise BrainsynthError(f"{path}: its weights_sha256 is not the one in {MANIFEST_FILE}")
    check_nesting(config, str(path))
    missing = [key for key in REQUIRED if key not in config]
    if missing:
        raise BrainsynthError(f"{path}: incomplete export config (missing {', '.join(missing)})")
    check_export_config(config, path)
    return config


def check_version(config: dict[str, Any], folder: Path) -> int:
    """The config's format version, if this brainsynth reads it; else one line (a newer
    one names the brainsynth that wrote it, when that is a version number)."""
    version = config.get("format_version")
    if is_int(version) and version > FORMAT_VERSION:
        writer = config.get("brainsynth_version")
        writer = writer if isinstance(writer, str) and VERSION_TEXT.fullmatch(writer) else None
        writer = writer or "a newer brainsynth"
        raise BrainsynthError(
            f"{folder}: export format version {version} (written by brainsynth {writer}); this "
            f"brainsynth reads format version {FORMAT_VERSION}: upgrade to brainsynth {writer} "
            "or newer"
        )
    if not is_int(version) or version not in READABLE_VERSIONS:
        raise BrainsynthError(f"{folder / CONFIG_FILE}: bad export config (format_version "
                              f"{brief(version)})")  # fmt: skip
    return version


def check_export_config(config: dict[str, Any], path: Path) -> None:
    """Types, vocabulary and bounds of every field a loader relies on (the architecture's
    settings are checked by :meth:`ModelRecord.check` in :func:`export_record`)."""
    problems = []
    if config["weights"] not in EXPORT_WEIGHTS:
        problems.append(f"weights {brief(config['weights'])}")
    digest = config["weights_sha256"]
    if not isinstance(digest, str) or not HEX64.fullmatch(digest):
        problems.append("weights_sha256 is not 64 hex digits")
    if not isinstance(config["arch"], str):
        problems.append(f"arch {brief(config['arch'])}")
    if not isinstance(config["arch_config"], dict) or not isinstance(config["shape"], dict):
        problems.append("arch_config and shape must be objects")
    for key, limit in (("output_mapping", 500), ("objective", 64)):
        value = config.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            problems.append(f"{key} must be text of at most {limit} characters")
    iteration = config.get("checkpoint_iteration")
    if iteration is not None and (not is_int(iteration) or iteration < 0):
        problems.append(f"checkpoint_iteration {brief(iteration)}")
    problems += [p for p in (floor_problem(config["background_floor"]),
                             threshold_problem(config.get("tumor_threshold"))) if p]  # fmt: skip
    if problems:
        raise BrainsynthError(f"{path}: bad export config ({'; '.join(problems)})")
    shape = export_record(config, path).shape
    problems = description_problems(
        config["image_set"], config.get("condition", "none"), config["label_names"],
        shape.channels, shape.num_classes, config["channels"],
    )  # fmt: skip
    if problems:
        raise BrainsynthError(f"{path}: bad export config ({'; '.join(problems)})")


def export_record(config: dict[str, Any], path: Path) -> ModelRecord:
    """The family, settings and shape an export's config names, checked
    (:meth:`ModelRecord.read`) but not built."""
    return ModelRecord.read(config["arch"], config["arch_config"], config["shape"],
                            f"{path}: bad export config")  # fmt: skip


NESTED = "::"
"""Separates a module's extra-state key (``_extra_state``) from its tensors' names."""


def flatten_state(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, list[str]]]:
    """A state dict as plain tensors for safetensors: a dict of tensors (a module's extra
    state, e.g. StyleGAN2's noise RNG) becomes ``key::name`` entries, listed in the second
    value (``nested`` in config.json). Anything else cannot be exported."""
    flat: dict[str, torch.Tensor] = {}
    nested: dict[str, list[str]] = {}
    for key, value in state.items():
        if isinstance(value, torch.Tensor):
            flat[key] = value.detach().cpu().clone().contiguous()
        elif isinstance(value, dict) and all(isinstance(v, torch.Tensor) for v in value.values()):
            nested[key] = sorted(value)
            for name, tensor in value.items():
                flat[f"{key}{NESTED}{name}"] = tensor.detach().cpu().clone().contiguous()
        else:
            raise BrainsynthError(f"state entry {key!r} is not a tensor; it cannot be exported")
    return flat, nested


def unflatten_state(flat: dict[str, torch.Tensor], nested: dict[str, list[str]]) -> dict:
    """The inverse of :func:`flatten_state` (a missing entry is left to the model's check)."""
    state: dict[str, Any] = {k: v for k, v in flat.items() if NESTED not in k}
    for key, names in nested.items():
        found = {name: f"{key}{NESTED}{name}" for name in names}
        parts = {name: flat[entry] for name, entry in found.items() if entry in flat}
        if len(parts) == len(names):
            state[key] = parts
    return state


def read_weights(path: Path, expected_sha256: str, listed_in: str) -> dict[str, torch.Tensor]:
    """The tensors of ``model.safetensors``, after checking its sha256 (from ``listed_in``)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if sha256_of(path) != expected_sha256:
        raise BrainsynthError(
            f"{path}: does not match its sha256 in {listed_in} (corrupt, altered or from "
            "another export)"
        )
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise BrainsynthError(f"{path}: unreadable safetensors file ({exc})") from exc


def load_export_generator(
    folder: str | os.PathLike[str], weights: str = "auto", device: str = "auto"
) -> tuple[torch.nn.Module, GeneratorRecord]:
    """The generator of an export folder (eval mode, on ``device``) and its
    :class:`~brainsynth.sampling.source.GeneratorRecord`."""
    folder = Path(folder)
    config = read_export_config(folder)
    kept = config["weights"]
    if weights not in ("auto", kept):
        raise BrainsynthError(
            f"{folder}: this export holds the {kept} weights only (export again with "
            f"--weights {weights}, or sample with --weights {kept})"
        )
    record = export_record(config, folder / CONFIG_FILE)
    nested = config.get("nested") or {}
    if not isinstance(nested, dict) or not all(
        isinstance(v, list) and all(isinstance(n, str) for n in v) for v in nested.values()
    ):
        raise BrainsynthError(f"{folder / CONFIG_FILE}: bad export config (nested)")
    listed_in = MANIFEST_FILE if config["format_version"] >= 2 else CONFIG_FILE
    flat = read_weights(folder / WEIGHTS_FILE, config["weights_sha256"], listed_in)
    generator = record.build()[0]
    state = unflatten_state(flat, nested)
    load_state_checked(generator, state, WEIGHTS_FILE, folder)
    if config["format_version"] < 2:  # said once all is known sound: a refusal stays one line
        print(
            f"brainsynth: warning: {folder}: an export of format version 1 (brainsynth 0.3.0) "
            f"has no {MANIFEST_FILE}, so no hash covers its {CONFIG_FILE} (every field and "
            "tensor is still checked); export the run again to add one",
            file=sys.stderr,
        )
    generator.to(resolve_device(device)).eval()
    return generator, GeneratorRecord(
        source=str(folder),
        path=str(folder),
        kind="export",
        iteration=config.get("checkpoint_iteration"),
        model=record,
        weights=kept,
        objective=config.get("objective"),
        image_set=config["image_set"],
        label_names=tuple(config["label_names"]),
        condition=config.get("condition") or "none",
        tumor_threshold=config.get("tumor_threshold"),
        background_floor=float(config["background_floor"]),
        version=config["format_version"],
    )
