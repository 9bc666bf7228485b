"""Generating images from a generator of any family, the one generation path.

A checkpoint or an export names its family, settings and shape, so the generator is rebuilt
from the file alone (:func:`~brainsynth.sampling.source.load_generator`, which also gives
its :class:`~brainsynth.sampling.source.GeneratorRecord`); its own ``to_images`` maps the
raw output to [0, 1] (the paper's DCGAN: ``clip((y + 1) / 2, 0, 1)``, no tanh, §3.2.2).
See :mod:`brainsynth.sampling.config` for the background floor and EMA weights.

Every family samples through :func:`run_generator`: the generator's ``generate`` maps
seeded noise of its ``noise_shape`` (a GAN's latent vector; a denoiser's starting image) and
a :class:`~brainsynth.models.generator.Condition` (class ids) to raw images, with the
sampler settings its family declares (``Family.sampler_settings``: e.g. ``steps`` and
``guidance``; a GAN has none, and asking a GAN for them is a one-line error).

**Determinism.** The ``n`` noise inputs are drawn, ~ N(0, I), from one ``torch.Generator``
seeded with ``seed`` (at once, or in chunks of :func:`chunk_images` when they would not fit
in :data:`CHUNK_BYTES`), and the generator runs in eval mode (batch normalisation uses its
running statistics) in fp32; a denoiser's sampler is deterministic. The same checkpoint,
seed, ``n``, ``batch`` and sampler settings give identical images, and brainsynth 0.1.0
checkpoints give 0.1.0's images.

**Tumour masks** (issue 25). A pair model (``train --with-mask``) generates the mask as
channels after the image's: the stream splits them off and decodes them to labels 0..3
(:func:`brainsynth.models.mask_encoding.decode`), so the images are the image channels only
and each chunk carries its masks. A mask-conditioned model (``train --condition mask``) is
given one uint8 (H, W) mask per image (``masks``), encoded as the run was trained; its
chunks carry those masks unchanged. Either way ``masks.npy`` is written beside
``samples.npy`` (:func:`~brainsynth.sampling.files.write_samples`).

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
from typing import Any

import numpy as np
import torch

from brainsynth.errors import BrainsynthError
from brainsynth.models.generator import Condition, check_labels
from brainsynth.models.mask_encoding import decode, encode, encoding_of
from brainsynth.sampling.config import SamplingConfig
from brainsynth.sampling.record import GeneratorRecord
from brainsynth.sampling.source import load_generator

CHUNK_BYTES = 256 << 20
"""Images (and their noise) generated per chunk by :func:`sample_stream`: 256 MiB."""


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


@torch.no_grad()
def run_generator(
    generator: torch.nn.Module,
    noise: torch.Tensor,
    condition: Condition | None,
    batch: int,
    progress: bool = False,
    bar: Any = None,
    **settings: Any,
) -> np.ndarray:
    """``generator.to_images`` of ``generator.generate(noise, condition, **settings)`` in
    chunks of ``batch``: float32 (N, C, H, W) in [0, 1]. ``noise``: (N, *noise_shape), e.g.
    from :func:`draw_noise`; ``condition``: what each image is drawn for (None: nothing);
    ``settings``: its family's sampler settings (None = the model's default; checked by the
    caller, :func:`sample_stream`); ``progress``: a tqdm bar over the images (on a terminal
    only), or ``bar``: one to update."""
    from tqdm.auto import tqdm

    given = {k: v for k, v in settings.items() if v is not None}
    condition = condition or Condition()
    device = next(generator.parameters()).device
    chunks = []
    with tqdm(total=len(noise), unit="img", desc="sampling", leave=False,
              disable=None if progress and bar is None else True) as own:  # fmt: skip
        for start in range(0, len(noise), batch):
            part = slice(start, start + batch)
            out = generator.generate(noise[part].to(device), condition.rows(part).to(device),
                                     **given)  # fmt: skip
            chunks.append(generator.to_images(out).cpu())
            (own if bar is None else bar).update(len(out))
    return torch.cat(chunks).numpy().astype(np.float32, copy=False)


@dataclass
class ImageStream:
    """The ``shape[0]`` images of a sampling run, generated chunk by chunk (float32 (k, C, H,
    W) arrays in [0, 1]) as they are iterated, once. ``chunks`` yields each chunk's images
    with its masks (uint8 (k, H, W), labels 0..3; None unless ``has_masks``: a pair model's
    generated masks, or the masks a mask-conditioned model was given); iterating the stream
    itself yields the images alone."""

    shape: tuple[int, int, int, int]
    chunks: Iterator[tuple[np.ndarray, np.ndarray | None]]
    has_masks: bool = False

    def __iter__(self) -> Iterator[np.ndarray]:
        return (images for images, _ in self.chunks)

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
    generator: torch.nn.Module,
    record: GeneratorRecord,
    config: SamplingConfig,
    labels: torch.Tensor | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """:func:`sample_images` for a generator already loaded by :func:`load_generator`: the
    one generation path, whichever source the weights came from (``labels``: one class id
    per image instead of ``config.label``). The images are returned as one array: an ``n``
    whose images exceed the memory available is refused in one line (``brainsynth sample``
    streams them to disk instead)."""
    images, _, sampled = sample_loaded_pairs(generator, record, config, labels)
    return images, sampled


def sample_loaded_pairs(
    generator: torch.nn.Module,
    record: GeneratorRecord,
    config: SamplingConfig,
    labels: torch.Tensor | None = None,
    masks: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    """:func:`sample_loaded` with the masks: images (n, C, H, W), the pair model's generated
    masks or the given ``masks`` of a mask-conditioned model (uint8 (n, H, W); None for a
    model of images alone), and what ``sampling.json`` records."""
    stream, sampled = sample_stream(generator, record, config, labels, masks)
    check_fits_in_memory(stream.shape)
    images = np.empty(stream.shape, dtype=np.float32)
    drawn = np.empty((stream.shape[0], *stream.shape[2:]), np.uint8) if stream.has_masks else None
    start = 0
    for chunk, chunk_masks in stream.chunks:
        images[start : start + len(chunk)] = chunk
        if drawn is not None:
            drawn[start : start + len(chunk)] = chunk_masks
        start += len(chunk)
    return images, drawn, sampled


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


def sampler_settings(record: GeneratorRecord, config: SamplingConfig) -> dict[str, Any]:
    """The sampler settings ``config`` asks for (``--steps``, ``--guidance``,
    ``--sampler-option``), checked against the generator's family: a setting it does not
    have is a one-line error (a GAN has none)."""
    asked = {**config.options, "steps": config.steps, "guidance": config.guidance}
    record.family.check_sampler_settings(asked)
    return {k: v for k, v in asked.items() if v is not None}


def sampler_record(record: GeneratorRecord, settings: dict[str, Any]) -> dict[str, Any]:
    """The sampler settings used: each of the family's, as asked or by the model's default
    ({} for a GAN)."""
    return {**record.family.sampler_defaults(record.config), **settings}


def sample_images(
    source: str | os.PathLike[str], config: SamplingConfig
) -> tuple[np.ndarray, dict[str, Any]]:
    """``config.n`` images (n, C, H, W) float32 in [0, 1] from a run folder, checkpoint or
    export, and what ``sampling.json`` records."""
    generator, record = load_generator(source, config.weights, config.device)
    return sample_loaded(generator, record, config)


def check_condition_masks(record: GeneratorRecord, masks: np.ndarray | None, n: int) -> None:
    """One-line errors, before any image is drawn, for masks a generator cannot take: none
    for a mask-conditioned model, some for any other, or not ``n`` labelled (H, W) maps of
    the model's size."""
    from brainsynth.errors import BrainsynthError

    shape = record.shape
    if shape.condition_channels and masks is None:
        raise BrainsynthError("this generator draws images for given tumour masks (trained "
                              "with --condition mask): give them with --from-masks")  # fmt: skip
    if not shape.condition_channels and masks is not None:
        raise BrainsynthError("--from-masks: this generator is not conditioned on tumour masks "
                              "(train one with --condition mask)")  # fmt: skip
    if masks is None:
        return
    if masks.ndim != 3 or masks.shape[1:] != (shape.size, shape.size):
        raise BrainsynthError(f"--from-masks: masks of {'x'.join(map(str, masks.shape[1:]))} "
                              f"px; this generator draws {shape.size}x{shape.size} px")  # fmt: skip
    if len(masks) != n:
        raise BrainsynthError(f"--from-masks: {len(masks)} masks for --n {n}")
    if masks.dtype != np.uint8 or (masks.size and masks.max() > 3):
        raise BrainsynthError("--from-masks: masks hold the labels 0..3 as uint8")


