"""Memorisation on the phantom: 10% exact training copies give ~0.1, none give ~0."""

from __future__ import annotations

import numpy as np

from brainsynth.metrics.memorization import memorization, nearest


def test_nearest_skips_same_group():
    ref = np.array([[0.0], [0.1], [5.0]])
    d, i = nearest(ref, ref, np.array(["a", "a", "b"]), np.array(["a", "a", "b"]))
    assert list(i) == [2, 2, 1]
    np.testing.assert_allclose(d, [5.0, 4.9, 4.9], atol=1e-6)


def test_ten_percent_copies_are_found_and_none_without_copies(phantom_t1, other_t1):
    real = phantom_t1.float_images()
    novel = other_t1.float_images()  # other patients: new anatomy, never seen in training
    rng = np.random.default_rng(0)
    n_copies = len(novel) // 9  # copies make up 10% of the final set
    copies = real[rng.choice(len(real), n_copies, replace=False)]
    with_copies = np.concatenate([novel, copies])

    result = memorization(real, phantom_t1.patients, with_copies)
    assert 0.08 <= result["memorized"].mean() <= 0.14
    assert result["memorized"][len(novel) :].all()  # every exact copy is caught

    clean = memorization(real, phantom_t1.patients, novel)
    assert clean["memorized"].mean() <= 0.03
