"""``brainsynth train``: train a generator on one image set of a prepared folder, or resume one."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from brainsynth.config import DEVICES, field_default
from brainsynth.data.dataset import TRAINING_SETS
from brainsynth.data.labels import CONDITIONS, DEFAULT_TUMOR_THRESHOLD
from brainsynth.models import family_names
from brainsynth.models.mask_encoding import DEFAULT_ENCODING, ENCODINGS
from brainsynth.training.config import (
    AUGMENTS,
    BATCH_NORM_MODES,
    BUDGET_CLOCKS,
    OBJECTIVE_DEFAULTS,
    PRECISIONS,
    AugmentConfig,
    EmaConfig,
    ModelConfig,
    ObjectiveConfig,
    RunConfig,
)
from brainsynth.training.presets import preset_names, preset_summaries

HELP = (
    "train a generator (a GAN, or a denoising model: see --arch) on a prepared dataset, or resume"
)


def _defaults_table() -> str:
    rows = []
    for name, d in OBJECTIVE_DEFAULTS.items():
        betas = f", betas {tuple(d['betas'])}" if d["betas"] else ""
        extra = [f"{d['n_critic']} critic steps"] if d["n_critic"] > 1 else []
        extra += [f"clipping +-{d['clip']}"] if d["clip"] else []
        extra += [f"GP {d['gp_lambda']:g}"] if d["gp_lambda"] else []
        extra += [f"R1 {d['r1_gamma']:g}"] if d["r1_gamma"] else []
        rows.append(f"  {name:<14} {d['optimizer']} lr {d['lr']:g}{betas}" +
                    "".join(f"; {e}" for e in extra))  # fmt: skip
    return "\n".join(rows)


def _presets_table() -> str:
    lines = []
    for name, text in preset_summaries().items():
        wrapped = textwrap.wrap(text, width=78)
        lines.append(f"  {name:<17}{wrapped[0]}")
        lines += [f"  {'':<17}{rest}" for rest in wrapped[1:]]
    return "\n".join(lines)


DESCRIPTION = f"""\
Train the paper's DCGAN or WGAN (Han et al. 2018, §3.2.2), or a named departure, on one image
set of a prepared folder. --iters counts generator updates.

  brainsynth train --preset paper-dcgan --data PREPARED --sequence concat --out runs/paper-dcgan
  brainsynth train --config run.yaml --out runs/other --lr 1e-4     (flags override the file)
  brainsynth train --resume runs/paper-dcgan --iters 20000
  brainsynth train --preset recommended-cpu --data PREPARED --sequence concat --out runs/sg2
  brainsynth train --preset recommended-gpu --data PREPARED128 --sequence concat --out runs/g
  brainsynth train --preset diffusion --data PREPARED --sequence concat --out runs/diffusion

