"""Pair realism: mask plausibility against real masks, and image-mask consistency."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "augment_eval"))
from seg_toy import render, seg_prepared, toy_mask  # noqa: E402

from brainsynth.data.dataset import load_prepared  # noqa: E402
from brainsynth.errors import BrainsynthError  # noqa: E402
from brainsynth.metrics.pairs import (  # noqa: E402
    FEATURES,
    consistency_scores,
    image_mask_consistency,
    mask_features,
    mask_plausibility,
)
from brainsynth.metrics.seg_config import SegmenterConfig  # noqa: E402
from brainsynth.metrics.segmenter import fit_reference_segmenter, segment  # noqa: E402

SIZE = 32


def tumour_masks(rng: np.random.Generator, n: int, radius: tuple[float, float], free: float):
    """Label maps of nested-disc tumours of random centre and radius; a share ``free`` empty."""
    masks = np.zeros((n, SIZE, SIZE), dtype=np.uint8)
    for i in range(n):
        if rng.random() >= free:
            centre = rng.uniform(10, 22, size=2)
            masks[i] = toy_mask(SIZE, tuple(centre), rng.uniform(*radius))
    return masks


def test_mask_features_measure_area_centroid_and_label_shares():
    mask = np.zeros((2, SIZE, SIZE), dtype=np.uint8)
    mask[1, 4:8, 10:20] = 2  # 40 pixels of oedema
    mask[1, 4:6, 10:12] = 3  # 4 of them enhancing
    has, features = mask_features(mask)
    assert has.tolist() == [False, True]
    area, row, col, necrotic, edema, enhancing = features[0]
    assert (area, row, col) == (40, 5.5, 14.5)
    assert (necrotic, edema, enhancing) == (0, 0.9, 0.1)


def test_plausibility_separates_wrong_masks_from_real_ones():
    """Real: 20 patients x 10 slices, radius 4-7, 20% tumour-free. Synthetic drawn like the
    real ones sits near the real-vs-real floor; synthetic with twice the radius and no
    tumour-free slice is far above it. Areas differ by a factor of 4 (a Wasserstein
    distance of ~100 pixels against a floor of a few), so the separation holds for any seed."""
    rng = np.random.default_rng(0)
    real = tumour_masks(rng, 200, (4, 7), 0.2)
    patients = np.repeat([f"P{i:02d}" for i in range(20)], 10)
    alike = mask_plausibility(real, patients, tumour_masks(rng, 150, (4, 7), 0.2), n_boot=100)
    wrong = mask_plausibility(real, patients, tumour_masks(rng, 150, (8, 14), 0.0), n_boot=100)
    assert set(FEATURES) | {"tumor_free_share", "slices"} == set(alike)
    for key in ("wasserstein", "ks", "floor_wasserstein", "floor_ks"):
        low, high = alike["area"][f"{key}_ci95"]
        assert 0 <= low <= high
    assert wrong["area"]["wasserstein"] > 5 * wrong["area"]["floor_wasserstein_ci95"][1]
    assert wrong["area"]["wasserstein_ci95"][0] > alike["area"]["wasserstein_ci95"][1]
    assert wrong["area"]["ks"] > 0.9 and alike["area"]["ks"] < 0.4
    assert wrong["tumor_free_share"]["synthetic"] == 0.0
    assert wrong["tumor_free_share"]["difference"] == pytest.approx(
        wrong["tumor_free_share"]["real"]
    )
    assert alike["slices"]["real_patients"] == 20 and alike["slices"]["floor_halves"] == [10, 10]
    with pytest.raises(BrainsynthError, match="at least 2 real patients"):
        mask_plausibility(real, np.repeat("P", 200), real)
    with pytest.raises(BrainsynthError, match="labels outside"):
        mask_plausibility(real, patients, real + 4)


def test_consistency_scores_compare_synthetic_with_held_out_real():
    rng = np.random.default_rng(1)
    masks = tumour_masks(rng, 40, (4, 7), 0.2)
    patients = np.repeat(["a", "b", "c", "d"], 10)
    perfect = consistency_scores(masks, masks, masks, masks, patients, n_boot=200)
    assert perfect["synthetic"] == perfect["real"] == perfect["ratio"] == 1.0
    assert perfect["regions"]["enhancing"]["ratio_ci95"] == [1.0, 1.0]
    missed = np.zeros_like(masks)
    half = consistency_scores(missed, masks, masks, masks, patients, n_boot=200)
    assert half["regions"]["whole_tumor"]["synthetic"] == 0.0 and half["ratio"] == 0.0
    free = int((masks.max(axis=(1, 2)) == 0).sum())
    assert half["empty_reference"]["synthetic"]["whole_tumor"] == free
    assert half["real_patients"] == 4 and half["synthetic_slices"] == 40


@pytest.fixture(scope="module")
def reference(tmp_path_factory, one_thread_module):
    prepared = load_prepared(seg_prepared(tmp_path_factory.mktemp("pairs") / "data"))
    images, masks = np.asarray(prepared.images), np.asarray(prepared.masks)
    patients = prepared.patients
    held = np.isin(patients, ("P06", "P07"))
    config = SegmenterConfig(width=8, epochs=15, batch=8, lr=1e-2)
    model, _ = fit_reference_segmenter(
        images[~held], masks[~held], patients[~held], ("P05",), config, seed=0, progress=False
    )
    return model, images[held], masks[held], patients[held]


@pytest.mark.numerics
def test_consistency_is_high_for_matching_pairs_and_low_for_mismatched(reference):
    """Images rendered from their masks with the real contrasts are segmented about as well
    as held-out real ones (whole-tumour ratio 1.00-1.02 for segmenter seeds 0-2 on AVX2 and
    default kernels); the same images with their masks moved 9 pixels overlap only at the
    tumours' rims (ratio 0.09-0.13). The bounds 0.75 and 0.5 leave room for any CPU's
    kernels."""
    model, images, masks, patients = reference
    rng = np.random.default_rng(3)
    generated = tumour_masks(rng, 30, (4, 7), 0.2)
    synthetic = render(generated, rng, rng.uniform(0.3, 0.5, size=30))
    predicted = segment(model, torch.from_numpy(synthetic))
    real_predicted = segment(model, torch.from_numpy(images))
    matching = consistency_scores(predicted, generated, real_predicted, masks, patients)
    moved = consistency_scores(
        predicted, np.roll(generated, 9, axis=2), real_predicted, masks, patients
    )
    assert matching["regions"]["whole_tumor"]["ratio"] > 0.75, matching
    assert moved["regions"]["whole_tumor"]["ratio"] < 0.5, moved


def test_image_mask_consistency_trains_on_real_and_reports_its_patients(tmp_path):
    prepared = load_prepared(seg_prepared(tmp_path / "data", patients=5, slices=4))
    images, masks = np.asarray(prepared.images), np.asarray(prepared.masks)
    out = image_mask_consistency(
        images,
        masks,
        prepared.patients,
        images[:3].astype(np.float32) / 255,
        masks[:3],
        SegmenterConfig(width=8, epochs=1, batch=8),
        n_boot=100,
        progress=False,
    )
    assert out["segmenter"]["heldout_patients"] == 1
    assert out["segmenter"]["validation_patients"] == 1
    assert out["segmenter"]["train_patients"] == 3 and len(out["segmenter"]["val_dice"]) == 1
    assert set(out["regions"]) == {"whole_tumor", "tumor_core", "enhancing"}
    assert out["real_slices"] == 4 and out["synthetic_slices"] == 3
    with pytest.raises(BrainsynthError, match="differ in shape"):
        image_mask_consistency(images, masks, prepared.patients, images[:3, :1], masks[:3])
