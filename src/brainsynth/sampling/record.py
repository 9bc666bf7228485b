"""What a loaded generator is and where it came from: one typed record for every source."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from brainsynth.models.checkpoint import ModelRecord
from brainsynth.models.family import Family
from brainsynth.models.shape import ModelShape


@dataclass(frozen=True)
class GeneratorRecord:
    """What a loaded generator is and where it came from.

    ``source``: what was asked for; ``path``: the checkpoint file or export folder read
    (``kind`` says which); ``iteration``: generator updates of the weights (None: an export
    that does not say); ``model``: family, settings and shape; ``weights``: ``ema`` | ``raw``;
    ``objective``: what it was trained with; ``image_set``, ``label_names``, ``condition``,
    ``tumor_threshold``: what its images are; ``background_floor``: the source's default;
    ``train``: a checkpoint's training config; ``version``: the format version read.
    """

    source: str
    path: str
    kind: str  # checkpoint | export
    iteration: int | None
    model: ModelRecord
    weights: str
    objective: str | None
    image_set: str
    label_names: tuple[str, ...]
    condition: str
    tumor_threshold: float | None
    background_floor: float
    train: dict[str, Any] = field(default_factory=dict, repr=False)
    version: int | None = None

    @property
    def family(self) -> Family:
        return self.model.family

    @property
    def shape(self) -> ModelShape:
        return self.model.shape

    @property
    def config(self) -> Any:
        """The family's Config of this generator."""
        return self.model.config

    def as_dict(self) -> dict[str, Any]:
        """The record as plain values (what ``sampling.json`` and messages show)."""
        return {
            "source": self.source,
            self.kind: self.path,
            "iteration": self.iteration,
            **self.model.as_dict(),
            "weights": self.weights,
            "objective": self.objective,
            "sequence": self.image_set,
            "label_names": list(self.label_names),
            "condition": self.condition,
            "tumor_threshold": self.tumor_threshold,
            "background_floor": self.background_floor,
        }
