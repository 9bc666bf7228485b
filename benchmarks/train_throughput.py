"""Training throughput: brainsynth's trainer vs a plain fp32 PyTorch DCGAN loop, same models.

Runs, in one process, the paper's DCGAN steps (§3.2.2: width 32, latent 100, batch 64,
Adam 2e-4) at 64x64 and 128x128:

- ``plain fp32``: the textbook PyTorch DCGAN step (contiguous NCHW fp32 tensors, a float
  dataset, the discriminator's weight gradients computed in the generator step too);
- ``brainsynth fp32`` and ``brainsynth bf16``: :class:`AdversarialTrainer.step` with its in-memory
  uint8 sampler (channels_last; bf16 autocast for the latter), plus the per-iteration
  NaN check the training loop does.

Rounds alternate between the variants so a colleague's load on the machine hits all of them
alike; the ratio is the figure to read. It also measures what logging, sample grids and
checkpoints cost, amortised at the default intervals (every 50 / 500 / 1000 iterations), as
a fraction of step time.

    .venv/bin/python benchmarks/train_throughput.py [--steps 16] [--sizes 64 128]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from arglists import image_size

from brainsynth.models import ModelShape, family
from brainsynth.models.checkpoint import ModelRecord, save_checkpoint
from brainsynth.models.dcgan import Config, build
from brainsynth.training import DataConfig, ModelConfig, RunConfig, TrainConfig, rng
from brainsynth.training.adversarial import AdversarialTrainer
from brainsynth.training.data import EpochSampler
from brainsynth.training.launch import complete
from brainsynth.training.run_folder import RunLogger
from brainsynth.training.runtime import Runtime

BATCH, WIDTH, LATENT, LR, BETAS = 64, 32, 100, 2e-4, (0.5, 0.999)


def plain_step(size: int, data: torch.Tensor) -> Callable[[], None]:
    """The reference: PyTorch's DCGAN example step, fp32, NCHW, no tricks."""
    generator, discriminator = build(Config(width=WIDTH), ModelShape(size, latent=LATENT))
    opt_g = torch.optim.Adam(generator.parameters(), lr=LR, betas=BETAS)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=LR, betas=BETAS)
    images = data.float() / 127.5 - 1.0

    def step() -> None:
        real = images[torch.randint(0, len(images), (BATCH,))]
        fake = generator(torch.randn(BATCH, LATENT))
        loss_d = (
            F.softplus(-discriminator(real)).mean()
            + F.softplus(discriminator(fake.detach())).mean()
        )
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = F.softplus(-discriminator(fake)).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()

    return step


def brainsynth_trainer(size: int, data: torch.Tensor, precision: str) -> AdversarialTrainer:
    """The paper's DCGAN settings (the dcgan objective's defaults: Adam 2e-4, betas 0.5)."""
    with tempfile.TemporaryDirectory() as tmp:  # the config wants folders; nothing is read
        config = TrainConfig(
            DataConfig(tmp, "concat"),
            RunConfig(tmp, batch=BATCH, precision=precision),
            ModelConfig(latent=LATENT, options={"width": WIDTH}),
        )
    config = complete(config)
    assert config.optimizer.lr == LR and config.optimizer.betas == BETAS
    record = ModelRecord(family("dcgan"), config.model.options, ModelShape(size, latent=LATENT))
    return AdversarialTrainer(config, record, Runtime(torch.device("cpu")))


def brainsynth_step(trainer: AdversarialTrainer, sampler: EpochSampler) -> Callable[[], None]:
    def step() -> None:
        losses = trainer.step(sampler, 0)
        values = torch.stack(list(losses.values())).float().cpu()
        if not torch.isfinite(values).all():
            raise RuntimeError("non-finite loss")

    return step


def timed(fn: Callable[[], object], repeats: int = 1) -> float:
    """Mean seconds per call."""
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


def interleaved(steps: dict[str, Callable[[], None]], total: int, rounds: int) -> dict[str, float]:
    """Seconds per step of each variant, alternating in ``rounds`` rounds after a warm-up."""
    for fn in steps.values():
        timed(fn, 2)
    spent = dict.fromkeys(steps, 0.0)
    per_round = max(1, total // rounds)
    for _ in range(rounds):
        for name, fn in steps.items():
            spent[name] += timed(fn, per_round) * per_round
    return {name: s / (per_round * rounds) for name, s in spent.items()}


def bookkeeping_seconds(trainer: AdversarialTrainer, sampler: EpochSampler) -> dict[str, float]:
    """Cost of one metrics line, one sample grid and one checkpoint, as the loop does them."""
    grid_z = torch.randn(64, LATENT)
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        logger = RunLogger(run, 0)
        losses = {"loss_d": torch.tensor(0.5), "loss_g": torch.tensor(1.0)}

        def log() -> None:
            values = torch.stack(list(losses.values())).tolist()
            record = {"iter": 1, **dict(zip(losses, values, strict=True))}
            logger.log({**record, "images_per_s": 100.0, "seconds": 1.0})

        def grid() -> None:
            logger.grid(1, trainer.generator.to_images(trainer.sample(grid_z)).numpy())

        def checkpoint() -> None:
            state = {
                "iteration": 1,
                **trainer.record.as_dict(),
                "train": {},
                "trainer": trainer.state_dict(),
                "sampler": sampler.state_dict(),
                "rng": rng.capture_rng_state(),
            }
            save_checkpoint(run / "checkpoints" / "last.pt", state)

        costs = {"log": timed(log, 20), "grid": timed(grid, 2), "checkpoint": timed(checkpoint, 2)}
        logger.close()
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=16, help="timed steps per variant and size")
    parser.add_argument("--rounds", type=int, default=4, help="alternation rounds")
    parser.add_argument(
        "--sizes", type=image_size, nargs="+", default=[64, 128], help="image sizes"
    )
    args = parser.parse_args()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {BATCH}, "
        f"width {WIDTH}; other processes may load the CPU: read the ratios"
    )
    for size in args.sizes:
        torch.manual_seed(0)
        data = torch.randint(0, 256, (512, 1, size, size), dtype=torch.uint8)
        trainers = {p: brainsynth_trainer(size, data, p) for p in ("fp32", "bf16")}
        samplers = {p: EpochSampler(data, BATCH, 0, torch.device("cpu")) for p in trainers}
        steps = {"plain fp32": plain_step(size, data)}
        for p, trainer in trainers.items():
            steps[f"brainsynth {p}"] = brainsynth_step(trainer, samplers[p])
        seconds = interleaved(steps, args.steps, args.rounds)
        base = seconds["plain fp32"]
        print(f"\n{size}x{size} DCGAN step (images/s, ratio to plain fp32):")
        for name, s in seconds.items():
            print(f"  {name:16s} {BATCH / s:8.1f} img/s   {base / s:5.2f}x")
        costs = bookkeeping_seconds(trainers["bf16"], samplers["bf16"])
        step_s = seconds["brainsynth bf16"]
        amortised = costs["log"] / 50 + costs["grid"] / 500 + costs["checkpoint"] / 1000
        print(
            f"  bookkeeping: log {costs['log'] * 1e3:.1f} ms, grid {costs['grid'] * 1e3:.0f} "
            f"ms, checkpoint {costs['checkpoint'] * 1e3:.0f} ms -> {amortised / step_s:.2%} "
            f"of bf16 step time at the default intervals (50/500/1000)"
        )


if __name__ == "__main__":
    main()
