"""Generating images from a checkpoint of any registered architecture.

A checkpoint names its architecture, settings and shape (:mod:`brainsynth.models.checkpoint`),
so the generator is rebuilt from the file alone through the registry; its own
``to_images`` maps the raw output to [0, 1] (the paper's DCGAN: ``clip((y + 1) / 2, 0, 1)``,
no tanh, §3.2.2). See :mod:`brainsynth.sampling.config` for the background floor and EMA
weights.

Every family samples through :func:`run_generator`: the generator's ``generate`` maps
seeded noise of its ``noise_shape`` (a GAN's latent vector; a diffusion model's starting
image x_T) and class ids to raw images, with the sampler settings it declares
(``sampler_settings``: a diffusion model's ``steps`` and ``guidance``; a GAN has none, and
asking a GAN for them is a one-line error).

**Determinism.** The ``n`` noise inputs are drawn, ~ N(0, I), from one ``torch.Generator``
seeded with ``seed`` (at once, or in chunks of :func:`chunk_images` when they would not fit
in :data:`CHUNK_BYTES`), and the generator runs in eval mode (batch normalisation uses its
running statistics) in fp32; a diffusion model samples with deterministic DDIM (eta = 0).
The same checkpoint, seed, ``n``, ``batch`` and sampler settings give identical images, and
brainsynth 0.1.0 checkpoints give 0.1.0's images.

**Memory.** :func:`sample_stream` generates the images chunk by chunk (``brainsynth sample``
writes each chunk to disk before the next), so ``n`` is bounded by the disk, not the memory;
:func:`sample_loaded` returns them as one array and refuses, in one line naming the limit,
an ``n`` whose images would not fit in the memory available.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from brainsynth.errors import BrainsynthError
from brainsynth.models.checkpoint import (
    find_checkpoint,
    load_checkpoint,
    load_state_checked,
    model_record,
    resolve_device,
)
from brainsynth.sampling.config import SamplingConfig
from brainsynth.sampling.exported import is_export, load_export_generator
from brainsynth.vocabulary import description_problems, floor_problem

CHUNK_BYTES = 256 << 20
"""Images (and their noise) generated per chunk by :func:`sample_stream`: 256 MiB."""


def load_generator(
    source: str | os.PathLike[str], weights: str = "auto", device: str = "auto"
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The generator of a run folder (its ``checkpoints/last.pt``), a ``.pt`` checkpoint or an
    export folder (:mod:`.exported`).

    ``weights``: ``ema`` | ``raw`` | ``auto`` (EMA when the source has it). Returns the
    generator (eval mode, on ``device``) and a description of the source with the same keys
    whatever it is: ``source``, ``iteration``, ``arch``, ``arch_config``, ``shape``,
    ``weights``, ``objective``, ``sequence``, ``label_names``, ``condition``,
    ``tumor_threshold``, ``background_floor`` (the source's default) and, for checkpoints,
    ``checkpoint``, ``train`` and ``version``.
    """
    if is_export(source):
        return load_export_generator(source, weights, device)
    path = find_checkpoint(source)
    state = load_checkpoint(path)
    record = model_record(state, path)
    if not isinstance(state["train"], dict) or not isinstance(state["trainer"], dict):
        raise BrainsynthError(f"{path}: bad checkpoint (train and trainer must be mappings)")
    generator = record.build()[0]
    parts = state["trainer"]
    has_ema = "generator_ema" in parts
    if weights == "ema" and not has_ema:
        raise BrainsynthError(
            f"{path}: this run kept no EMA generator (train --ema-half-life); use --weights raw"
        )
    use_ema = has_ema and weights in ("ema", "auto")
    key = "generator_ema" if use_ema else "generator"
    load_state_checked(generator, parts[key], key.replace("_", " "), path)
    generator.to(resolve_device(device)).eval()
    train = dict(state["train"])
    info = {
        "source": str(source),
        "checkpoint": str(path),
        "iteration": int(state["iteration"]),
        **record.as_dict(),
        "weights": "ema" if use_ema else "raw",
        "train": train,
        "version": state["version"],
        **_train_summary(train),
        "label_names": label_names_of(train),
    }
    problems = description_problems(
        info["sequence"], info["condition"] or "none", list(info["label_names"]),
        record.shape.channels, record.shape.num_classes,
    )  # fmt: skip
    if problems:
        raise BrainsynthError(f"{path}: bad training config in checkpoint ({problems[0]})")
    info["background_floor"] = run_default_floor(path, info)
    return generator, info