Families (--arch {" | ".join(family_names())}): a GAN trains its generator against a
discriminator with one of the objectives below (--objective; --gan is the same flag). A
denoising family trains one network that turns noise into an image step by step, with its
own loss (its only objective), has no discriminator (no --augment), and samples in steps
(`brainsynth sample --steps N --guidance W`). Each family's settings are --arch-option
KEY=VALUE (the README lists them; an unknown key is refused with the family's list).

Presets (--preset; a --config file and the flags override them field by field):
{_presets_table()}

--config takes a YAML TrainConfig (sections data, model, objective, optimizer, ema, augment,
run; every run's config.yaml is one). The GAN objectives' defaults (used when --lr,
--n-critic, --clip, --gp-lambda or --r1 are not given; a denoising family's are its own):
{_defaults_table()}
EMA (--ema-half-life) and DiffAugment (--augment) are off by default, as in the paper.

Beyond the paper (its future work, §5): --condition tumor trains a class-conditional GAN
(class embedding into the generator, projection discriminator) on with-tumor /
without-tumor slices (tumor_pixels > --tumor-threshold); --sequence concat --condition
sequence one model for the four sequences; --sequence joint learns the four co-registered
sequences of a slice as one 4-channel image. --patients restricts training to some patients
(recorded in config.yaml, so a test set's patients provably stay out).

Labelled data (issue 25; a folder prepared with masks.npy; slices of segmented cases only):
--with-mask trains any family on image + tumour-mask pairs (the mask as extra generated
channels, one-hot by default: --mask-encoding); --condition mask learns images drawn for a
given mask, with a family that can (a denoising family: the mask's channels concatenated to
the UNet's input; the SPADE GAN: the paper's DCGAN with SPADE normalisation, the mask
entering every layer; other families refuse it, naming those that can):
  brainsynth train --data PREPARED --sequence flair --with-mask --out runs/pairs
  brainsynth train --data PREPARED --sequence flair --condition mask --arch ARCH --out runs/m

The run folder gets config.yaml (first), checkpoints/last.pt + iter-NNNNNN.pt, metrics.jsonl,
samples/grid-<iter>.png, TensorBoard events in tb/ and done.json once finished. Ctrl-C (or
SIGTERM) saves a checkpoint and stops; resume with --resume RUN. A run is finished when
RUN/done.json exists. --out must be new, empty or made by train (marker file); nothing in a
run folder changes before every check (data, image size, model, checkpoint) has passed, and
config.yaml stores absolute paths, so --resume works from any working folder. Training images
are scaled to [-1, 1]; the paper's generator has no
tanh and `brainsynth sample` maps its output back with clip((y + 1) / 2, 0, 1).

Speed: --precision bf16 (autocast, channels_last) is ~2x fp32 on CPUs with AVX512-BF16 or AMX
and on GPUs, but ~10x SLOWER on AVX2-only CPUs, which emulate bf16; --precision auto (the
presets') picks bf16 only where it is native and records what it chose in config.yaml.
On a CPU shared with other busy processes, OMP_NUM_THREADS=1 can be several times faster
than the default thread count (threads spin-wait when the cores are oversubscribed).

Several GPUs or machines: start it with torchrun (docs/scaling.md), e.g.
  torchrun --standalone --nproc-per-node 4 -m brainsynth train --data ... --batch 64
--batch stays the global batch (16 per GPU here) and the data order and latents are those
of one process; --batch-norm sync (default) keeps batch statistics global. Only rank 0
writes the run folder. A signal to any process saves once and stops all; --resume works
with the same or another number of processes.
"""

# flag destination -> (config section, field); "options" are the architecture's own fields
FLAG_FIELDS: dict[str, tuple[str, str]] = {
    "data": ("data", "prepared"),
    "sequence": ("data", "sequence"),
    "condition": ("data", "condition"),
    "tumor_threshold": ("data", "tumor_threshold"),
    "with_mask": ("data", "with_mask"),
    "mask_encoding": ("data", "mask_encoding"),
    "out": ("run", "out"),
    "arch": ("model", "arch"),
    "latent": ("model", "latent"),
    "width": ("options", "width"),
    "disc_norm": ("options", "disc_norm"),
    "objective": ("objective", "name"),
    "n_critic": ("objective", "n_critic"),
    "clip": ("objective", "clip"),
    "gp_lambda": ("objective", "gp_lambda"),
    "r1": ("objective", "r1_gamma"),
    "r1_every": ("objective", "r1_every"),
    "lr": ("optimizer", "lr"),
    "betas": ("optimizer", "betas"),
    "ema_half_life": ("ema", "half_life_kimg"),
    "augment": ("augment", "policy"),
    "ada_target": ("augment", "ada_target"),
    "ada_kimg": ("augment", "ada_kimg"),
    "budget_clock": ("run", "budget_clock"),
    **{k: ("run", k) for k in ("iters", "batch", "seed", "precision", "device",
                               "checkpoint_every", "sample_every", "log_every",
                               "batch_norm", "compile")},
}  # fmt: skip
RESUME_FLAGS = ("iters", "max_minutes", "no_progress", "resume", "command")


def _default(cls: type, name: str) -> str:
    return f"(default {field_default(cls, name)})"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "--preset",
        choices=preset_names(),
        help="start from a named configuration (listed above with what each is for: "
        "recommended-cpu on a CPU, recommended-gpu on a GPU); --config and flags override it",
    )
    add("--config", metavar="FILE.yaml", help="a TrainConfig YAML; the flags below override it")
    add("--data", help="prepared dataset folder (brainsynth prepare)")
    add("--sequence", help=f"image set: {' | '.join(TRAINING_SETS)} (concat: all four pooled; "
        "joint: the four sequences of a slice as one 4-channel image)")  # fmt: skip
    add("--condition", choices=CONDITIONS,
        help="class labels the generator learns and `sample --label` asks for: tumor "
        "(with-tumor / without-tumor from slices.csv), sequence (t1 | t1c | t2 | flair, with "
        "--sequence concat); or mask: images drawn for each slice's tumour mask (masks.npy), "
        "p(image | mask), for `sample --from-masks` (default none, the paper's)")  # fmt: skip
    add("--with-mask", action="store_true", default=None,
        help="learn each image together with its slice's tumour mask (masks.npy) as extra "
        "generated channels: `sample` then writes image + mask pairs (any family)")  # fmt: skip
    add("--mask-encoding", choices=tuple(ENCODINGS),
        help="how a mask becomes channels: one-hot (3 channels, labels 1..3) or scalar (1 "
        f"channel) (default {DEFAULT_ENCODING}; see the README)")  # fmt: skip
    add("--tumor-threshold", type=float, metavar="PIXELS",
        help="with-tumor when a slice's tumor_pixels exceed this "
        f"(default {DEFAULT_TUMOR_THRESHOLD}: any annotated tumour)")  # fmt: skip
    add("--patients", metavar="ID,ID...|FILE",
        help="train on these patients only: a comma list, or a file with one id a line "
        "(default: all)")  # fmt: skip
    add("--out", help="run folder to create (new or empty; never a prepared folder or yours)")
    add("--resume", metavar="RUN", help="continue this run folder from checkpoints/last.pt")
    add("--arch", choices=family_names(),
        help=f"generator family {_default(ModelConfig, 'arch')}: the paper's")  # fmt: skip
    add("--objective", "--gan", dest="objective", metavar="NAME",
        help=f"what the family trains with: a GAN one of {', '.join(OBJECTIVE_DEFAULTS)}; a "
        "denoising family its own (default: the family's; --gan is the name 0.1-0.3 gave "
        "this flag)")  # fmt: skip
    add("--iters", type=int,
        help=f"generator updates in total {_default(RunConfig, 'iters')}; on --resume: the "
        "run's own setting")  # fmt: skip
    add("--batch", type=int, help=f"batch size {_default(RunConfig, 'batch')}, paper")
    add("--seed", type=int, help=f"random seed {_default(RunConfig, 'seed')}")
    add("--width", type=int, help="dcgan base channel width (default 32: half of 64, paper)")
    add("--latent", type=int, help=f"latent size {_default(ModelConfig, 'latent')}")
    add("--arch-option", action="append", default=[], metavar="KEY=VALUE",
        help="an architecture setting (YAML value), e.g. width=16; repeatable")  # fmt: skip
    add("--precision", choices=PRECISIONS,
        help=f"fp32, bf16 autocast (faster where bf16 is native), or auto: bf16 where native "
        f"{_default(RunConfig, 'precision')}")  # fmt: skip
    add(
        "--device",
        choices=DEVICES,
        help=f"where to train; auto = cuda if available {_default(RunConfig, 'device')}",
    )
    add("--batch-norm", choices=BATCH_NORM_MODES,
        help="with several processes (torchrun): batch statistics over the global batch "
        f"(sync: as one process) or each process's share (local) "
        f"{_default(RunConfig, 'batch_norm')}")  # fmt: skip
    add("--compile", action="store_true", default=None,
        help="run the networks through torch.compile (GPU option; compiling takes minutes, "
        "measure before relying on it) (default: off)")  # fmt: skip
    add("--lr", type=float, help="learning rate (default: per objective, see above)")
    add("--betas", type=float, nargs=2, metavar=("B1", "B2"), help="Adam betas (default: ditto)")
    add("--n-critic", type=int, help="discriminator steps per generator step (default: ditto)")
    add("--clip", type=float, help="WGAN weight clipping bound (default 0.01 for wgan)")
    add("--gp-lambda", type=float, help="WGAN-GP penalty weight (default 10 for wgan-gp)")
    add("--r1", type=float, metavar="GAMMA",
        help="R1 penalty weight on real images (Mescheder et al. 2018); 0 = off (default: "
        "per objective)")  # fmt: skip
    add(
        "--r1-every",
        type=int,
        help=f"R1 every N discriminator steps (lazy) {_default(ObjectiveConfig, 'r1_every')}",
    )
    add("--disc-norm", help="dcgan critic normalisation: batch | layer | none "
        "(default: batch; layer for wgan-gp)")  # fmt: skip
    add(
        "--ema-half-life",
        type=float,
        metavar="KIMG",
        help="EMA of the generator with this half-life in thousands of images, StyleGAN2's "
        f"convention with ramp-up; 0 = off {_default(EmaConfig, 'half_life_kimg')}",
    )
    add("--augment", metavar="POLICY",
        help=f"DiffAugment of every discriminator input: a comma list of {','.join(AUGMENTS)} "
        "(default: none)")  # fmt: skip
    add("--ada-target", type=float, metavar="R",
        help="adaptive augmentation (ADA, Karras et al. 2020b): apply --augment with a "
        "probability tuned so that E[sign(D(real))] stays at R (paper: 0.6) (default: off, "
        "always apply)")  # fmt: skip
    add("--ada-kimg", type=float, metavar="KIMG",
        help="ADA speed: thousands of images for the probability to go from 0 to 1 "
        f"{_default(AugmentConfig, 'ada_kimg')}")  # fmt: skip
    add(
        "--max-minutes",
        type=float,
        help="stop cleanly with a checkpoint after this many minutes (default: no limit)",
    )
    add("--budget-clock", choices=BUDGET_CLOCKS,
        help="what --max-minutes counts: wall-clock time, or this process's CPU time (fair "
        f"on a machine shared with other jobs) {_default(RunConfig, 'budget_clock')}")  # fmt: skip
    add("--background-floor", type=float,
        help="sampling default of this run, written to RUN/sampling.yaml: pixels below this "
        "become exactly 0 (default 0 = off)")  # fmt: skip
    add(
        "--checkpoint-every",
        type=int,
        help=f"periodic checkpoint interval {_default(RunConfig, 'checkpoint_every')}",
    )
    add(
        "--sample-every",
        type=int,
        help=f"sample grid interval {_default(RunConfig, 'sample_every')}",
    )
    add("--log-every", type=int, help=f"metrics interval {_default(RunConfig, 'log_every')}")
    add("--no-progress", action="store_true", help="hide the progress bar")
    add("--overwrite", action="store_true",
        help="start a run in a folder train did not make, replacing only the files train "
        "writes there")  # fmt: skip


EXIT_CODES = {"done": 0, "time": 0, "SIGINT": 130, "SIGTERM": 143}


def config_dict(args: argparse.Namespace) -> dict[str, Any]:
    """The nested TrainConfig dict: ``--preset``, then ``--config``'s YAML, then the flags."""
    import yaml

    from brainsynth.errors import BrainsynthError
    from brainsynth.training.presets import merge, preset

    data: dict[str, Any] = preset(args.preset) if args.preset else {}
    if args.config:
        try:
            with open(args.config) as handle:
                loaded = yaml.safe_load(handle) or {}
        except OSError as exc:
            raise BrainsynthError(f"{args.config}: cannot read the config ({exc})") from exc
        except yaml.YAMLError as exc:
            raise BrainsynthError(f"{args.config}: not valid YAML") from exc
        if not isinstance(loaded, dict):
            raise BrainsynthError(f"{args.config}: expected a mapping of config sections")
        data = merge(data, loaded)

    def section(name: str) -> dict[str, Any]:
        if name == "options":
            return section("model").setdefault("options", {})
        return data.setdefault(name, {})

    for dest, (name, key) in FLAG_FIELDS.items():
        value = getattr(args, dest)
        if value is not None:
            section(name)[key] = value
    for item in args.arch_option:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise BrainsynthError(f"--arch-option {item!r}: expected KEY=VALUE")
        section("options")[key.strip()] = yaml.safe_load(text)
    if args.patients:
        section("data")["patients"] = patient_list(args.patients)
    if args.max_minutes is not None:
        section("run")["max_seconds"] = args.max_minutes * 60
    if args.no_progress:
        section("run")["progress"] = False
    return data


def patient_list(text: str) -> list[str]:
    """``--patients``: a file with one id a line, or a comma list."""
    from pathlib import Path

    path = Path(text)
    items = path.read_text().splitlines() if path.is_file() else text.split(",")
    return [item.strip() for item in items if item.strip()]


def check_complete(data: dict[str, Any]) -> None:
    from brainsynth.errors import BrainsynthError

    wanted = {"--data": ("data", "prepared"), "--sequence": ("data", "sequence"),
              "--out": ("run", "out")}  # fmt: skip
    missing = [flag for flag, (s, k) in wanted.items() if (data.get(s) or {}).get(k) is None]
    if missing:
        raise BrainsynthError(f"missing {', '.join(missing)} (or give --resume RUN)")


def run(args: argparse.Namespace) -> int:
    from brainsynth.errors import BrainsynthError
    from brainsynth.outputs import shown
    from brainsynth.training.distributed import launch

    if args.resume:
        given = {k: v for k, v in vars(args).items() if v not in (None, False, [])}
        extra = [f"--{k.replace('_', '-')}" for k in given
                 if k not in RESUME_FLAGS and not k.startswith("_")]  # fmt: skip
        if extra:
            raise BrainsynthError(
                f"--resume continues a run as configured; only --iters, --max-minutes and "
                f"--no-progress apply (got {', '.join(extra)})"
            )
    with launch() as where:  # torchrun's processes, or just this one
        result = _train_or_resume(args, where)
    if result.reason == "done" and where.is_main:
        print(f"brainsynth: {shown(result.run)} finished at iteration {result.iteration}")
    return EXIT_CODES.get(result.reason, 1)


def _train_or_resume(args: argparse.Namespace, where: Any) -> Any:
    from brainsynth.config import config_from_dict
    from brainsynth.sampling import SamplingConfig
    from brainsynth.training.config import TrainConfig
    from brainsynth.training.launch import resume_training, run_training

    max_seconds = args.max_minutes * 60 if args.max_minutes is not None else None
    if args.resume:
        return resume_training(
            args.resume,
            iters=args.iters,
            max_seconds=max_seconds,
            progress=False if args.no_progress else None,
            launch=where,
        )
    data = config_dict(args)
    check_complete(data)
    config = config_from_dict(TrainConfig, data)
    extra = {}
    if args.background_floor is not None:
        extra["sampling.yaml"] = SamplingConfig(background_floor=args.background_floor)
    runtime = where.runtime(config.run.device)
    return run_training(config, runtime, overwrite=args.overwrite, extra_configs=extra)
