"""``brainsynth sample``: generate images from a trained run or checkpoint."""

from __future__ import annotations

import argparse
from typing import Any

from brainsynth.config import DEVICES, field_default
from brainsynth.sampling.config import WEIGHTS, SamplingConfig

HELP = "generate N images from a trained run folder, .pt checkpoint or export"
DESCRIPTION = """\
Generate images with a trained generator (any family: the checkpoint says which), from
a run folder, a .pt checkpoint or an export folder (brainsynth export; the same seed gives
the run's images exactly), and
write DIR/000000.png, ... (8-bit grayscale at the training size), DIR/samples.npy
(N, 1, H, W) float32 in [0, 1] and DIR/sampling.json (checkpoint, iteration, weights, seed,
background floor, output mapping).

A run trained with --condition generates the class asked for with --label (by name:
with-tumor / without-tumor, or t1 / t1c / t2 / flair; default every class in turn); the
label of each image goes to DIR/labels.csv and the counts into sampling.json. A joint run
(--sequence joint) writes samples.npy (N, 4, H, W) and one 2x2 panel PNG per sample
(T1 | T1c over T2 | FLAIR).

The paper's generator has no tanh (§3.2.2): its output y is mapped to [0, 1] with
clip((y + 1) / 2, 0, 1), the inverse of the [-1, 1] scaling of the training images.
The same checkpoint, seed, --n and --batch give identical images. Runs trained with
--ema-half-life sample their EMA generator unless --weights raw.

The images are generated and written in chunks (at most 256 MiB at a time), so --n is
bounded by the disk, not the memory: up to 1,000,000 images (000000.png..999999.png); a
--n whose files would not fit on the disk is refused before anything is generated. --seed
is an integer in 0..2**64-1 (torch's seeds).

DIR is new, empty, or a folder sample wrote before: then only its own files are replaced (and
its PNGs beyond --n removed); anything else is left alone. Files of others in the way are
refused unless --overwrite, before the generator runs.

  brainsynth sample runs/dcgan-concat --n 1000 --out samples/dcgan-concat --grid grid.png
  brainsynth sample runs/dcgan-tumor --label with-tumor --n 500 --out samples/with-tumor
  brainsynth sample runs/diffusion-tumor --steps 50 --label with-tumor --guidance 2 --n 500 \\
      --out samples/diffusion-with-tumor

Tumour masks (issue 25). A pair model (train --with-mask) also writes DIR/masks.npy (N, H, W)
uint8 labels 0..3 (0 background, 1 necrotic core, 2 oedema, 3 enhancing), row for row with
samples.npy, which keeps only the image channels, and DIR/000000-pair.png, ... (the image
beside a coloured overlay of its mask; FLAIR for joint samples). A mask-conditioned model
(train --condition mask) draws one image for each mask of --from-masks M: a .npy (N, H, W)
of labels, a label PNG / NIfTI file or a folder of them (name order), or a prepared folder
(its masks of segmented slices, optionally --patients and --slices FIRST:END); masks.npy is
then exactly those masks. Sizes and labels are checked before anything is drawn; --n may be
left out (one image per mask).

Teaching cases: --edit SPEC edits every given mask first (';'-separated, left to right):
scale=F, move=DX,DY, rotate=DEG, flip=lr|ud, remove, grow=LABEL:PX, shrink=LABEL:PX,
insert=K (the tumour of given mask K, into a tumour-free slice). Edits keep a tumour inside
its slice's brain: a prepared folder's real one, else the brain of the image the model draws
for the unedited mask (same seed). With --edit, --grid FILE.png is a montage with one row per
case: original image, original mask, edited mask over the generated image, generated image.

  brainsynth sample runs/flow-mask --from-masks prepared --patients BraTS2021_00003 \
      --slices 100:110 --edit "scale=1.5" --out samples/bigger --grid teaching.png

A denoising family (one network that turns noise into an image step by step) samples in
steps: --steps sets their number (the cost grows with it), --guidance the classifier-free
guidance weight of a conditional model, --sampler-option KEY=VALUE any other setting its
sampler declares (e.g. an ODE solver); all are recorded in sampling.json. GANs have none
(one-line error).
"""


