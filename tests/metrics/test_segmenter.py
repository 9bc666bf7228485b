"""The reference segmenter: it learns the toy tumours, repeats for a seed, keeps the real
slices' batch order whatever is added, stops early on patience, refuses small images."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "augment_eval"))
from seg_toy import seg_prepared  # noqa: E402

from brainsynth.data.dataset import load_prepared  # noqa: E402
from brainsynth.errors import BrainsynthError  # noqa: E402
from brainsynth.metrics.seg_config import SegmenterConfig  # noqa: E402
from brainsynth.metrics.seg_scores import score_patients  # noqa: E402
from brainsynth.metrics.segmenter import (  # noqa: E402
    BatchOrder,
    ValidationSet,
    build_segmenter,
    fit_reference_segmenter,
    segment,
    train_segmenter,
)

TEST = ("P06", "P07")


@pytest.fixture(scope="module")
def toy(tmp_path_factory, one_thread_module):
    prepared = load_prepared(seg_prepared(tmp_path_factory.mktemp("seg") / "data"))
    return np.asarray(prepared.images), np.asarray(prepared.masks), prepared.patients


@pytest.mark.numerics
def test_segmenter_learns_the_toy_tumours(toy):
    """Tumours of 4-7 pixels radius in 32x32 slices with label-specific contrast in all four
    sequences: 60 Adam steps reach a whole-tumour Dice of 0.81-1.00 on each of the two test
    patients (seeds 0-2, AVX2 and default kernels). Background everywhere would score 0 on
    every tumour-bearing patient; 0.7 leaves room for any CPU's kernels while failing a
    segmenter that did not learn."""
    images, masks, patients = toy
    test = np.isin(patients, TEST)
    config = SegmenterConfig(width=8, epochs=15, batch=8, lr=1e-2)
    model, log = fit_reference_segmenter(
        images[~test], masks[~test], patients[~test], ("P05",), config, seed=0, progress=False
    )
    assert log.steps == 15 * 4 and log.best_epoch == int(np.argmax(log.val_dice))
    predicted = segment(model, torch.from_numpy(images[test]))
    scores = score_patients(predicted, masks[test], patients[test])
    assert scores.dice[:, 0].min() > 0.7, scores.dice


def test_training_repeats_for_a_seed(toy):
    images, masks, patients = toy
    val = patients == "P05"
    validation = ValidationSet(torch.from_numpy(images[val]), masks[val], patients[val])
    config = SegmenterConfig(width=8, epochs=1, batch=8)
    runs = [
        train_segmenter(
            torch.from_numpy(images[~val]),
            torch.from_numpy(masks[~val]),
            int((~val).sum()),
            validation,
            config,
            seed=3,
        )[0]
        for _ in range(2)
    ]
    for a, b in zip(runs[0].state_dict().values(), runs[1].state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_real_slices_keep_their_order_whatever_is_added():
    alone, mixed = BatchOrder(10, 0, seed=5), BatchOrder(10, 7, seed=5)
    seen_alone = torch.cat([alone.next(4) for _ in range(10)])
    seen_mixed = torch.cat([mixed.next(4) for _ in range(17)])
    real_mixed = seen_mixed[seen_mixed < 10]
    assert torch.equal(real_mixed[:30], seen_alone[:30])
    assert (seen_mixed >= 10).any()
    synthetic_only = BatchOrder(0, 6, seed=5)
    assert sorted(torch.cat([synthetic_only.next(3) for _ in range(2)]).tolist()) == list(range(6))
    with pytest.raises(BrainsynthError, match="no training slices"):
        BatchOrder(0, 0, seed=0)


def test_patience_stops_when_validation_does_not_improve(toy):
    """At lr 1e-12 the weights do not move, the validation Dice never improves on epoch 0:
    patience 1 stops after epoch 1, and the progress callback still counts every epoch."""
    images, masks, patients = toy
    val = patients == "P05"
    validation = ValidationSet(torch.from_numpy(images[val]), masks[val], patients[val])
    calls = []
    config = SegmenterConfig(width=8, epochs=6, batch=8, lr=1e-12, patience=1)
    _, log = train_segmenter(
        torch.from_numpy(images[~val]),
        torch.from_numpy(masks[~val]),
        int((~val).sum()),
        validation,
        config,
        seed=0,
        on_epoch=lambda: calls.append(1),
    )
    assert len(log.val_dice) == 2 and log.best_epoch == 0 and len(calls) == 6


def test_small_images_and_bad_settings_are_refused():
    with pytest.raises(BrainsynthError, match="at least 32x32"):
        build_segmenter(4, 16, SegmenterConfig())
    with pytest.raises(BrainsynthError, match="segmenter epochs 0"):
        SegmenterConfig(epochs=0)
    with pytest.raises(BrainsynthError, match="patience"):
        SegmenterConfig(patience=-1)
