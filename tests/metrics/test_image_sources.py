"""Evaluation reads what it is given: file sources whole, subsets drawn at random (issue 9)."""

from __future__ import annotations

import numpy as np
import pytest

from brainsynth.errors import BrainsynthError
from brainsynth.imageio import is_generator_source, load_image_source, save_png
from brainsynth.metrics.evaluate import draw_subset
from margins import hypergeometric_range


def test_file_sources_are_read_whole(tmp_path):
    images = np.random.default_rng(0).random((30, 1, 8, 8)).astype(np.float32)
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, image in enumerate(images):
        save_png(folder / f"{i:03d}.png", image)
    np.save(tmp_path / "samples.npy", images)
    for source in (folder, tmp_path / "samples.npy", tmp_path):  # tmp_path holds samples.npy
        assert not is_generator_source(source)
        assert load_image_source(source).shape == (30, 1, 8, 8)
    np.testing.assert_allclose(load_image_source(folder), images, atol=0.5 / 255 + 1e-6)
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    assert is_generator_source(tmp_path / "run") and is_generator_source(tmp_path / "g.pt")


def test_draw_subset_is_everything_or_a_seeded_random_draw():
    everything, how = draw_subset(50, 100, seed=3)
    assert how == "all" and np.array_equal(everything, np.arange(50))
    chosen, how = draw_subset(1000, 100, seed=3)
    assert how == "random(3)" and len(np.unique(chosen)) == 100
    assert np.array_equal(chosen, np.sort(chosen))
    assert np.array_equal(chosen, draw_subset(1000, 100, seed=3)[0])  # reproducible
    assert not np.array_equal(chosen, draw_subset(1000, 100, seed=4)[0])
    # Not the first files by position: the last tenth is drawn as often as chance says.
    low, high = hypergeometric_range(1000, 100, 100)
    assert low <= int((chosen >= 900).sum()) <= high
    with pytest.raises(BrainsynthError, match="at least 1"):
        draw_subset(10, 0, seed=0)