def _default(name: str) -> str:
    return f"(default {field_default(SamplingConfig, name)})"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("source", metavar="RUN|CHECKPOINT|EXPORT",
        help="run folder, .pt checkpoint or export folder (brainsynth export)")  # fmt: skip
    add(
        "--n",
        type=int,
        help="number of images to generate (--from-masks: one per mask, may be left out)",
    )
    add("--out", required=True, help="output folder (new, or made by sample)")
    add("--seed", type=int, default=field_default(SamplingConfig, "seed"),
        help=f"latent seed {_default('seed')}")  # fmt: skip
    add("--batch", type=int, default=field_default(SamplingConfig, "batch"),
        help=f"images per forward {_default('batch')}")  # fmt: skip
    add("--grid", metavar="FILE.png",
        help="also save a montage of up to 64; with --edit the teaching grid (per case: "
        "original image, original mask, edited mask, generated image)")  # fmt: skip
    add(
        "--from-masks",
        metavar="M",
        help="mask-conditioned models: draw one image per tumour mask of M (a .npy (N, H, W) of "
        "labels 0..3, a label PNG/NIfTI file or a folder of them, or a prepared folder)",
    )
    add("--patients", metavar="ID,ID...|FILE",
        help="with --from-masks PREPARED: only these patients' slices (a comma list or a file, "
        "one id a line)")  # fmt: skip
    add(
        "--slices",
        metavar="FIRST:END",
        help="with --from-masks PREPARED: only slice numbers FIRST..END-1 (or one number)",
    )
    add("--edit", metavar="SPEC",
        help="with --from-masks: edit every mask first, e.g. 'scale=1.5;move=4,0' (scale, move, "
        "rotate, flip, remove, grow, shrink, insert)")  # fmt: skip
    add("--weights", choices=WEIGHTS, default=field_default(SamplingConfig, "weights"),
        help="ema: the generator's moving average; raw: the trained weights; auto: ema when "
        f"the run kept one {_default('weights')}")  # fmt: skip
    add("--label", metavar="NAME|ID",
        help="class of a conditional generator, by name (with-tumor, without-tumor; t1, t1c, "
        "t2, flair) or id (default: every class in turn); written to labels.csv and "
        "sampling.json")  # fmt: skip
    add(
        "--steps",
        type=int,
        help="denoising families: sampling steps (default: the model's); a GAN refuses it",
    )
    add("--guidance", type=float, metavar="W",
        help="conditional denoising families: classifier-free guidance weight, 1 = plain "
        "conditional, >1 stronger class features (default: the model's); a GAN refuses "
        "it")  # fmt: skip
    add("--sampler-option", action="append", default=[], metavar="KEY=VALUE",
        help="another setting of the family's sampler (YAML value), e.g. solver=heun; "
        "repeatable (default: the model's)")  # fmt: skip
    add("--background-floor", type=float,
        help="pixels below this become exactly 0 (default: the run's sampling.yaml value, "
        "0 = off)")  # fmt: skip
    add("--device", choices=DEVICES, default=field_default(SamplingConfig, "device"),
        help=_default("device"))  # fmt: skip
    add("--overwrite", action="store_true",
        help="write into --out / --grid even where files sample did not write are in the way "
        "(those are replaced; nothing else is deleted)")  # fmt: skip


def sample_names(n: int) -> list[str]:  # n <= MAX_SAMPLES (SamplingConfig): 6 digits
    """The files ``sample`` writes into its folder for ``n`` images (``labels.csv`` too when
    the generator is conditional, ``masks.npy`` and the pair PNGs when it draws tumour masks:
    claimed always, so stale ones never stand beside new images)."""
    return [*(f"{i:06d}.png" for i in range(n)), "samples.npy", "sampling.json", "labels.csv",
            *MASK_FILES, *pair_names(n)]  # fmt: skip