def run_default_floor(path: Path, info: dict[str, Any]) -> float:
    """The background floor a run asked for: 0.1.0's checkpoint, or ``RUN/sampling.yaml``
    (in [0, 0.5], else one line naming the file)."""
    if info["version"] == 1:
        floor, where = info["train"].get("background_floor") or 0.0, path
    else:
        run = path.parent.parent if path.parent.name == "checkpoints" else path.parent
        where = run / "sampling.yaml"
        try:
            recorded = yaml.safe_load(where.read_text()) or {}
        except (OSError, yaml.YAMLError, RecursionError):
            return 0.0
        floor = recorded.get("background_floor") if isinstance(recorded, dict) else None
        floor = 0.0 if floor is None else floor
    problem = floor_problem(floor)
    if problem:
        raise BrainsynthError(f"{where}: {problem}")
    return float(floor)


def label_names_of(train: dict[str, Any]) -> tuple[str, ...]:
    """The class names a (nested) training config recorded; () for unconditional runs."""
    data = train.get("data") if "run" in train else None
    if not isinstance(data, dict) or data.get("condition", "none") == "none":
        return ()
    return tuple(data.get("label_names") or ())


def resolve_label(label: int | str | None, names: tuple[str, ...], num_classes: int) -> int | None:
    """A class id from an id or a name (``with-tumor``, ``t2``); None stays None."""
    if label is None:
        return None
    if not num_classes:
        raise BrainsynthError("--label: this generator is unconditional")
    if isinstance(label, str):
        if label not in names:
            raise BrainsynthError(
                f"--label {label!r}: this generator's classes are {', '.join(names)}"
            )
        return names.index(label)
    if label >= num_classes:
        raise BrainsynthError(f"--label {label}: the generator has classes 0..{num_classes - 1}")
    return label


def _labels(n: int, label: int | None, num_classes: int) -> torch.Tensor | None:
    """Class ids for conditional generators: ``label`` for all, or 0, 1, ..., K-1 in turn."""
    if not num_classes:
        return None
    if label is not None:
        return torch.full((n,), label, dtype=torch.long)
    return torch.arange(n) % num_classes


def draw_noise(generator: torch.nn.Module, n: int, seed: int) -> torch.Tensor:
    """``n`` noise inputs of the generator's ``noise_shape``, ~ N(0, I), seeded (on the CPU)."""
    shape = tuple(generator.noise_shape)
    return torch.randn(n, *shape, generator=torch.Generator().manual_seed(seed))


def check_sampler_settings(generator: torch.nn.Module, settings: dict[str, Any]) -> None:
    """A one-line error for a sampler setting (``steps``, ``guidance``) the generator's
    family does not have (a GAN samples in one forward pass)."""
    known = tuple(getattr(generator, "sampler_settings", ()))
    for name, value in settings.items():
        if value is not None and name not in known:
            raise BrainsynthError(
                f"--{name}: this generator samples in one forward pass (a GAN); only "
                "diffusion models (--arch ddpm) have sampling steps and guidance"
            )


@torch.no_grad()
def run_generator(
    generator: torch.nn.Module,
    noise: torch.Tensor,
    labels: torch.Tensor | None,
    batch: int,
    progress: bool = False,
    bar: Any = None,
    **settings: Any,
) -> np.ndarray:
    """``generator.to_images`` of ``generator.generate(noise, labels, **settings)`` in chunks
    of ``batch``: float32 (N, C, H, W) in [0, 1]. ``noise``: (N, *noise_shape), e.g. from
    :func:`draw_noise`; ``settings``: sampler settings (None = the model's default);
    ``progress``: a tqdm bar over the images (on a terminal only), or ``bar``: one to update."""
    from tqdm.auto import tqdm

    check_sampler_settings(generator, settings)
    given = {k: v for k, v in settings.items() if v is not None}
    device = next(generator.parameters()).device
    chunks = []
    with tqdm(total=len(noise), unit="img", desc="sampling", leave=False,
              disable=None if progress and bar is None else True) as own:  # fmt: skip
        for start in range(0, len(noise), batch):
            part = slice(start, start + batch)
            batch_labels = labels[part].to(device) if labels is not None else None
            out = generator.generate(noise[part].to(device), batch_labels, **given)
            chunks.append(generator.to_images(out).cpu())
            (own if bar is None else bar).update(len(out))
    return torch.cat(chunks).numpy().astype(np.float32, copy=False)


