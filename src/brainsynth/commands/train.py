"""``brainsynth train``: train a DCGAN, WGAN or WGAN-GP on one image set of a prepared folder."""

from __future__ import annotations

import argparse

HELP = "train a GAN (dcgan | wgan | wgan-gp) on a prepared dataset, or resume a run"
DESCRIPTION = """\
Train the paper's DCGAN or WGAN (Han et al. 2018, §3.2.2), or WGAN-GP (a named departure),
on one image set of a prepared folder. --iters counts generator updates.

  brainsynth train --data PREPARED --gan dcgan --sequence concat --out runs/dcgan-concat
  brainsynth train --resume runs/dcgan-concat --iters 20000

Per-GAN defaults (used when --lr/--n-critic/--clip/--disc-norm are not given):
  dcgan    Adam lr 2e-4, betas (0.5, 0.999), critic batch norm        (paper)
  wgan     RMSprop lr 5e-5, 5 critic steps, clipping +-0.01            (paper)
  wgan-gp  Adam lr 1e-4, betas (0, 0.9), 5 critic steps, GP 10, critic layer norm

The run folder gets config.yaml (first), checkpoints/last.pt + iter-NNNNNN.pt, metrics.jsonl,
samples/grid-<iter>.png, TensorBoard events in tb/ and done.json once finished. Ctrl-C (or
SIGTERM) saves a checkpoint and stops; resume with --resume RUN. A run is finished when
RUN/done.json exists. Training images are scaled to [-1, 1]; the generator has no tanh and
`brainsynth sample` maps its output back with clip((y + 1) / 2, 0, 1).

Speed: --precision bf16 (autocast, channels_last) is ~2x fp32 on CPUs with AVX512-BF16.
On a CPU shared with other busy processes, OMP_NUM_THREADS=1 can be several times faster
than the default thread count (threads spin-wait when the cores are oversubscribed).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", help="prepared dataset folder (brainsynth prepare)")
    parser.add_argument("--gan", choices=("dcgan", "wgan", "wgan-gp"), help="GAN variant")
    parser.add_argument(
        "--sequence", help="image set: t1 | t1c | t2 | flair | concat (all four pooled)"
    )
    parser.add_argument("--out", help="run folder to create")
    parser.add_argument(
        "--resume", metavar="RUN", help="continue this run folder from checkpoints/last.pt"
    )
    parser.add_argument(
        "--iters",
        type=int,
        help="generator updates in total (default 10000; on --resume: the run's own setting)",
    )
    parser.add_argument("--batch", type=int, default=64, help="batch size (default 64, paper)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--width", type=int, default=32, help="base channel width (default 32: half of 64, paper)"
    )
    parser.add_argument("--latent", type=int, default=100, help="latent size (default 100)")
    parser.add_argument(
        "--precision",
        choices=("fp32", "bf16"),
        default="fp32",
        help="fp32, or bf16 autocast (faster on recent CPUs and GPUs) (default fp32)",
    )
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where to train; auto = cuda if available (default auto)",
    )
    parser.add_argument("--lr", type=float, help="learning rate (default: per GAN, see above)")
    parser.add_argument(
        "--n-critic", type=int, help="discriminator steps per generator step (default: per GAN)"
    )
    parser.add_argument("--clip", type=float, help="WGAN weight clipping bound (default 0.01)")
    parser.add_argument("--gp-lambda", type=float, help="WGAN-GP penalty weight (default 10)")
    parser.add_argument(
        "--disc-norm",
        choices=("batch", "layer", "none"),
        help="critic normalisation (default: batch; layer for wgan-gp)",
    )
    parser.add_argument(
        "--max-minutes",
        type=float,
        help="stop cleanly with a checkpoint after this many minutes (default: no limit)",
    )
    parser.add_argument(
        "--background-floor",
        type=float,
        default=0.0,
        help="sampling post-processing: pixels below this become exactly 0; recorded in "
        "config.yaml and sampling.json (default 0 = off)",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=1000,
        help="periodic checkpoint interval in iterations (default 1000)",
    )
    parser.add_argument(
        "--sample-every", type=int, default=500, help="sample grid interval (default 500)"
    )
    parser.add_argument("--log-every", type=int, default=50, help="metrics interval (default 50)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


EXIT_CODES = {"done": 0, "time": 0, "SIGINT": 130, "SIGTERM": 143}


def run(args: argparse.Namespace) -> int:
    from brainsynth.errors import BrainsynthError
    from brainsynth.training.config import TrainConfig
    from brainsynth.training.loop import resume_training, run_training

    max_seconds = args.max_minutes * 60 if args.max_minutes is not None else None
    if args.resume:
        result = resume_training(
            args.resume,
            iters=args.iters,
            max_seconds=max_seconds,
            progress=False if args.no_progress else None,
        )
    else:
        missing = [f"--{k}" for k in ("data", "gan", "sequence", "out") if not getattr(args, k)]
        if missing:
            raise BrainsynthError(f"missing {', '.join(missing)} (or give --resume RUN)")
        config = TrainConfig(
            data=args.data,
            gan=args.gan,
            sequence=args.sequence,
            out=args.out,
            iters=args.iters if args.iters is not None else 10000,
            batch=args.batch,
            seed=args.seed,
            width=args.width,
            latent=args.latent,
            precision=args.precision,
            device=args.device,
            lr=args.lr,
            n_critic=args.n_critic,
            clip=args.clip,
            gp_lambda=args.gp_lambda,
            disc_norm=args.disc_norm,
            max_seconds=max_seconds,
            checkpoint_every=args.checkpoint_every,
            sample_every=args.sample_every,
            log_every=args.log_every,
            background_floor=args.background_floor,
            progress=not args.no_progress,
        )
        result = run_training(config)
    if result.reason == "done":
        print(f"brainsynth: {result.run} finished at iteration {result.iteration}")
    return EXIT_CODES.get(result.reason, 1)
