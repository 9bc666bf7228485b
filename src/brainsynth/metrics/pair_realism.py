"""Pair realism in ``brainsynth evaluate``: the two measures of :mod:`.pairs` on synthetic
image + tumour-mask pairs against the real pairs of a prepared folder.

``evaluate`` calls :func:`pair_realism` when the synthetic images carry masks (a samples
folder with ``masks.npy``, or a generator of pairs or of images for masks) and writes its two
results under ``mask_plausibility`` and ``image_mask_consistency`` in ``metrics.json``:

- **mask plausibility** (:func:`~.pairs.mask_plausibility`): tumour-free share, tumour area,
  centroid and sub-region shares of the synthetic masks against the real ones, with the
  real-vs-real floor. Masks a mask-conditioned generator was *given* are not the generator's
  work, so they get a note instead of scores.
- **image-mask consistency** (:func:`~.pairs.image_mask_consistency`): the reference
  segmenter trained on real pairs of some patients segments the synthetic images; Dice
  against their masks beside Dice on held-out real pairs (ratio near 1: the images show the
  tumours their masks say). Needs images of at least 32 px and 3 segmented patients; else a
  note says why it was not computed.

Real pairs are the segmented slices of the image set (an unsegmented case's all-zero mask is
unknown, not tumour-free); Concat's images each carry their slice's mask.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from brainsynth.metrics.pairs import image_mask_consistency, mask_plausibility
from brainsynth.metrics.seg_config import MIN_SEGMENTER_SIZE, SegmenterConfig


def pair_realism(
    real_images: np.ndarray,
    real_masks: np.ndarray,
    real_patients: np.ndarray,
    fake_images: np.ndarray,
    fake_masks: np.ndarray,
    masks_given: bool = False,
    segmenter: SegmenterConfig | None = None,
    seed: int = 0,
    n_boot: int = 200,
    device: str = "cpu",
    progress: bool = True,
) -> dict[str, Any]:
    """``{"mask_plausibility": ..., "image_mask_consistency": ..., "timings_s": ...}`` of the
    synthetic pairs (images (M, C, H, W) in [0, 1], masks (M, H, W) labels 0..3) against the
    real pairs (uint8 images (N, C, H, W), masks, patient ids); see the module docstring."""
    out: dict[str, Any] = {"timings_s": {}}
    start = time.perf_counter()
    if masks_given:
        out["mask_plausibility"] = {
            "note": "the masks were given to a mask-conditioned generator, not generated: "
            "their plausibility is that of the masks given"
        }
    elif len(np.unique(real_patients)) < 2:
        out["mask_plausibility"] = {"note": "needs at least 2 segmented real patients"}
    else:
        out["mask_plausibility"] = mask_plausibility(
            real_masks, real_patients, fake_masks, n_boot=n_boot, seed=seed
        )
    out["timings_s"]["mask_plausibility"] = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    size = int(real_images.shape[-1])
    if size < MIN_SEGMENTER_SIZE:
        out["image_mask_consistency"] = {
            "note": f"the reference segmenter reads images of at least {MIN_SEGMENTER_SIZE} px; "
            f"these are {size} px"
        }
    elif len(np.unique(real_patients)) < 3:
        out["image_mask_consistency"] = {
            "note": "needs at least 3 segmented real patients (train, validation, held-out)"
        }
    else:
        out["image_mask_consistency"] = image_mask_consistency(
            real_images, real_masks, real_patients, fake_images, fake_masks,
            config=segmenter, seed=seed, n_boot=n_boot, device=device, progress=progress,
        )  # fmt: skip
    out["timings_s"]["image_mask_consistency"] = round(time.perf_counter() - start, 3)
    return out


def format_pairs(metrics: dict[str, Any]) -> str:
    """Two lines for the summary: the tumour-area distance against its floor, and the
    consistency Dice on synthetic and real pairs with their ratio."""
    lines = []
    plausibility = metrics.get("mask_plausibility") or {}
    if "area" in plausibility:
        area, free = plausibility["area"], plausibility["tumor_free_share"]
        lines.append(
            f"  mask plausibility: tumour area W1 {area['wasserstein']:.1f} px (real-vs-real "
            f"floor {area['floor_wasserstein']:.1f}); tumour-free share "
            f"{free['synthetic']:.2f} vs real {free['real']:.2f}"
        )
    elif plausibility.get("note"):
        lines.append(f"  mask plausibility: {plausibility['note']}")
    consistency = metrics.get("image_mask_consistency") or {}
    if "ratio" in consistency:
        lines.append(
            f"  image-mask consistency: Dice {consistency['synthetic']:.3f} on synthetic pairs, "
            f"{consistency['real']:.3f} on held-out real pairs (ratio {consistency['ratio']:.2f})"
        )
    elif consistency.get("note"):
        lines.append(f"  image-mask consistency: {consistency['note']}")
    return "\n".join(lines)
