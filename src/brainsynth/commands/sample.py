"""``brainsynth sample``: generate images from a trained run or checkpoint."""

from __future__ import annotations

import argparse

from brainsynth.config import DEVICES, field_default
from brainsynth.sampling.config import WEIGHTS, SamplingConfig

HELP = "generate N images from a trained run folder or .pt checkpoint"
DESCRIPTION = """\
Generate images with a trained generator (any architecture: the checkpoint says which) and
write DIR/000000.png, ... (8-bit grayscale at the training size), DIR/samples.npy
(N, 1, H, W) float32 in [0, 1] and DIR/sampling.json (checkpoint, iteration, weights, seed,
background floor, output mapping).

The paper's generator has no tanh (§3.2.2): its output y is mapped to [0, 1] with
clip((y + 1) / 2, 0, 1), the inverse of the [-1, 1] scaling of the training images.
The same checkpoint, seed, --n and --batch give identical images. Runs trained with
--ema-half-life sample their EMA generator unless --weights raw.

  brainsynth sample runs/dcgan-concat --n 1000 --out samples/dcgan-concat --grid grid.png
"""


def _default(name: str) -> str:
    return f"(default {field_default(SamplingConfig, name)})"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("source", metavar="RUN|CHECKPOINT", help="run folder or .pt checkpoint")
    add("--n", type=int, required=True, help="number of images to generate")
    add("--out", required=True, help="output folder")
    add("--seed", type=int, default=field_default(SamplingConfig, "seed"),
        help=f"latent seed {_default('seed')}")  # fmt: skip
    add("--batch", type=int, default=field_default(SamplingConfig, "batch"),
        help=f"images per forward {_default('batch')}")  # fmt: skip
    add("--grid", metavar="FILE.png", help="also save a montage of up to 64")
    add("--weights", choices=WEIGHTS, default=field_default(SamplingConfig, "weights"),
        help="ema: the generator's moving average; raw: the trained weights; auto: ema when "
        f"the run kept one {_default('weights')}")  # fmt: skip
    add(
        "--label",
        type=int,
        help="class id for a conditional generator (default: every class in turn)",
    )
    add("--background-floor", type=float,
        help="pixels below this become exactly 0 (default: the run's sampling.yaml value, "
        "0 = off)")  # fmt: skip
    add("--device", choices=DEVICES, default=field_default(SamplingConfig, "device"),
        help=_default("device"))  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from brainsynth.sampling import sample_images, write_samples

    config = SamplingConfig(
        n=args.n,
        seed=args.seed,
        batch=args.batch,
        device=args.device,
        weights=args.weights,
        background_floor=args.background_floor,
        label=args.label,
    )
    images, info = sample_images(args.source, config)
    out = write_samples(images, args.out, grid=args.grid, meta=info)
    print(f"brainsynth: wrote {len(images)} images to {out}")
    return 0