MASK_FILES = ("masks.npy",)


def pair_names(n: int) -> list[str]:
    from brainsynth.sampling.files import PAIR_SUFFIX

    return [f"{i:06d}{PAIR_SUFFIX}" for i in range(n)]


def sample_vocabulary():
    """Every entry ``sample`` writes into its folder: its files and PNGs (images, pairs, a
    --grid)."""
    from brainsynth.outputs import Vocabulary

    return Vocabulary(files=("samples.npy", "sampling.json", "labels.csv", *MASK_FILES),
                      file_pattern=r".+\.png")  # fmt: skip


def legacy_samples(folder):
    """A folder written by brainsynth 0.1's sample (no marker): its PNGs and arrays."""
    import json
    import re

    try:
        record = json.loads((folder / "sampling.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or "output_mapping" not in record:
        return None
    png = re.compile(r"^[0-9]{6}\.png$")
    return {p.name for p in folder.iterdir() if png.match(p.name)} | {
        "samples.npy",
        "sampling.json",
    }


def check_disk_space(folder, shape: tuple[int, ...]) -> None:
    """Refuse, before any image is generated, samples that would not fit on the disk of
    ``folder``: ``samples.npy`` (float32) and one 8-bit PNG each, at most their raw size."""
    import math
    import shutil

    from brainsynth.errors import BrainsynthError
    from brainsynth.outputs import nearest_existing

    # samples.npy, PNGs and (pairs) masks.npy and pair PNGs, + headers and file entries
    need = math.prod(shape) * (4 + 1) + math.prod(shape[-2:]) * shape[0] * 8 + shape[0] * 2048
    free = shutil.disk_usage(nearest_existing(folder)).free
    if need > free:
        n, size = shape[0], "×".join(map(str, shape[1:]))
        raise BrainsynthError(
            f"--n {n:,}: {n:,} images of {size} need about {need / 1e9:.1f} GB on disk "
            f"(samples.npy and the PNGs), but only {free / 1e9:.1f} GB is free there"
        )


def sampler_options(items: list[str]) -> dict[str, Any]:
    """``--sampler-option KEY=VALUE`` items as a dict (values parsed as YAML)."""
    import yaml

    from brainsynth.errors import BrainsynthError

    options: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise BrainsynthError(f"--sampler-option {item!r}: expected KEY=VALUE")
        try:
            options[key.strip()] = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise BrainsynthError(f"--sampler-option {item!r}: not a value") from exc
    return options


def check_mask_flags(args: argparse.Namespace) -> None:
    """One-line errors for flags that go with --from-masks given without it, and a missing
    --n."""
    from brainsynth.errors import BrainsynthError

    if args.from_masks is not None:
        return
    for flag in ("patients", "slices", "edit"):
        if getattr(args, flag) is not None:
            raise BrainsynthError(f"--{flag} goes with --from-masks (the masks to draw images for)")
    if args.n is None:
        raise BrainsynthError("--n is required (or --from-masks M: one image per mask)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from brainsynth.outputs import claim_file, claim_folder
    from brainsynth.sampling import write_samples
    from brainsynth.sampling.images import sample_images_stream

    check_mask_flags(args)
    cases = None
    if args.from_masks is not None:
        from brainsynth.commands.train import patient_list
        from brainsynth.sampling.from_masks import check_spec, parse_slice_range, read_mask_cases

        slices = parse_slice_range(args.slices) if args.slices is not None else None
        patients = tuple(patient_list(args.patients)) if args.patients else ()
        cases = read_mask_cases(args.from_masks, patients, slices)
        if args.n is not None and args.n != len(cases.masks):
            from brainsynth.errors import BrainsynthError

            raise BrainsynthError(f"--n {args.n}: --from-masks gives {len(cases.masks)} masks "
                                  "(one image each; leave --n out)")  # fmt: skip
        if args.edit is not None:
            check_spec(args.edit, cases)
    n = args.n if cases is None else len(cases.masks)
    config = SamplingConfig(
        n=n,
        seed=args.seed,
        batch=args.batch,
        device=args.device,
        weights=args.weights,
        background_floor=args.background_floor,
        label=args.label,
        steps=args.steps,
        guidance=args.guidance,
        options=sampler_options(args.sampler_option),
    )
    names = sample_names(n)
    claim = claim_folder(
        args.out, "sample", "--out", names, overwrite=args.overwrite, legacy=legacy_samples,
        vocabulary=sample_vocabulary(),
    )  # fmt: skip
    grid_claim = None
    if args.grid:
        grid_claim = claim_file(args.grid, "sample", "--grid", args.overwrite, within=claim)
        if grid_claim is None:
            names.append(Path(args.grid).name)
    if cases is None:
        images, info = sample_images_stream(args.source, config)  # generated while written
    else:
        images, info = from_masks_stream(args, config, cases)
    check_disk_space(Path(args.out), images.shape)
    claim.begin(names)
    if grid_claim is not None:
        grid_claim.begin([Path(args.grid).name])
    teaching = getattr(images, "teaching", None)
    out = write_samples(images.images if teaching else images, args.out,
                        grid=None if teaching else args.grid, meta=info,
                        masks=images.masks if teaching else None)  # fmt: skip
    if teaching and args.grid:
        from brainsynth.sampling.from_masks import teaching_grid

        teaching_grid(args.grid, *teaching)
    if info.get("labels") is None:  # unconditional: an earlier labels.csv would be stale
        names.remove("labels.csv")
    if "masks_file" not in info:  # images alone: earlier masks and pairs would be stale
        names = [name for name in names if name not in (*MASK_FILES, *pair_names(n))]
    claim.finish(names)
    print(f"brainsynth: wrote {len(images)} images to {out}")
    return 0


class TeachingCases:
    """Images drawn for edited masks, in memory, with what the teaching grid shows."""

    def __init__(self, images, masks, teaching) -> None:
        self.images, self.masks, self.teaching = images, masks, teaching
        self.shape = images.shape

    def __len__(self) -> int:
        return len(self.images)


def from_masks_stream(args: argparse.Namespace, config: SamplingConfig, cases: Any):
    """The images of ``--from-masks`` (a stream), or with ``--edit`` the teaching cases (in
    memory, with their grid's originals), and what ``sampling.json`` records."""
    from brainsynth.sampling import from_masks as fm
    from brainsynth.sampling.images import (
        check_condition_masks,
        sample_loaded_pairs,
        sample_stream,
    )
    from brainsynth.sampling.source import load_generator

    generator, record = load_generator(args.source, config.weights, config.device)
    check_condition_masks(record, cases.masks, config.n)  # sizes: before any image is drawn
    if args.edit is None:
        stream, info = sample_stream(generator, record, config, masks=cases.masks)
        return stream, {**info, "from_masks": cases.source}
    brains = fm.real_brains(cases)
    originals = fm.original_images(cases, record.image_set)
    if brains is None:  # no real image: the brain of the image drawn for the unedited mask
        originals = sample_loaded_pairs(generator, record, config, masks=cases.masks)[0]
        brains = fm.brains_of(originals, fm.BRAIN_LEVEL)
    edited = fm.edit_cases(cases.masks, args.edit, brains)
    images, _, info = sample_loaded_pairs(generator, record, config, masks=edited)
    info = {**info, "from_masks": cases.source, "edit": args.edit,
            "edit_brain": "real slices" if cases.images is not None else
            "images drawn for the unedited masks (same seed)"}  # fmt: skip
    return TeachingCases(images, edited, (originals, cases.masks, edited, images)), info
