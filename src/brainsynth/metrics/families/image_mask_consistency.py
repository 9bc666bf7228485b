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


def run(data: Any) -> dict[str, Any]:
    from brainsynth.metrics.pairs import image_mask_consistency
    from brainsynth.metrics.seg_config import MIN_SEGMENTER_SIZE

    pairs, cfg = data.pairs, data.config
    size = int(pairs.real_images.shape[-1])
    if size < MIN_SEGMENTER_SIZE:
        note = (f"the reference segmenter reads images of at least {MIN_SEGMENTER_SIZE} px; "
                f"these are {size} px")  # fmt: skip
        return {"image_mask_consistency": {"note": note}}
    if pairs.n_patients < 3:
        note = "needs at least 3 segmented real patients (train, validation, held-out)"
        return {"image_mask_consistency": {"note": note}}
    images, masks = pairs.synthetic(cfg)
    result = image_mask_consistency(
        pairs.real_images, pairs.real_masks, pairs.real_patients, images, masks,
        config=pairs.segmenter, seed=cfg.seed, n_boot=cfg.n_bootstrap,
        device=cfg.device, progress=False,  # resolved by evaluate()
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
    cost_s=60.0,  # not measured by benchmarks/evaluate.py: the segmenter's 10 epochs, roughly
    headlines=(Headline("image_mask_consistency_ratio", "Image-mask consistency (Dice ratio, synthetic / real)"),),
    descriptions={
        "image_mask_consistency": "The reference segmenter's pooled Dice against the synthetic masks on the synthetic images (synthetic) and against the real masks on held-out real pairs (real), their ratio, each with a 95% interval and per region (whole_tumor, tumor_core, enhancing), slices with an empty reference, and how the segmenter was trained; a note instead when it could not run.",
        "image_mask_consistency_ratio": "Segmenter Dice on synthetic pairs over its Dice on held-out real pairs (mean of the three regions): 1 = the synthetic images show the tumours of their masks as clearly as real images do.",
        "image_mask_consistency_ratio_ci95": CI + "image_mask_consistency_ratio (bootstrap: synthetic slices one by one, real ones by patient).",
    },
)  # fmt: skip
