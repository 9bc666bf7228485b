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

DIR is new, empty, or a folder sample wrote before: then only its own files are replaced (and
its PNGs beyond --n removed); anything else is left alone. Files of others in the way are
refused unless --overwrite, before the generator runs.

  brainsynth sample runs/dcgan-concat --n 1000 --out samples/dcgan-concat --grid grid.png
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="RUN|CHECKPOINT", help="run folder or .pt checkpoint")
    parser.add_argument("--n", type=int, required=True, help="number of images to generate")
    parser.add_argument("--out", required=True, help="output folder (new, or made by sample)")
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
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="write into --out / --grid even where files sample did not write are in the way "
        "(those are replaced; nothing else is deleted)",
    )


def sample_names(n: int) -> list[str]:
    """The files ``sample`` writes into its folder for ``n`` images."""
    return [*(f"{i:06d}.png" for i in range(n)), "samples.npy", "sampling.json"]


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


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from brainsynth.errors import BrainsynthError
    from brainsynth.outputs import claim_file, claim_folder
    from brainsynth.sampling import generate_with_info, write_samples

    if args.n < 1 or args.batch < 1:
        raise BrainsynthError("--n and --batch must be at least 1")
    names = sample_names(args.n)
    claim = claim_folder(
        args.out, "sample", "--out", names, overwrite=args.overwrite, legacy=legacy_samples
    )
    grid_claim = None
    if args.grid:
        grid_claim = claim_file(args.grid, "sample", "--grid", args.overwrite, within=claim)
        if grid_claim is None:
            names.append(Path(args.grid).name)
    images, info = generate_with_info(
        args.source,
        n=args.n,
        seed=args.seed,
        batch=args.batch,
        device=args.device,
        background_floor=args.background_floor,
    )
    claim.begin(names)
    if grid_claim is not None:
        grid_claim.begin([Path(args.grid).name])
    out = write_samples(images, args.out, grid=args.grid, meta=info)
    claim.finish(names)
    print(f"brainsynth: wrote {len(images)} images to {out}")
    return 0
