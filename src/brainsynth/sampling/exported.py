"""Reading an exported generator: ``config.json`` + ``model.safetensors`` (+ ``README.md``).

``brainsynth export`` (:mod:`brainsynth.export`) writes a folder another lab can sample
without the training run: the generator's weights only, as safetensors (plain tensors, no
pickle, nothing in the file can run code), and ``config.json``, which names the format and
its version, the architecture with its settings and shape (a
:class:`~brainsynth.models.checkpoint.ModelRecord`, so every family is rebuilt through the
registry), what the images are (image set, channel order, class names, output mapping,
background floor) and the sha256 of the weights file. Nothing here imports training code:
loading an export imports the registry and the one architecture module it names.

Anything that is not such a folder, or one that was altered (bad bytes, an edited config, a
missing or reshaped tensor), is refused with one line naming the file.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from brainsynth.errors import BrainsynthError
from brainsynth.models.checkpoint import ModelRecord, load_state_checked, resolve_device
from brainsynth.models.shape import ModelShape

FORMAT = "brainsynth-generator"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "README.md"
EXPORT_WEIGHTS: tuple[str, ...] = ("ema", "raw")
REQUIRED: tuple[str, ...] = (
    "format_version", "arch", "arch_config", "shape", "weights", "weights_sha256",
    "image_set", "channels", "label_names", "output_mapping", "background_floor",
)  # fmt: skip


def is_export(source: str | os.PathLike[str]) -> bool:
    """True for a folder holding an export's ``model.safetensors`` (checked when read)."""
    return (Path(source) / WEIGHTS_FILE).is_file()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_export_config(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The validated ``config.json`` of an export folder; one-line errors otherwise."""
    folder = Path(folder)
    path = folder / CONFIG_FILE
    if not (folder / WEIGHTS_FILE).is_file() or not path.is_file():
        raise BrainsynthError(
            f"{folder}: not a brainsynth export (needs {CONFIG_FILE} and {WEIGHTS_FILE})"
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BrainsynthError(f"{path}: unreadable JSON ({exc})") from exc
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise BrainsynthError(f"{path}: not a brainsynth export config (format is not {FORMAT})")
    version = config.get("format_version")
    if isinstance(version, int) and version > FORMAT_VERSION:
        writer = config.get("brainsynth_version", "a newer brainsynth")
        raise BrainsynthError(
            f"{folder}: export format version {version} (written by brainsynth {writer}); this "
            f"brainsynth reads format version {FORMAT_VERSION}: upgrade to brainsynth {writer} "
            "or newer"
        )
    missing = [key for key in REQUIRED if key not in config]
    if missing:
        raise BrainsynthError(f"{path}: incomplete export config (missing {', '.join(missing)})")
    check_export_config(config, path)
    return config


def check_export_config(config: dict[str, Any], path: Path) -> None:
    """Types and values of the fields a loader relies on."""
    problems = []
    if config["format_version"] != FORMAT_VERSION:
        problems.append(f"format_version {config['format_version']!r}")
    if config["weights"] not in EXPORT_WEIGHTS:
        problems.append(f"weights {config['weights']!r}")
    if not isinstance(config["arch_config"], dict) or not isinstance(config["shape"], dict):
        problems.append("arch_config and shape must be objects")
    names = config["label_names"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        problems.append("label_names must be a list of names")
    floor = config["background_floor"]
    if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not 0 <= floor < 1:
        problems.append(f"background_floor {floor!r}")
    if problems:
        raise BrainsynthError(f"{path}: bad export config ({'; '.join(problems)})")


def export_record(config: dict[str, Any], path: Path) -> ModelRecord:
    """The architecture, settings and shape an export's config names."""
    from brainsynth.models import check_arch

    try:
        shape = ModelShape(**config["shape"])
    except TypeError as exc:
        raise BrainsynthError(f"{path}: bad shape in export config ({exc})") from exc
    if len(config["label_names"]) != shape.num_classes:
        raise BrainsynthError(
            f"{path}: {len(config['label_names'])} label names for {shape.num_classes} classes"
        )
    return ModelRecord(check_arch(str(config["arch"])), dict(config["arch_config"]), shape)


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


def read_weights(path: Path, expected_sha256: str) -> dict[str, torch.Tensor]:
    """The tensors of ``model.safetensors``, after checking its sha256 against the config."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if sha256_of(path) != expected_sha256:
        raise BrainsynthError(
            f"{path}: does not match the sha256 in {CONFIG_FILE} (corrupt or altered weights)"
        )
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise BrainsynthError(f"{path}: unreadable safetensors file ({exc})") from exc


def load_export_generator(
    folder: str | os.PathLike[str], weights: str = "auto", device: str = "auto"
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The generator of an export folder (eval mode, on ``device``) and what it is.

    The description has the keys of :func:`brainsynth.sampling.images.load_generator`'s.
    """
    folder = Path(folder)
    config = read_export_config(folder)
    kept = config["weights"]
    if weights not in ("auto", kept):
        raise BrainsynthError(
            f"{folder}: this export holds the {kept} weights only (export again with "
            f"--weights {weights}, or sample with --weights {kept})"
        )
    record = export_record(config, folder / CONFIG_FILE)
    generator = record.build()[0]
    flat = read_weights(folder / WEIGHTS_FILE, str(config["weights_sha256"]))
    nested = config.get("nested") or {}
    if not isinstance(nested, dict) or not all(isinstance(v, list) for v in nested.values()):
        raise BrainsynthError(f"{folder / CONFIG_FILE}: bad export config (nested)")
    state = unflatten_state(flat, nested)
    load_state_checked(generator, state, WEIGHTS_FILE, folder)
    generator.to(resolve_device(device)).eval()
    info = {
        "source": str(folder),
        "export": str(folder),
        "iteration": config.get("checkpoint_iteration"),
        **record.as_dict(),
        "weights": kept,
        "objective": config.get("objective"),
        "sequence": config["image_set"],
        "label_names": tuple(config["label_names"]),
        "condition": config.get("condition"),
        "tumor_threshold": config.get("tumor_threshold"),
        "background_floor": float(config["background_floor"]),
    }
    return generator, info
