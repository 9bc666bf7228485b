# ruff: noqa: E501  (one sentence per key reads better unwrapped)
"""Mask plausibility (issue 25; pairs only): are the generated tumour masks like real ones?
The tumour-free share, and over slices with a tumour its area, centroid and sub-region shares,
synthetic against the segmented real slices: Wasserstein-1 and Kolmogorov-Smirnov per feature
with bootstrap intervals, beside the same distances between two patient-disjoint halves of
the real patients (the floor). See :func:`brainsynth.metrics.pairs.mask_plausibility`. Masks
a mask-conditioned generator was given are not its work: they get a note, not scores."""

from __future__ import annotations

from typing import Any

from brainsynth.metrics.metric import CI, Headline, Metric, num

GIVEN = ("the masks were given to a mask-conditioned generator, not generated: their "
         "plausibility is that of the masks given")  # fmt: skip


def run(data: Any) -> dict[str, Any]:
    from brainsynth.metrics.pairs import mask_plausibility

    pairs, cfg = data.pairs, data.config
    if pairs.masks_given:
        return {"mask_plausibility": {"note": GIVEN}}
    if pairs.n_patients < 2:
        return {"mask_plausibility": {"note": "needs at least 2 segmented real patients"}}
    _, masks = pairs.synthetic(cfg)
    result = mask_plausibility(pairs.real_masks, pairs.real_patients, masks,
                               n_boot=cfg.n_bootstrap, seed=cfg.seed)  # fmt: skip
    area = result["area"]
    return {
        "mask_plausibility": result,
        "mask_area_wasserstein": area["wasserstein"],
        "mask_area_wasserstein_ci95": area["wasserstein_ci95"],
        "mask_area_floor": area["floor_wasserstein"],
    }


def summary(m: dict[str, Any]) -> list[str]:
    found = m.get("mask_plausibility")
    if not isinstance(found, dict):
        return []
    if "area" not in found:
        return [f"  mask plausibility: {found.get('note', 'n/a')}"]
    free = found["tumor_free_share"]
    return [
        f"  mask plausibility: tumour area W1 {num(found['area']['wasserstein'])} px (real-vs-real "
        f"floor {num(found['area']['floor_wasserstein'])}), centroid row W1 "
        f"{num(found['centroid_row']['wasserstein'])} px (floor "
        f"{num(found['centroid_row']['floor_wasserstein'])}); tumour-free share "
        f"{num(free['synthetic'])} vs real {num(free['real'])}"
    ]


METRIC = Metric(
    name="mask_plausibility",
    order=90,
    help="image + mask pairs only: the generated tumour masks against real ones (tumour-free "
    "share, area, centroid, sub-region shares; Wasserstein-1 and KS, real-vs-real floor)",
    run=run,
    summary=summary,
    needs=frozenset({"pairs"}),
    multichannel=True,
    cost_s=2.0,  # not measured by benchmarks/evaluate.py: 200 bootstrap draws, roughly
    headlines=(Headline("mask_area_wasserstein", "Tumour area, W1 to real masks (px)"),),
    descriptions={
        "mask_plausibility": "The generated masks against the real ones, per feature of a slice (tumor_free_share; over slices with a tumour: area, centroid_row, centroid_col, share_necrotic, share_edema, share_enhancing): real and synthetic medians, Wasserstein-1 and KS distances with 95% intervals, and the same between two halves of the real patients (floor_...); a note instead when the masks were given, not generated.",
        "mask_area_wasserstein": "Wasserstein-1 distance (pixels) between the tumour areas of synthetic and real masks, over slices with a tumour; compare with mask_area_floor.",
        "mask_area_wasserstein_ci95": CI + "mask_area_wasserstein (bootstrap: real slices by patient, synthetic by slice, bias-shifted).",
        "mask_area_floor": "The same distance between two patient-disjoint halves of the real masks: what two real samples already differ by.",
    },
)  # fmt: skip