@dataclass
class ImageStream:
    """The ``shape[0]`` images of a sampling run, generated chunk by chunk (float32 (k, C, H,
    W) arrays in [0, 1]) as they are iterated, once."""

    shape: tuple[int, int, int, int]
    chunks: Iterator[np.ndarray]

    def __iter__(self) -> Iterator[np.ndarray]:
        return self.chunks

    def __len__(self) -> int:
        return self.shape[0]


def chunk_images(generator: torch.nn.Module, image_shape: tuple[int, ...], batch: int) -> int:
    """Images per chunk of :func:`sample_stream`: as many as fit in :data:`CHUNK_BYTES` (images
    and noise; at least 16), a multiple of 16 (torch's CPU normal sampler fills blocks of 16,
    so with 16 or more noise values per image the chunks draw exactly the noise of one draw)
    and, when that fits too, of ``batch`` (every forward pass then sees the images it would
    see without chunks)."""
    per_image = 4 * max(math.prod(image_shape), math.prod(generator.noise_shape))
    fit = max(16, CHUNK_BYTES // per_image // 16 * 16)
    step = math.lcm(16, batch)
    return fit // step * step if step <= fit else fit


def sample_loaded(
    generator: torch.nn.Module, info: dict[str, Any], config: SamplingConfig
) -> tuple[np.ndarray, dict[str, Any]]:
    """:func:`sample_images` for a generator already loaded by :func:`load_generator`: the
    one generation path, whichever source the weights came from. The images are returned as
    one array: an ``n`` whose images exceed the memory available is refused in one line
    (``brainsynth sample`` streams them to disk instead)."""
    stream, record = sample_stream(generator, info, config)
    check_fits_in_memory(stream.shape)
    images = np.empty(stream.shape, dtype=np.float32)
    start = 0
    for chunk in stream:
        images[start : start + len(chunk)] = chunk
        start += len(chunk)
    return images, record


def check_fits_in_memory(shape: tuple[int, ...]) -> None:
    """Refuse images of ``shape`` (float32) that would take more than 3/4 of the memory
    available, naming both (a MemoryError, or the kernel ending the process, otherwise)."""
    need, available = 4 * math.prod(shape), available_memory()
    if available is not None and need > available * 3 // 4:
        n, size = shape[0], "×".join(map(str, shape[1:]))
        raise BrainsynthError(
            f"--n {n:,}: {n:,} images of {size} take {need / 1e9:.1f} GB in memory, more than "
            f"3/4 of the {available / 1e9:.1f} GB available; ask for fewer, or write them to "
            "disk with brainsynth sample, which streams them"
        )


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``), else the
    physical memory, else None when neither is known."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def sampler_record(generator: torch.nn.Module, config: SamplingConfig) -> dict[str, Any]:
    """The sampler settings used (a diffusion model's steps and guidance; {} for a GAN)."""
    model = getattr(generator, "config", None)
    used = {}
    for name in getattr(generator, "sampler_settings", ()):
        value = getattr(config, name)
        default = getattr(model, {"steps": "sample_steps"}.get(name, name), None)
        used[name] = value if value is not None else default
    return used


def _train_summary(train: dict[str, Any]) -> dict[str, Any]:
    """The objective and image set of a (0.1.0 flat or nested) training config dict."""
    if "run" in train:
        data = train["data"]
        return {
            "objective": train["objective"]["name"],
            "sequence": data["sequence"],
            "condition": data.get("condition"),
            "tumor_threshold": data.get("tumor_threshold"),
        }
    flat = {"objective": train.get("gan"), "sequence": train.get("sequence")}
    return {**flat, "condition": None, "tumor_threshold": None}


