"""What a generator's images are, in the words brainsynth's files use, and the check of a
description read from a file (an export's ``config.json``, a run checkpoint's config).

Image sets (the paper's four sequences and Concat, §3.2.2, plus ``joint``: the four
sequences of a slice as one 4-channel image), conditions (``none``, ``tumor``,
``sequence``, ``mask``) and the class names each condition gives, in class-id order. Torch-free and
dependency-free: the data layer defines its datasets and labels with these names, and
loading a generator checks against them without importing the data layer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from brainsynth.config import brief, is_number
from brainsynth.paper import IMAGE_SETS, SEQUENCES

JOINT: str = "joint"
"""Not one of the paper's sets: the four sequences of a slice as one (4, H, W) image."""
TRAINING_SETS: tuple[str, ...] = (*IMAGE_SETS, JOINT)
"""Every image set a generator can be trained on."""

CONDITIONS: tuple[str, ...] = ("none", "tumor", "sequence", "mask")
"""What a conditional generator is drawn for (``brainsynth train --condition``): class labels
(``tumor``, ``sequence``), or a tumour mask given as input (``mask``: no class labels)."""

TUMOR_LABEL_NAMES: tuple[str, str] = ("without-tumor", "with-tumor")
"""Class names of the tumour label: id 0 and id 1."""

MAX_LABEL_NAME = 64
"""The longest class name accepted (a class name becomes a folder name and a CSV field)."""
LABEL_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9_-])?")
"""A plain class name: letters, digits, ``-``, ``_`` and ``.``, starting with a letter or
digit and not ending with ``.`` (never ``.``, ``..`` or a hidden name): the names
:data:`brainsynth.outputs.SAFE_NAME` lets become output folders (a test keeps them alike)."""
MAX_BACKGROUND_FLOOR = 0.5
"""The highest background floor (:mod:`brainsynth.sampling.config`) accepted: a floor
blackens the faint background; above half the intensity range it erases tissue."""


def image_set_channels(image_set: str) -> tuple[str, ...]:
    """What each channel of an image set's images holds, in order."""
    return SEQUENCES if image_set == JOINT else (image_set,)


def expected_label_names(condition: str, image_set: str) -> tuple[str, ...] | None:
    """The class names, in id order, that ``condition`` gives on ``image_set``; None when
    the pair is impossible (``sequence`` labels only Concat's images)."""
    if condition in ("none", "mask"):
        return ()
    if condition == "tumor":
        return TUMOR_LABEL_NAMES
    if condition == "sequence" and image_set == "concat":
        return SEQUENCES
    return None


def label_name_problem(name: Any) -> str | None:
    """Why ``name`` cannot be a class name, or None when it is a plain one."""
    if not isinstance(name, str):
        return f"class name {brief(name)} is not text"
    if not name or len(name) > MAX_LABEL_NAME or not LABEL_NAME.fullmatch(name) or ".." in name:
        return (
            f"class name {brief(name)} is not a plain name (1 to {MAX_LABEL_NAME} letters, "
            "digits, '-', '_' or '.', starting with a letter or digit, not ending with '.', "
            "no '..')"
        )
    return None


def description_problems(
    image_set: Any,
    condition: Any,
    label_names: Any,
    channels: int,
    num_classes: int,
    channel_names: Sequence[Any] | None = None,
) -> list[str]:
    """What is wrong with a generator's description: its image set and condition must be
    known ones, its class names plain, unique, as many as its classes and the ones its
    condition gives, in order (a swapped pair would label every sample wrongly), and its
    channels those of its image set. ``channel_names`` (an export's ``channels``) is
    checked when given. An empty list means the description is consistent."""
    if not isinstance(image_set, str) or image_set not in TRAINING_SETS:
        return [f"image_set {brief(image_set)} is not one of {', '.join(TRAINING_SETS)}"]
    if not isinstance(condition, str) or condition not in CONDITIONS:
        return [f"condition {brief(condition)} is not one of {', '.join(CONDITIONS)}"]
    if not isinstance(label_names, (list, tuple)):
        return [f"label_names must be a list of class names, got {brief(label_names)}"]
    problems = [p for p in map(label_name_problem, label_names) if p][:1]
    if not problems and len({n.casefold() for n in label_names}) != len(label_names):
        problems.append("label_names are not unique (ignoring case)")
    if len(label_names) != num_classes:
        problems.append(f"{len(label_names)} label names for {num_classes} classes")
    expected = expected_label_names(condition, image_set)
    if expected is None:
        problems.append(f"condition {condition} does not apply to image set {image_set}")
    elif not problems and tuple(label_names) != expected:
        problems.append(
            f"label_names {', '.join(label_names) or '(none)'} are not those of condition "
            f"{condition} ({', '.join(expected) or 'none'}, in this order)"
        )
    wanted = image_set_channels(image_set)
    if channels != len(wanted):
        problems.append(f"{channels} channels for image set {image_set} ({len(wanted)} expected)")
    elif channel_names is not None and list(channel_names) != list(wanted):
        problems.append(f"channels must be {', '.join(wanted)} for image set {image_set}")
    return problems


def floor_problem(floor: Any) -> str | None:
    """Why ``floor`` cannot be a recorded background floor, or None."""
    if not is_number(floor) or not 0 <= floor <= MAX_BACKGROUND_FLOOR:
        return f"background_floor {brief(floor)} is not a number in [0, {MAX_BACKGROUND_FLOOR}]"
    return None


def threshold_problem(threshold: Any) -> str | None:
    """Why ``threshold`` cannot be a tumour threshold (pixels), or None (None is allowed)."""
    if threshold is not None and (not is_number(threshold) or threshold < 0):
        return f"tumor_threshold {brief(threshold)} is not a number >= 0"
    return None


__all__ = [
    "CONDITIONS",
    "JOINT",
    "TRAINING_SETS",
    "TUMOR_LABEL_NAMES",
    "description_problems",
    "expected_label_names",
    "image_set_channels",
    "floor_problem",
    "label_name_problem",
    "threshold_problem",
]
