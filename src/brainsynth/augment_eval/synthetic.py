"""Where the synthetic slices of an arm come from, and the guard that keeps test patients out.

A :class:`SyntheticSource` is called once per fraction and repeat with that fraction's
training patients and returns a :class:`LabelledGenerator` trained on at most those
patients. The experiment checks ``generator.patients <= request.patients`` whatever the
source, so no synthetic image carries information from a patient the classifier may not use
(in particular from a test patient).

The segmentation task asks the same way for generators of labelled data: a
:class:`PairSource` gives a :class:`PairGenerator` of image + label-map pairs (``train
--with-mask``), a :class:`MaskConditionedSource` a :class:`MaskConditionedGenerator` that
draws images for given label maps (``train --condition mask``), and the same guard applies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import yaml

from brainsynth.data.dataset import load_prepared
from brainsynth.errors import BrainsynthError
from brainsynth.models.upgrade import is_flat, nest_flat_config


@dataclass(frozen=True)
class GeneratorRequest:
    """What a source is asked for: a generator of one fraction and repeat."""

    fraction: float
    repeat: int
    patients: tuple[str, ...]  # the only patients the generator may learn from
    seed: int
    folder: Path  # where a source may write a run
    key: str = ""  # how the report names a training set given by patient count, e.g. "4p"

    def describe(self) -> str:
        """The training set in words, for messages."""
        if self.key:
            return f"the {len(self.patients)} training patients of {self.key}"
        return f"the {len(self.patients)} training patients of fraction {self.fraction:g}"


class LabelledGenerator(Protocol):
    """A trained conditional generator, as the experiment uses it."""

    label_names: tuple[str, ...]  # class names, e.g. ("without-tumor", "with-tumor")
    patients: frozenset[str]  # the patients its training images came from

    def sample(self, labels: np.ndarray, seed: int) -> np.ndarray:
        """Float32 images in [0, 1], (len(labels), C, H, W), one of each requested class id."""
        ...


class SyntheticSource(Protocol):
    def __call__(self, request: GeneratorRequest) -> LabelledGenerator: ...


class PairGenerator(Protocol):
    """A trained generator of image + tumour label-map pairs."""

    patients: frozenset[str]  # the patients its training pairs came from

    def sample_pairs(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` pairs: float32 images in [0, 1], (n, C, H, W), and uint8 label maps with
        labels 0..3 (``masks.npy``'s), (n, H, W)."""
        ...


class PairSource(Protocol):
    def __call__(self, request: GeneratorRequest) -> PairGenerator: ...


class MaskConditionedGenerator(Protocol):
    """A trained generator of images for given tumour label maps."""

    patients: frozenset[str]  # the patients its training pairs came from

    def sample_from_masks(self, masks: np.ndarray, seed: int) -> np.ndarray:
        """Float32 images in [0, 1], (N, C, H, W), one for each uint8 label map (N, H, W)."""
        ...


class MaskConditionedSource(Protocol):
    def __call__(self, request: GeneratorRequest) -> MaskConditionedGenerator: ...


MaskEdit = Callable[[np.ndarray, np.random.Generator, np.ndarray], np.ndarray]
"""An edit of label maps (N, H, W) -> (N, H, W), e.g. from :mod:`brainsynth.data.mask_edit`:
scale, move, rotate or flip a tumour, insert or remove one, grow or shrink a sub-region;
called with the random generator to draw from and each slice's brain, (N, H, W) bool (its
real image above 0), which a tumour must stay inside."""


class TrainedOnPatients(Protocol):
    patients: frozenset[str]


def check_patients(generator: TrainedOnPatients, request: GeneratorRequest, what: str) -> None:
    """Refuse a generator trained on any patient outside the request's training patients."""
    extra = sorted(set(generator.patients) - set(request.patients))
    if extra:
        shown = ", ".join(extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        raise BrainsynthError(
            f"{what} was trained on patient(s) outside {request.describe()} "
            f"(repeat {request.repeat}): {shown}"
        )


def run_training_patients(run: str | Path) -> frozenset[str]:
    """The patients a run folder was trained on, from its ``config.yaml``.

    ``data.patients`` when the run was restricted to some patients, else every patient of the
    prepared folder it recorded (``data.prepared``; a brainsynth 0.1.0 run's flat config is
    read as :mod:`brainsynth.models.upgrade` says).
    """
    run = Path(run)
    path = run / "config.yaml"
    if not path.is_file():
        raise BrainsynthError(f"{run}: not a run folder (config.yaml is missing)")
    config = yaml.safe_load(path.read_text()) or {}
    if isinstance(config, dict) and is_flat(config):
        config = nest_flat_config(config, run)
    data = config.get("data") if isinstance(config, dict) else None
    data = data if isinstance(data, dict) else {}
    patients = data.get("patients")
    if patients:
        return frozenset(str(p) for p in patients)
    prepared = data.get("prepared")
    if not prepared or not Path(prepared).is_dir():
        raise BrainsynthError(
            f"{run}: cannot tell which patients it was trained on (its prepared folder "
            f"{prepared!r} is gone and config.yaml lists no data.patients)"
        )
    return frozenset(str(p) for p in load_prepared(prepared).patients)
