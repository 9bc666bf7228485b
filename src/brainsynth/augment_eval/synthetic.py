"""Where the synthetic slices of an arm come from, and the guard that keeps test patients out.

A :class:`SyntheticSource` is called once per fraction and repeat with that fraction's
training patients and returns a :class:`LabelledGenerator` trained on at most those
patients. The experiment checks ``generator.patients <= request.patients`` whatever the
source, so no synthetic image carries information from a patient the classifier may not use
(in particular from a test patient).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import yaml

from brainsynth.data.dataset import load_prepared
from brainsynth.errors import BrainsynthError


@dataclass(frozen=True)
class GeneratorRequest:
    """What a source is asked for: a generator of one fraction and repeat."""

    fraction: float
    repeat: int
    patients: tuple[str, ...]  # the only patients the generator may learn from
    seed: int
    folder: Path  # where a source may write a run


class LabelledGenerator(Protocol):
    """A trained conditional generator, as the experiment uses it."""

    label_names: tuple[str, ...]  # class names, e.g. ("without-tumor", "with-tumor")
    patients: frozenset[str]  # the patients its training images came from

    def sample(self, labels: np.ndarray, seed: int) -> np.ndarray:
        """Float32 images in [0, 1], (len(labels), C, H, W), one of each requested class id."""
        ...


class SyntheticSource(Protocol):
    def __call__(self, request: GeneratorRequest) -> LabelledGenerator: ...


def check_patients(generator: LabelledGenerator, request: GeneratorRequest, what: str) -> None:
    """Refuse a generator trained on any patient outside the request's fraction."""
    extra = sorted(set(generator.patients) - set(request.patients))
    if extra:
        shown = ", ".join(extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        raise BrainsynthError(
            f"{what} was trained on patient(s) outside the {len(request.patients)} training "
            f"patients of fraction {request.fraction:g} (repeat {request.repeat}): {shown}"
        )


def run_training_patients(run: str | Path) -> frozenset[str]:
    """The patients a run folder was trained on, from its ``config.yaml``.

    ``data.patients`` when the run was restricted to some patients, else every patient of the
    prepared folder it recorded (``data.prepared``, or ``data`` in brainsynth 0.1.0 runs).
    """
    run = Path(run)
    path = run / "config.yaml"
    if not path.is_file():
        raise BrainsynthError(f"{run}: not a run folder (config.yaml is missing)")
    config = yaml.safe_load(path.read_text()) or {}
    data = config.get("data")
    patients = data.get("patients") if isinstance(data, dict) else None
    if patients:
        return frozenset(str(p) for p in patients)
    prepared = data.get("prepared") if isinstance(data, dict) else data
    if not prepared or not Path(prepared).is_dir():
        raise BrainsynthError(
            f"{run}: cannot tell which patients it was trained on (its prepared folder "
            f"{prepared!r} is gone and config.yaml lists no data.patients)"
        )
    return frozenset(str(p) for p in load_prepared(prepared).patients)