def sample_images(
    source: str | os.PathLike[str], config: SamplingConfig
) -> tuple[np.ndarray, dict[str, Any]]:
    """``config.n`` images (n, C, H, W) float32 in [0, 1] from a run folder, checkpoint or
    export, and what ``sampling.json`` records."""
    generator, info = load_generator(source, config.weights, config.device)
    return sample_loaded(generator, info, config)


def sample_stream(
    generator: torch.nn.Module, info: dict[str, Any], config: SamplingConfig
) -> tuple[ImageStream, dict[str, Any]]:
    """The ``config.n`` images of a loaded generator as an :class:`ImageStream` (generated
    chunk by chunk as it is read) and what ``sampling.json`` records. Every setting is
    checked here, before the first image is generated."""
    floor = config.background_floor
    if floor is None:
        floor = info["background_floor"]
    shape = info["shape"]
    settings = {"steps": config.steps, "guidance": config.guidance}
    check_sampler_settings(generator, settings)
    names = tuple(info["label_names"])
    label = resolve_label(config.label, names, shape["num_classes"])
    labels = _labels(config.n, label, shape["num_classes"])
    multi_step = bool(getattr(generator, "sampler_settings", ()))  # minutes on a CPU: a bar
    image_shape = (shape["channels"], shape["size"], shape["size"])
    chunk = chunk_images(generator, image_shape, config.batch)

    def chunks() -> Iterator[np.ndarray]:
        from tqdm.auto import tqdm

        rng = torch.Generator().manual_seed(config.seed)
        with tqdm(total=config.n, unit="img", desc="sampling", leave=False,
                  disable=None if multi_step else True) as bar:  # fmt: skip
            for start in range(0, config.n, chunk):
                count = min(chunk, config.n - start)
                noise = torch.randn(count, *generator.noise_shape, generator=rng)
                part = labels[start : start + count] if labels is not None else None
                images = run_generator(generator, noise, part, config.batch, bar=bar, **settings)
                if floor > 0:
                    images[images < floor] = 0.0
                yield images

    where = {"checkpoint": info["checkpoint"]} if "checkpoint" in info else {}
    record = {
        **where,
        **({"export": info["export"]} if "export" in info else {}),
        "iteration": info["iteration"],
        "arch": info["arch"],
        "gan": info["objective"],
        "sequence": info["sequence"],
        "size": shape["size"],
        "weights": info["weights"],
        "seed": config.seed,
        "n": config.n,
        "batch": config.batch,
        "label": names[label] if label is not None and names else label,
        "background_floor": floor,
        "output_mapping": generator.output_mapping,
        "generator_mode": "eval (batch-norm running statistics), fp32",
        **sampler_record(generator, config),
    }
    if labels is not None:
        record["condition"] = info["condition"]
        record["tumor_threshold"] = info["tumor_threshold"]
        record["label_names"] = list(names)
        record["labels"] = labels.tolist()  # written as labels.csv by write_samples
    return ImageStream((config.n, *image_shape), chunks()), record


def sample_images_stream(
    source: str | os.PathLike[str], config: SamplingConfig
) -> tuple[ImageStream, dict[str, Any]]:
    """:func:`sample_images` as an :class:`ImageStream`, for writing to disk in chunks."""
    generator, info = load_generator(source, config.weights, config.device)
    return sample_stream(generator, info, config)


def generate_with_info(
    source: str | os.PathLike[str], n: int, **settings: Any
) -> tuple[np.ndarray, dict[str, Any]]:
    """:func:`sample_images` with the :class:`SamplingConfig` fields as keywords."""
    return sample_images(source, SamplingConfig(n=n, **settings))


def generate(source: str | os.PathLike[str], n: int, **settings: Any) -> np.ndarray:
    """``n`` generated images, (n, C, H, W) float32 in [0, 1]; see the module docstring.

    ``source`` is a run folder, a ``.pt`` checkpoint or an export; ``settings`` are
    :class:`SamplingConfig` fields (seed, batch, device, weights, background_floor, label,
    and a diffusion model's steps and guidance).
    """
    return sample_images(source, SamplingConfig(n=n, **settings))[0]
