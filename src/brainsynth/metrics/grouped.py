"""Evaluation of labelled and of joint four-sequence samples (issue 13).

- Labelled samples (a conditional run, ``sample --label``): every metric per class, against
  the real images of that class only: ``with-tumor`` samples against real slices with
  tumour, ``t2`` samples against real T2 images. A generator that ignored its labels would
  pass a pooled test and fail these.
- Joint samples (N, 4, H, W): every metric per channel against the real images of that
  sequence, and a C2ST on the four-channel stacks against the real stacks, so that sequences
  which look right one by one but disagree with each other count against the generator.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from brainsynth.data.dataset import JOINT, PreparedDataset
from brainsynth.data.labels import TUMOR_LABEL_NAMES, tumor_labels
from brainsynth.errors import BrainsynthError
from brainsynth.metrics.evaluate import EvalConfig, evaluate
from brainsynth.outputs import distinct_names, inside
from brainsynth.paper import SEQUENCES

MIN_PER_CLASS = 10
"""Samples a class needs to be evaluated (fewer get a note)."""

CLASSES: dict[str, tuple[str, ...]] = {"tumor": TUMOR_LABEL_NAMES, "sequence": SEQUENCES}
"""The classes of each condition whose samples can be evaluated per class."""

GROUP_FOLDERS: tuple[str, ...] = tuple(dict.fromkeys([*SEQUENCES, *TUMOR_LABEL_NAMES]))
"""Every folder a per-class or per-channel evaluation may write beside its JSON."""


def group_folder(out_dir: Path | None, name: str) -> Path | None:
    """The folder of one class or channel in ``out_dir`` (through the one slug-and-contain
    helper, :func:`brainsynth.outputs.inside`), or None without ``out_dir``."""
    return inside(out_dir, name, "class name") if out_dir is not None else None


def label_groups(labels: list[str], condition: str) -> list[str]:
    """The classes of ``labels`` that get evaluated (at least :data:`MIN_PER_CLASS` samples).

    Checked before any metric runs, for every class present: a name from a file
    (``labels.csv``, an export's ``label_names``) must be a safe name, since it names a
    folder, and a class of ``condition``, since it selects the real images compared with.
    """
    if condition not in CLASSES:
        raise BrainsynthError(f"samples labelled by condition {condition!r} cannot be evaluated")
    names = distinct_names(labels, "class name")
    unknown = [name for name in names if name not in CLASSES[condition]]
    if unknown:
        raise BrainsynthError(
            f"class {unknown[0]!r} of the synthetic images is not a class of condition "
            f"{condition} ({', '.join(CLASSES[condition])})"
        )
    return [name for name in names if labels.count(name) >= MIN_PER_CLASS]


def evaluate_channels(
    prepared: PreparedDataset,
    fake: np.ndarray,
    config: EvalConfig,
    out_dir: Path | None = None,
    progress: bool = True,
    fake_groups: np.ndarray | None = None,
) -> dict[str, dict[str, Any]]:
    """Every metric of each channel of (N, 4, H, W) joint samples against that sequence
    (``fake_groups``: the patients of a second prepared set's stacks)."""
    if fake.ndim != 4 or fake.shape[1] != len(SEQUENCES):
        raise BrainsynthError(f"joint samples must be (N, 4, H, W), got shape {fake.shape}")
    return {
        name: evaluate(
            prepared.image_set(name, as_float=False),
            np.ascontiguousarray(fake[:, c : c + 1]),
            config,
            group_folder(out_dir, name),
            progress,
            fake_groups=fake_groups,
        )
        for c, name in enumerate(SEQUENCES)
    }


def evaluate_joint(
    prepared: PreparedDataset,
    fake: np.ndarray,
    config: EvalConfig,
    out_dir: Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """C2ST of the (N, 4, H, W) stacks, plus ``per_channel``: every metric per sequence."""
    per_channel = evaluate_channels(prepared, fake, config, out_dir, progress)
    stack_config = dataclasses.replace(config, metrics=["c2st"])
    result = evaluate(
        prepared.image_set(JOINT, as_float=False), fake, stack_config, out_dir, progress
    )
    result["per_channel"] = per_channel
    return result


def real_of_label(
    prepared: PreparedDataset, sequence: str, condition: str, label: str, threshold: float
):
    """The real ImageSet a class is compared with."""
    if condition == "sequence":
        return prepared.image_set(label, as_float=False)
    if condition == "tumor":
        image_set = prepared.image_set(sequence, as_float=False)
        wanted = 1 if label == "with-tumor" else 0
        labels = tumor_labels(prepared.slices, threshold)[image_set.rows]
        return image_set.subset(labels == wanted)
    raise BrainsynthError(f"samples labelled by condition {condition!r} cannot be evaluated")


def evaluate_per_label(
    prepared: PreparedDataset,
    sequence: str,
    fake: np.ndarray,
    labels: list[str],
    condition: str,
    threshold: float,
    config: EvalConfig,
    out_dir: Path | None = None,
    progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """Every metric per class present in ``labels`` (one name per sample), against the real
    images of that class; classes with fewer than 10 samples are skipped with a note. Every
    class name is checked (:func:`label_groups`) before the first metric runs."""
    names = np.asarray(labels)
    if len(names) != len(fake):
        raise BrainsynthError(f"{len(names)} labels for {len(fake)} samples")
    evaluated = label_groups(list(labels), condition)
    out: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(labels):
        chosen = fake[names == name]
        if name not in evaluated:
            out[name] = {
                "note": f"not evaluated: {len(chosen)} samples (at least {MIN_PER_CLASS} needed)"
            }
            continue
        real = real_of_label(prepared, sequence, condition, name, threshold)
        out[name] = evaluate(real, chosen, config, group_folder(out_dir, name), progress)
    return out
