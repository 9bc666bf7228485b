"""A toy cohort whose tumour is a small bright spot on a patient-specific background, and toy
generator sources: informative (fresh labelled toy slices) and noise (images of noise)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainsynth.augment_eval.synthetic import GeneratorRequest
from brainsynth.data.dataset import write_prepared
from brainsynth.data.labels import TUMOR_LABEL_NAMES

SIZE = 16


def toy_slices(labels: np.ndarray, rng: np.random.Generator, level) -> np.ndarray:
    """(N, 4, SIZE, SIZE) float images: background ``level`` (a number, or one per image
    shaped (N, 1, 1, 1)) + noise; a 3x3 spot of +0.35
    at a random place where the label is 1. The spot moves the image mean by 0.0123, far less
    than the spread of ``level`` across patients: only a local feature separates the classes
    across patients."""
    n = len(labels)
    images = level + 0.04 * rng.standard_normal((n, 1, SIZE, SIZE))
    for i in np.flatnonzero(labels):
        y, x = rng.integers(2, SIZE - 5, size=2)
        images[i, 0, y : y + 3, x : x + 3] += 0.35
    return np.clip(np.repeat(images, 4, axis=1), 0, 1).astype(np.float32)


def toy_prepared(root: Path, patients: int = 14, slices: int = 12, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    images, rows = [], []
    for p in range(patients):
        labels = np.arange(slices) % 2
        images.append(toy_slices(labels, rng, rng.uniform(0.15, 0.55)))
        rows += [
            {
                "patient": f"P{p:02d}",
                "grade": "HGG",
                "plane": "sagittal",
                "slice": s,
                "tumor_pixels": int(9 * labels[s]),
            }
            for s in range(slices)
        ]
    meta = {"source": "toy", "size": SIZE}
    return write_prepared(root, np.concatenate(images), rows, meta)


class ToyGenerator:
    """Samples toy slices (informative) or uniform noise (noise) for any requested labels."""

    label_names = TUMOR_LABEL_NAMES

    def __init__(self, patients: frozenset[str], informative: bool, channels: int) -> None:
        self.patients = patients
        self.informative = informative
        self.channels = channels

    def sample(self, labels: np.ndarray, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        if self.informative:
            levels = rng.uniform(0.15, 0.55, size=(len(labels), 1, 1, 1))
            return toy_slices(labels, rng, levels)[:, : self.channels]
        return rng.uniform(0, 1, size=(len(labels), self.channels, SIZE, SIZE)).astype(np.float32)


def toy_source(informative: bool, channels: int = 1, extra_patients: tuple[str, ...] = ()):
    def source(request: GeneratorRequest) -> ToyGenerator:
        return ToyGenerator(
            frozenset(request.patients) | set(extra_patients), informative, channels
        )

    return source
