"""Patient-level splits: train / validation / test, and nested fractions of training patients.

Slices of one patient are correlated (neighbouring slices look alike), so every split is by
patient: no patient contributes slices to two of train, validation and test, and a generator
trained for a fraction sees only that fraction's patients (never a test patient).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from brainsynth.errors import BrainsynthError


@dataclass(frozen=True)
class PatientSplit:
    """Disjoint, sorted patient ids of the three parts."""

    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]

    def as_dict(self) -> dict[str, list[str]]:
        return {"train": list(self.train), "val": list(self.val), "test": list(self.test)}


def split_patients(
    patients: Sequence[str], val_fraction: float, test_fraction: float, seed: int
) -> PatientSplit:
    """Shuffle the distinct patients with ``seed``; the first ``round(test_fraction * n)``
    (at least 1) are test, the next ``round(val_fraction * n)`` (at least 1) validation, the
    rest (at least 1) training."""
    unique = sorted(set(patients))
    n = len(unique)
    if n < 3:
        raise BrainsynthError(
            f"{n} patient(s): augment-eval needs at least 3 (train, validation, test)"
        )
    n_test = max(1, round(test_fraction * n))
    n_val = max(1, round(val_fraction * n))
    if n_test + n_val >= n:
        n_test, n_val = max(1, min(n_test, n - 2)), 1
    order = [unique[i] for i in np.random.default_rng(seed).permutation(n)]
    return PatientSplit(
        train=tuple(sorted(order[n_test + n_val :])),
        val=tuple(sorted(order[n_test : n_test + n_val])),
        test=tuple(sorted(order[:n_test])),
    )


def fraction_count(fraction: float, n_train: int) -> int:
    """Patients in a fraction: ``ceil(fraction * n_train)``, at least one."""
    return max(1, math.ceil(fraction * n_train - 1e-9))


def fraction_patients(
    train: Sequence[str], fractions: Sequence[float], seed: int
) -> dict[float, tuple[str, ...]]:
    """For one repeat: each fraction's training patients, nested (a smaller fraction's
    patients are part of every larger one's), drawn from one permutation seeded by ``seed``.

    Nesting makes the curve over fractions a curve of adding patients, not of drawing new
    ones; different repeats draw different permutations.
    """
    order = [train[i] for i in np.random.default_rng(seed).permutation(len(train))]
    return {f: tuple(sorted(order[: fraction_count(f, len(train))])) for f in fractions}
