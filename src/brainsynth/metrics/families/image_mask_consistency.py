# ruff: noqa: E501  (one sentence per key reads better unwrapped)
"""Image-mask consistency (issue 25; pairs only): does each synthetic image show the tumour its
mask says? A reference segmenter (MONAI ``BasicUNet``) trained on real pairs of some patients
segments the synthetic images; its pooled Dice against their masks beside its Dice on held-out
real pairs, and the ratio (1: images and masks agree as well as real ones). See
:func:`brainsynth.metrics.pairs.image_mask_consistency`. Needs images of at least 32 px and 3
segmented real patients; else a note says why it did not run."""

from __future__ import annotations

from typing import Any

from brainsynth.metrics.metric import CI, Headline, Metric, num, with_ci

SEGMENTER_FORMAT = 1
"""Version of the cached reference segmenter's file (part of its cache key)."""


def not_run(pairs: Any) -> str | None:
    """Why the real pairs cannot train a reference segmenter, or None when they can."""
    from brainsynth.metrics.seg_config import MIN_SEGMENTER_SIZE

    size = int(pairs.real_images.shape[-1])
    if size < MIN_SEGMENTER_SIZE:
        return (f"the reference segmenter reads images of at least {MIN_SEGMENTER_SIZE} px; "
                f"these are {size} px")  # fmt: skip
    if pairs.n_patients < 3:
        return "needs at least 3 segmented real patients (train, validation, held-out)"
    return None


def real_side(data: Any) -> Any:
    """The reference segmenter trained on the real pairs (None when they cannot train one),
    read from the prepared set's cache when it was trained there before: every model's
    pairs evaluated against one prepared set are segmented by the same network."""
    if data.pairs is None or not_run(data.pairs) is not None:
        return None
    return data.once("reference-segmenter", lambda: reference_segmenter(data))


def reference_segmenter(data: Any) -> Any:
    import numpy as np

    from brainsynth.metrics.pairs import fit_reference
    from brainsynth.metrics.segmenter import load_segmenter, save_segmenter

    pairs, cfg, cache = data.pairs, data.config, data.real_cache
    channels, size = int(pairs.real_images.shape[1]), int(pairs.real_images.shape[-1])
    key = [np.asarray(pairs.real_images), np.asarray(pairs.real_masks),
           np.asarray(pairs.real_patients).astype(str),
           repr(pairs.segmenter), cfg.seed, cfg.device, SEGMENTER_FORMAT]  # fmt: skip

    def train() -> Any:
        return fit_reference(pairs.real_images, pairs.real_masks, pairs.real_patients,
                             pairs.segmenter, seed=cfg.seed, device=cfg.device,
                             progress=False)  # fmt: skip

    if cache is None:
        return train()
    reference, _ = cache.stored(
        "segmenter", key, ".pt",
        lambda path: load_segmenter(path, channels, size, pairs.segmenter, cfg.device),
        train, lambda trained, tmp: save_segmenter(*trained, tmp),
    )  # fmt: skip
    return reference


def run(data: Any) -> dict[str, Any]:
    from brainsynth.metrics.pairs import image_mask_consistency

    pairs, cfg = data.pairs, data.config
    note = not_run(pairs)
    if note is not None:
        return {"image_mask_consistency": {"note": note}}
    images, masks = pairs.synthetic(cfg)
    result = image_mask_consistency(
        pairs.real_images, pairs.real_masks, pairs.real_patients, images, masks,
        config=pairs.segmenter, seed=cfg.seed, n_boot=cfg.n_bootstrap,
        device=cfg.device, progress=False,  # resolved by evaluate()
        reference=real_side(data),
    )  # fmt: skip
    return {
        "image_mask_consistency": result,
        "image_mask_consistency_ratio": result["ratio"],
        "image_mask_consistency_ratio_ci95": result["ratio_ci95"],
    }


def summary(m: dict[str, Any]) -> list[str]:
    found = m.get("image_mask_consistency")
    if not isinstance(found, dict):
        return []
    if "ratio" not in found:
        return [f"  image-mask consistency: {found.get('note', 'n/a')}"]
    return [
        f"  image-mask consistency: segmenter Dice {num(found['synthetic'])} on synthetic pairs, "
        f"{num(found['real'])} on held-out real pairs; ratio "
        f"{with_ci(m, 'image_mask_consistency_ratio')}"
    ]


METRIC = Metric(
    name="image_mask_consistency",
    order=95,
    help="image + mask pairs only: a segmenter trained on real pairs segments the synthetic "
    "images; its Dice against their masks over its Dice on held-out real pairs",
    run=run,
    summary=summary,
    needs=frozenset({"pairs"}),
    multichannel=True,
    cost_s=2.0,  # segmenting the synthetic pairs; not measured by benchmarks/evaluate.py
    real_side=real_side,
    real_cost_s=60.0,  # the reference segmenter's 10 epochs, roughly (66 CPU s measured once)
    headlines=(Headline("image_mask_consistency_ratio", "Image-mask consistency (Dice ratio, synthetic / real)"),),
    descriptions={
        "image_mask_consistency": "The reference segmenter's pooled Dice against the synthetic masks on the synthetic images (synthetic) and against the real masks on held-out real pairs (real), their ratio, each with a 95% interval and per region (whole_tumor, tumor_core, enhancing), slices with an empty reference, and how the segmenter was trained; a note instead when it could not run.",
        "image_mask_consistency_ratio": "Segmenter Dice on synthetic pairs over its Dice on held-out real pairs (mean of the three regions): 1 = the synthetic images show the tumours of their masks as clearly as real images do.",
        "image_mask_consistency_ratio_ci95": CI + "image_mask_consistency_ratio (bootstrap: synthetic slices one by one, real ones by patient).",
    },
)  # fmt: skip
