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
    add("--n", type=int, required=True, help="number of images to generate")
    add("--out", required=True, help="output folder (new, or made by sample)")
    add("--seed", type=int, default=field_default(SamplingConfig, "seed"),
        help=f"latent seed {_default('seed')}")  # fmt: skip
    add("--batch", type=int, default=field_default(SamplingConfig, "batch"),
        help=f"images per forward {_default('batch')}")  # fmt: skip
    add("--grid", metavar="FILE.png", help="also save a montage of up to 64")
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
    the generator is conditional: claimed always, so a stale one never labels new images)."""
    return [*(f"{i:06d}.png" for i in range(n)), "samples.npy", "sampling.json", "labels.csv"]


def sample_vocabulary():
    """Every entry ``sample`` writes into its folder: its files and PNGs (images, a --grid)."""
    from brainsynth.outputs import Vocabulary

    return Vocabulary(files=("samples.npy", "sampling.json", "labels.csv"), file_pattern=r".+\.png")


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

    need = math.prod(shape) * (4 + 1) + shape[0] * 1024  # + PNG headers and file entries
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


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from brainsynth.outputs import claim_file, claim_folder
    from brainsynth.sampling import write_samples
    from brainsynth.sampling.images import sample_images_stream

    config = SamplingConfig(
        n=args.n,
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
    names = sample_names(args.n)
    claim = claim_folder(
        args.out, "sample", "--out", names, overwrite=args.overwrite, legacy=legacy_samples,
        vocabulary=sample_vocabulary(),
    )  # fmt: skip
    grid_claim = None
    if args.grid:
        grid_claim = claim_file(args.grid, "sample", "--grid", args.overwrite, within=claim)
        if grid_claim is None:
            names.append(Path(args.grid).name)
    images, info = sample_images_stream(args.source, config)  # generated while written
    check_disk_space(Path(args.out), images.shape)
    claim.begin(names)
    if grid_claim is not None:
        grid_claim.begin([Path(args.grid).name])
    out = write_samples(images, args.out, grid=args.grid, meta=info)
    if info.get("labels") is None:  # unconditional: an earlier labels.csv would be stale
        names.remove("labels.csv")
    claim.finish(names)
    print(f"brainsynth: wrote {len(images)} images to {out}")
    return 0
