"""``brainsynth sample``: generate images from a trained run or checkpoint."""

from __future__ import annotations

import argparse

HELP = "generate N images from a trained run folder or .pt checkpoint"
DESCRIPTION = """\
Generate images with a trained generator and write DIR/000000.png, ... (8-bit grayscale at
the training size), DIR/samples.npy (N, 1, H, W) float32 in [0, 1] and DIR/sampling.json
(checkpoint, iteration, seed, background floor, output mapping).

The generator has no tanh (paper §3.2.2): its output y is mapped to [0, 1] with
clip((y + 1) / 2, 0, 1), the inverse of the [-1, 1] scaling of the training images.
The same checkpoint, seed, --n and --batch give identical images.

  brainsynth sample runs/dcgan-concat --n 1000 --out samples/dcgan-concat --grid grid.png
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="RUN|CHECKPOINT", help="run folder or .pt checkpoint")
    parser.add_argument("--n", type=int, required=True, help="number of images to generate")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="latent seed (default 0)")
    parser.add_argument("--batch", type=int, default=256, help="images per forward (default 256)")
    parser.add_argument("--grid", metavar="FILE.png", help="also save a montage of up to 64")
    parser.add_argument(
        "--background-floor",
        type=float,
        default=None,
        help="pixels below this become exactly 0 (default: the run's config value, 0 = off)",
    )
    parser.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto", help="(default auto)"
    )


def run(args: argparse.Namespace) -> int:
    from brainsynth.sampling import generate_with_info, write_samples

    images, info = generate_with_info(
        args.source,
        n=args.n,
        seed=args.seed,
        batch=args.batch,
        device=args.device,
        background_floor=args.background_floor,
    )
    out = write_samples(images, args.out, grid=args.grid, meta=info)
    print(f"brainsynth: wrote {len(images)} images to {out}")
    return 0
