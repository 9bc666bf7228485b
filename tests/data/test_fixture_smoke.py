"""The shared session fixture of prepared phantom slices is what colleagues rely on."""

from __future__ import annotations

import numpy as np

from brainsynth.data.dataset import load_prepared


def test_phantom_prepared_64_is_a_paper_like_dataset(phantom_prepared_64):
    data = load_prepared(phantom_prepared_64)
    assert data.images.shape == (6 * 70, 4, 64, 64)
    assert sorted({row["slice"] for row in data.slices}, key=int)[0] == "80"
    assert data.meta["phantom"] is True
    assert {row["grade"] for row in data.slices} == {"HGG", "LGG"}
    # every channel has brain signal and an exactly black background corner
    assert (data.images[:, :, 0, 0] == 0).all()
    assert (np.asarray(data.images).reshape(len(data.images), 4, -1).max(axis=2) > 100).all()