def sample_stream(
    generator: torch.nn.Module,
    record: GeneratorRecord,
    config: SamplingConfig,
    labels: torch.Tensor | None = None,
    masks: np.ndarray | None = None,
) -> tuple[ImageStream, dict[str, Any]]:
    """The ``config.n`` images of a loaded generator as an :class:`ImageStream` (generated
    chunk by chunk as it is read) and what ``sampling.json`` records. ``labels``: one class
    id per image (else ``config.label`` for all, or every class in turn); ``masks``: uint8
    (n, H, W) tumour masks, one per image, for a mask-conditioned generator. Every setting
    is checked here, before the first image is generated."""
    floor = config.background_floor
    if floor is None:
        floor = record.background_floor
    shape = record.shape
    settings = sampler_settings(record, config)
    names = record.label_names
    label = resolve_label(config.label, names, shape.num_classes)
    if labels is None:
        labels = _labels(config.n, label, shape.num_classes)
    else:
        check_labels(labels, shape.num_classes, config.n)
    check_condition_masks(record, masks, config.n)
    multi_step = bool(record.family.sampler_settings)  # minutes on a CPU: a progress bar
    image_shape = (shape.channels, shape.size, shape.size)
    chunk = chunk_images(generator, (shape.generated_channels, *image_shape[1:]), config.batch)

    def chunks() -> Iterator[np.ndarray]:
        from tqdm.auto import tqdm

        rng = torch.Generator().manual_seed(config.seed)
        with tqdm(total=config.n, unit="img", desc="sampling", leave=False,
                  disable=None if multi_step else True) as bar:  # fmt: skip
            for start in range(0, config.n, chunk):
                count = min(chunk, config.n - start)
                noise = torch.randn(count, *generator.noise_shape, generator=rng)
                part = labels[start : start + count] if labels is not None else None
                given = None if masks is None else masks[start : start + count]
                condition = Condition(part, None if given is None else torch.from_numpy(
                    encode(given, shape.condition_channels)))  # fmt: skip
                out = run_generator(generator, noise, condition, config.batch, bar=bar,
                                    **settings)  # fmt: skip
                images = np.ascontiguousarray(out[:, : shape.channels])
                if floor > 0:
                    images[images < floor] = 0.0
                drawn = decode(out[:, shape.channels :]) if shape.mask_channels else given
                yield images, drawn

    sampled = {
        record.kind: record.path,
        "iteration": record.iteration,
        "arch": record.family.name,
        "objective": record.objective,
        "sequence": record.image_set,
        "size": shape.size,
        "weights": record.weights,
        "seed": config.seed,
        "n": config.n,
        "batch": config.batch,
        "label": names[label] if label is not None and names else label,
        "background_floor": floor,
        "output_mapping": generator.output_mapping,
        "generator_mode": "eval (batch-norm running statistics), fp32",
        **sampler_record(record, settings),
    }
    if shape.mask_channels or shape.condition_channels:
        channels = shape.mask_channels or shape.condition_channels
        sampled["masks"] = "generated" if shape.mask_channels else "given"
        sampled["masks_file"] = "masks.npy"
        sampled["mask_encoding"] = encoding_of(channels)
    if labels is not None:
        sampled["condition"] = record.condition
        sampled["tumor_threshold"] = record.tumor_threshold
        sampled["label_names"] = list(names)
        sampled["labels"] = labels.tolist()  # written as labels.csv by write_samples
    has_masks = bool(shape.mask_channels) or masks is not None
    return ImageStream((config.n, *image_shape), chunks(), has_masks), sampled


def sample_images_stream(
    source: str | os.PathLike[str], config: SamplingConfig
) -> tuple[ImageStream, dict[str, Any]]:
    """:func:`sample_images` as an :class:`ImageStream`, for writing to disk in chunks."""
    generator, record = load_generator(source, config.weights, config.device)
    return sample_stream(generator, record, config)


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
