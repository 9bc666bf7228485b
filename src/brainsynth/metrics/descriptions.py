# ruff: noqa: E501  (one sentence per key reads better unwrapped)
"""One sentence per key of ``metrics.json`` that the evaluation itself writes (sizes and
provenance); every metric family describes its own keys in its file (metrics/families/)."""

from __future__ import annotations

CORE_REQUIRED: tuple[str, ...] = (
    "n_real",
    "n_fake",
    "n_real_available",
    "n_fake_available",
    "real_subset",
    "fake_subset",
)

CORE_DESCRIPTIONS: dict[str, str] = {
    "sequence": "The real image set compared against (t1, t1c, t2, flair, or concat = all four pooled).",
    "image_size": "Side length in pixels of the real and synthetic images.",
    "n_real": "Number of real images evaluated (a seeded random subset when more than max_real were available).",
    "n_fake": "Number of synthetic images evaluated (a seeded random subset when more than max_fake were supplied).",
    "n_real_available": "Number of real images in the prepared set before subsampling.",
    "n_fake_available": "Number of synthetic images supplied before subsampling (every file of a PNG folder or .npy, or the images sampled from a run).",
    "real_subset": "How the evaluated real images were chosen: all, or random(SEED) = numpy default_rng(SEED).choice(n_real_available, n_real, replace=False).",
    "fake_subset": "How the evaluated synthetic images were chosen: all, or random(SEED) = numpy default_rng(SEED).choice(n_fake_available, n_fake, replace=False).",
    "n_real_patients": "Number of distinct real patients among the evaluated real images.",
    "seed": "Seed of every random split, subsample, bootstrap and classifier initialisation.",
    "eval_config": "The full evaluation settings used (EvalConfig).",
    "timings_s": "Seconds spent per metric family (features: handcrafted, Inception and domain features, counted once).",
    "fake_sampling": "How the synthetic images were sampled and post-processed (sampling.json).",
    "fake_groups": "How the synthetic images were grouped in the patient-disjoint splits: image (a generator's independent samples, each its own group) or patient (a second prepared set: whole patients on one side of every split).",
    "per_channel": "Joint samples: every metric per sequence (channel) against the real images of that sequence.",
    "per_label": "Labelled samples: every metric per class against the real images of that class.",
    "skipped": "Metric families not run, each with why: inputs this evaluation was not given, or a time budget (the demo's) they would have overrun on this machine.",
    "real_side_s": "Seconds of each family's work on the real images alone (real-vs-real controls, the domain encoder, real features), part of its timings_s: near 0 when the prepared set's cache held it (a second model against the same set, or after the demo's warm-up).",
    "real_cache": "Where the real images' features and domain encoder were cached for the next evaluation (PREPARED/evaluate-cache/), or why not.",
    "real": "The prepared folder of the real images.",
    "fake": "Where the synthetic images came from.",
}
