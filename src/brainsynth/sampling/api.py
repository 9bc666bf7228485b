"""``brainsynth.load_generator(path)``: a trained generator as a Python object.

    import brainsynth
    generator = brainsynth.load_generator("exports/sg2-concat-64")  # or a run folder
    images = generator.generate(16, seed=0)  # (16, C, H, W) float32 in [0, 1]

The weights are read once; :meth:`TrainedGenerator.generate` then goes through the same
generation path as ``brainsynth sample`` (:func:`~brainsynth.sampling.images.sample_loaded`),
so an export and its run folder give the same images for the same seed.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from brainsynth.sampling.config import SamplingConfig
from brainsynth.sampling.images import sample_loaded
from brainsynth.sampling.source import load_generator as load_source


class TrainedGenerator:
    """A loaded generator and what it is (:attr:`record`, a
    :class:`~brainsynth.sampling.source.GeneratorRecord`: family, shape, class names...)."""

    def __init__(
        self, path: str | os.PathLike[str], weights: str = "auto", device: str = "auto"
    ) -> None:
        SamplingConfig(weights=weights, device=device)  # one-line errors for bad choices
        self.path = os.fspath(path)
        self.weights, self.device = weights, device
        self.module, self.record = load_source(path, weights, device)

    @property
    def info(self) -> dict[str, Any]:
        """The record as plain values (family, settings, shape, weights, class names...)."""
        return self.record.as_dict()

    @property
    def label_names(self) -> tuple[str, ...]:
        """The classes ``generate(label=...)`` accepts; () for an unconditional generator."""
        return self.record.label_names

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one image."""
        shape = self.record.shape
        return (shape.channels, shape.size, shape.size)

    def generate(
        self,
        n: int,
        seed: int = 0,
        label: int | str | None = None,
        **settings: Any,
    ) -> np.ndarray:
        """``n`` images, (n, C, H, W) float32 in [0, 1]; ``settings`` are the other
        :class:`SamplingConfig` fields (``batch``, ``background_floor``, and the sampler
        settings of a family that samples in steps: ``steps``, ``guidance``, ``options``)."""
        config = SamplingConfig(
            n=n, seed=seed, label=label, weights=self.weights, device=self.device, **settings
        )
        return sample_loaded(self.module, self.record, config)[0]

    def __repr__(self) -> str:
        c, h, w = self.image_shape
        return (
            f"TrainedGenerator({self.path!r}: {self.record.family.name}, "
            f"{self.record.image_set}, {c}x{h}x{w}, {self.record.weights} weights)"
        )


def load_generator(
    path: str | os.PathLike[str], weights: str = "auto", device: str = "auto"
) -> TrainedGenerator:
    """The generator of an export folder, a run folder or a ``.pt`` checkpoint."""
    return TrainedGenerator(path, weights, device)
