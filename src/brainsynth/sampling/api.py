"""``brainsynth.load_generator(path)``: a trained generator as a Python object.

    import brainsynth
    generator = brainsynth.load_generator("exports/sg2-concat-64")  # or a run folder
    images = generator.generate(16, seed=0)  # (16, C, H, W) float32 in [0, 1]

A pair model (``train --with-mask``) also draws image + tumour-mask pairs, and a
mask-conditioned model (``train --condition mask``) images for given masks::

    images, masks = brainsynth.load_generator("runs/pairs").generate_pairs(16, seed=0)
    images = brainsynth.load_generator("runs/from-masks").generate_from_masks(masks, seed=0)

(``generate`` of a pair model gives its image channels alone.)

The weights are read once; :meth:`TrainedGenerator.generate` then goes through the same
generation path as ``brainsynth sample`` (:func:`~brainsynth.sampling.images.sample_loaded`),
so an export and its run folder give the same images for the same seed.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from brainsynth.errors import BrainsynthError
from brainsynth.sampling.config import SamplingConfig
from brainsynth.sampling.images import sample_loaded, sample_loaded_pairs
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

    @property
    def draws_masks(self) -> bool:
        """Whether :meth:`generate_pairs` works: a model of image + tumour-mask pairs."""
        return bool(self.record.shape.mask_channels)

    @property
    def needs_masks(self) -> bool:
        """Whether images are drawn for given masks (:meth:`generate_from_masks`)."""
        return bool(self.record.shape.condition_channels)

    def generate_pairs(
        self, n: int, seed: int = 0, label: int | str | None = None, **settings: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` image + tumour-mask pairs of a pair model: images (n, C, H, W) float32 in
        [0, 1] (the same as :meth:`generate` gives for this seed) and masks (n, H, W) uint8,
        labels 0 background, 1 necrotic core, 2 oedema, 3 enhancing."""
        if not self.draws_masks:
            raise BrainsynthError("generate_pairs: this generator draws images alone (train one "
                                  "with --with-mask)")  # fmt: skip
        config = SamplingConfig(
            n=n, seed=seed, label=label, weights=self.weights, device=self.device, **settings
        )
        images, masks, _ = sample_loaded_pairs(self.module, self.record, config)
        return images, masks

    def generate_from_masks(self, masks: np.ndarray, seed: int = 0, **settings: Any) -> np.ndarray:
        """One image for each tumour mask of ``masks`` (N, H, W) labels 0..3 (a
        mask-conditioned model, ``train --condition mask``): (N, C, H, W) float32 in [0, 1]."""
        masks = np.asarray(masks)
        if (
            masks.ndim != 3
            or masks.dtype.kind not in "iu"
            or (masks.size and (masks.min() < 0 or masks.max() > 3))
        ):
            raise BrainsynthError(
                "generate_from_masks: masks must be (N, H, W) integer labels 0..3"
            )
        config = SamplingConfig(
            n=len(masks), seed=seed, weights=self.weights, device=self.device, **settings
        )
        masks = masks.astype(np.uint8)
        return sample_loaded_pairs(self.module, self.record, config, masks=masks)[0]

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
