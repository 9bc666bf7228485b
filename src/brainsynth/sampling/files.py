"""Writing generated images: one PNG each, ``samples.npy`` and ``sampling.json``; with
tumour masks also ``masks.npy`` and one pair PNG each (image | coloured overlay)."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from brainsynth.config import write_atomic, write_text_atomic
from brainsynth.data.masks import overlay
from brainsynth.errors import BrainsynthError
from brainsynth.imageio import joint_panel, save_grid, save_png, save_rgb_png, to_uint8

PAIR_SUFFIX = "-pair.png"
"""The pair PNG of sample ``000007.png`` is ``000007-pair.png``."""
PAIR_GAP = 2  # black pixels between the image and its overlay


def shown_channel(image: np.ndarray) -> np.ndarray:
    """The (H, W) channel a pair PNG shows: the image's own, or FLAIR (the last of T1, T1c,
    T2, FLAIR) of a joint (4, H, W) image, where glioma and oedema show best."""
    return np.asarray(image)[-1]


def pair_panel(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(H, 2W + gap, 3) uint8: the image in grey beside its mask's coloured overlay
    (:func:`brainsynth.data.masks.overlay`), for (C, H, W) ``image`` in [0, 1] and (H, W)
    ``mask``."""
    grey = shown_channel(image)
    left = np.repeat(to_uint8(grey)[..., None], 3, axis=-1)
    gap = np.zeros((grey.shape[0], PAIR_GAP, 3), np.uint8)
    return np.concatenate([left, gap, overlay(grey, mask)], axis=1)


def write_samples(
    images: np.ndarray | Any,
    out_dir: str | os.PathLike[str],
    grid: str | os.PathLike[str] | None = None,
    meta: dict[str, Any] | None = None,
    masks: np.ndarray | None = None,
) -> Path:
    """Write ``DIR/000000.png``..., ``DIR/samples.npy`` and ``DIR/sampling.json``; with tumour
    masks (``masks`` (N, H, W) uint8 beside an array, or a stream that has them) also
    ``DIR/masks.npy`` (N, H, W) uint8 labels 0..3, row for row with ``samples.npy``, and
    ``DIR/000000-pair.png``, ... (the image in grey beside its mask's coloured overlay).

    ``images`` is (N, 1, H, W) in [0, 1], or (N, 4, H, W) for joint four-sequence samples
    (each PNG is then a 2x2 panel: T1 | T1c over T2 | FLAIR), as one array or as an
    :class:`~brainsynth.sampling.images.ImageStream` (its ``shape`` and chunks of images,
    each written before the next is generated, so N is bounded by the disk, not the
    memory); ``grid`` optionally saves a montage of up to 64; ``meta`` (e.g.
    :func:`~brainsynth.sampling.generate_with_info`'s info) goes into ``sampling.json``,
    except a per-image ``labels`` list, which becomes ``DIR/labels.csv`` (file, label id,
    label name) with the counts per class in the JSON. Every file is written atomically and
    never through a link (the caller's claim refused links among these names before the
    work: :mod:`brainsynth.outputs`).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shape = tuple(images.shape)
    if len(shape) != 4 or shape[1] not in (1, 4):
        raise ValueError(f"expected (N, 1, H, W) or (N, 4, H, W) images, got {shape}")
    if isinstance(images, np.ndarray):
        chunks = [(images, masks)]
        has_masks = masks is not None
        if has_masks and np.shape(masks) != (shape[0], *shape[2:]):
            raise ValueError(f"masks {np.shape(masks)} do not match images {shape}")
    else:
        chunks, has_masks = images.chunks, images.has_masks
    first: list[np.ndarray] = []  # the grid's images

    def write_npy_and_pngs(handle: Any, mask_handle: Any = None) -> None:  # as np.save does
        descr = np.lib.format.dtype_to_descr(np.dtype(np.float32))
        header = {"descr": descr, "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(handle, header)
        if mask_handle is not None:
            descr = np.lib.format.dtype_to_descr(np.dtype(np.uint8))
            mask_header = {"descr": descr, "fortran_order": False, "shape": (shape[0], *shape[2:])}
            np.lib.format.write_array_header_1_0(mask_handle, mask_header)
        start = 0
        for chunk, chunk_masks in chunks:
            chunk = np.clip(np.asarray(chunk, dtype=np.float32), 0.0, 1.0)
            for i, image in enumerate(chunk, start):
                save_png(out / f"{i:06d}.png", joint_panel(image) if len(image) == 4 else image)
            if mask_handle is not None:
                chunk_masks = np.ascontiguousarray(chunk_masks, dtype=np.uint8)
                for i, (image, mask) in enumerate(zip(chunk, chunk_masks, strict=True), start):
                    save_rgb_png(out / f"{i:06d}{PAIR_SUFFIX}", pair_panel(image, mask))
                mask_handle.write(chunk_masks.data)
            handle.write(np.ascontiguousarray(chunk).data)
            first.extend(chunk[: 64 - len(first)].copy())
            start += len(chunk)
        if start != shape[0]:
            raise ValueError(f"{start} images for a shape of {shape}")

    if has_masks:  # masks.npy is renamed into place just after samples.npy, or neither
        write_atomic(
            out / "masks.npy",
            lambda mask_handle: write_atomic(
                out / "samples.npy", lambda images: write_npy_and_pngs(images, mask_handle)
            ),
        )
    else:
        write_atomic(out / "samples.npy", write_npy_and_pngs)
    if grid is not None:
        save_grid(grid, np.stack(first))
    record = {**(meta or {}), "count": shape[0], "grid": str(grid) if grid else None}
    labels = record.pop("labels", None)
    if labels is not None:
        names = list(record.get("label_names") or [])
        name = [names[k] if k < len(names) else str(k) for k in labels]
        rows = [f"{i:06d}.png,{k},{n}" for i, (k, n) in enumerate(zip(labels, name, strict=True))]
        write_text_atomic(out / "labels.csv", "\n".join(["file,label_id,label", *rows]) + "\n")
        record["labels_file"] = "labels.csv"
        record["label_counts"] = {n: name.count(n) for n in dict.fromkeys(name)}
    write_text_atomic(out / "sampling.json", json.dumps(record, indent=2) + "\n")
    return out


def read_sample_labels(
    source: str | os.PathLike[str], record: dict[str, Any] | None, n: int
) -> list[str] | None:
    """The class names of the first ``n`` samples: from freshly sampled ``record["labels"]``
    (ids, with ``label_names``), else from ``labels.csv`` beside saved samples; None when
    the samples carry no labels."""
    if record is not None and record.get("labels") is not None:
        names = list(record.get("label_names") or [])
        return [names[k] for k in record["labels"][:n]]
    source = Path(source)
    path = (source if source.is_dir() else source.parent) / "labels.csv"
    if not path.is_file():
        return None
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = csv.DictReader(handle)
            if "label" not in (rows.fieldnames or []):
                raise BrainsynthError(f"{path}: no 'label' column (file,label_id,label)")
            labels = [row["label"] or "" for row in rows]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BrainsynthError(f"{path}: not a readable labels file ({exc})") from None
    return labels[:n] if len(labels) >= n else None
