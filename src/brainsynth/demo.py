"""``brainsynth demo``: the whole story on the phantom, inside a time budget.

phantom cohort -> prepare (64x64, sagittal #80-#149) -> train DCGAN and WGAN (time-boxed) ->
sample -> evaluate (C2ST and friends) -> ``report.html`` -> a ready Visual Turing Test study.

The budget is split at run time: data preparation is timed, a fixed reserve is kept for
sampling, evaluation and the report, and the rest is shared between the two GANs, each
stopped by its ``max_seconds`` budget with a checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brainsynth.config import save_config, write_text_atomic
from brainsynth.errors import BrainsynthError
from brainsynth.metrics.evaluate import EvalConfig


@dataclass
class DemoGan:
    """How one GAN of the demo is trained (the defaults are chosen in :data:`DEMO_GANS`)."""

    gan: str  # dcgan | wgan | wgan-gp
    lr: float | None = None  # None: the paper's learning rate for this GAN
    n_critic: int | None = None  # None: the paper's (1 for dcgan, 5 for wgan)
    note: str = ""  # why these settings, shown in the report


DEMO_GANS: tuple[DemoGan, ...] = (
    DemoGan("dcgan", note="the paper's DCGAN settings (Adam 2e-4, beta1 0.5, batch 64)"),
    DemoGan(
        "wgan",
        lr=5e-4,
        n_critic=2,
        note=(
            "WGAN with the paper's weight clipping (0.01) and RMSprop, but at 5e-4 instead of "
            "5e-5 and 2 critic steps instead of 5: at the paper's settings it draws only head "
            "outlines in a few CPU minutes; these give brain silhouettes on a black background"
        ),
    ),
)


@dataclass
class DemoConfig:
    out: str = "brainsynth-demo"  # output folder
    minutes: float = 8.0  # wall-clock budget for the whole demo
    seed: int = 0  # seeds the phantom, training, sampling and evaluation
    patients: int = 12  # phantom patients
    size: int = 64  # prepared image size (the paper's 64x64 Concat set)
    sequence: str = "concat"  # image set trained (paper §3.2.2)
    width: int = 32  # base channel width (the paper's half-width DCGAN)
    batch: int = 64  # the paper's batch size
    precision: str = "bf16"  # bf16 autocast + channels_last: ~2x faster on CPU
    n_samples: int = 512  # synthetic images sampled per GAN for evaluation
    eval_reserve_s: float = 35.0  # seconds kept per GAN for sampling and evaluation
    min_train_s: float = 20.0  # each GAN trains at least this long, whatever the budget
    log_every: int = 10  # iterations between loss records (the report's curves)
    evaluation: EvalConfig = field(default_factory=lambda: EvalConfig(max_real=1000))
    gans: list[DemoGan] = field(default_factory=lambda: list(DEMO_GANS))
    vtt_n: int = 50  # images per class in the Visual Turing Test study


@dataclass
class Step:
    name: str
    detail: str
    seconds: float


class StepClock:
    """Times the demo's steps and prints a header for each, so progress is visible."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.steps: list[Step] = []

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    @contextmanager
    def step(self, name: str, detail: str) -> Iterator[None]:
        print(f"\n== {name}: {detail}  [{self.elapsed:.0f} s elapsed]", flush=True)
        t0 = time.monotonic()
        yield
        self.steps.append(Step(name, detail, time.monotonic() - t0))


def run_demo(config: DemoConfig) -> Path:
    """Run the demo into ``config.out`` and return the path of ``report.html``."""
    from brainsynth.data.dataset import load_prepared
    from brainsynth.data.prepare import PrepareConfig, prepare
    from brainsynth.phantom import make_cohort
    from brainsynth.report.demo import write_demo_report

    if not config.gans:
        raise BrainsynthError("the demo needs at least one GAN to train")

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(config, out / "config.yaml")
    clock = StepClock()
    phantom = out / "phantom"
    reuse = matching_phantom(phantom, config)
    with clock.step("phantom", f"{config.patients} BraTS-like PHANTOM cases (not patients)"):
        if reuse:
            print(f"reusing the phantom cohort in {phantom}")
        else:
            shutil.rmtree(phantom, ignore_errors=True)
            make_cohort(phantom, config.patients, seed=config.seed)
    prepared_dir = out / f"prepared{config.size}"
    with clock.step("prepare", f"sagittal slices #80-#149 at {config.size}x{config.size}"):
        if reuse and (prepared_dir / "dataset.json").is_file():
            print(f"reusing the prepared slices in {prepared_dir}")
        else:
            prepare(
                phantom,
                prepared_dir,
                PrepareConfig(size=config.size),
                preview=out / "prepared-preview.png",
            )
    real = load_prepared(prepared_dir).image_set(config.sequence, as_float=False)
    results = []
    for index, gan in enumerate(config.gans):
        remaining = config.minutes * 60 - clock.elapsed
        gans_left = len(config.gans) - index
        budget = max(config.min_train_s, remaining / gans_left - config.eval_reserve_s)
        results.append(train_and_evaluate(config, gan, prepared_dir, real, budget, clock))
    with clock.step("vtt", "a Visual Turing Test study with one invited rater"):
        vtt = make_vtt_study(config, real, results[-1])
    report = write_demo_report(config, clock, real, results, vtt, prepared_dir)
    print(f"\nPhantom cohort: {phantom}")
    print(f"Prepared slices: {prepared_dir} (preview: {out / 'prepared-preview.png'})")
    print(f"Report: {report.resolve()}")
    print(f"Visual Turing Test: {vtt['serve_command']}")
    print(f"  then open {vtt['rater_url']}")
    print(f"Done in {clock.elapsed:.0f} s.")
    return report


def matching_phantom(folder: Path, config: DemoConfig) -> bool:
    """True when ``folder`` holds a finished phantom cohort of this seed and size (re-runs)."""
    try:
        record = json.loads((folder / "PHANTOM.json").read_text())
    except (OSError, ValueError):
        return False
    return record.get("seed") == config.seed and len(record.get("grades", {})) == config.patients


def train_and_evaluate(
    config: DemoConfig,
    gan: DemoGan,
    prepared: Path,
    real: Any,
    budget_s: float,
    clock: StepClock,
) -> dict[str, Any]:
    """Train one GAN for ``budget_s`` seconds, sample it and evaluate the samples."""
    from brainsynth.metrics.evaluate import evaluate, format_summary
    from brainsynth.sampling import generate_with_info, write_samples
    from brainsynth.training import (
        DataConfig,
        ModelConfig,
        ObjectiveConfig,
        OptimizerConfig,
        RunConfig,
        TrainConfig,
        train,
    )

    out = Path(config.out)
    run_dir = out / "runs" / gan.gan
    train_config = TrainConfig(
        data=DataConfig(str(prepared), config.sequence),
        model=ModelConfig(options={"width": config.width}),
        objective=ObjectiveConfig(name=gan.gan, n_critic=gan.n_critic),
        optimizer=OptimizerConfig(lr=gan.lr),
        run=RunConfig(
            out=str(run_dir),
            iters=1_000_000,
            batch=config.batch,
            seed=config.seed,
            precision=config.precision,
            max_seconds=budget_s,
            log_every=config.log_every,
            sample_every=100,
        ),
    )
    shutil.rmtree(run_dir, ignore_errors=True)  # a re-run of the demo trains afresh
    with clock.step(f"train {gan.gan}", f"{budget_s:.0f} s budget; {gan.note}"):
        train(train_config)
    samples_dir = out / "samples" / gan.gan
    with clock.step(f"sample {gan.gan}", f"{config.n_samples} images"):
        fake, sampling = generate_with_info(run_dir, n=config.n_samples, seed=config.seed)
        write_samples(fake, samples_dir, grid=samples_dir / "grid.png", meta=sampling)
    metrics_dir = out / "metrics" / gan.gan
    with clock.step(f"evaluate {gan.gan}", "C2ST, distances, diversity, memorisation"):
        metrics = evaluate(
            real,
            fake,
            dataclasses.replace(config.evaluation, seed=config.seed),
            out_dir=metrics_dir,
        )
        metrics["fake_sampling"] = sampling
        write_text_atomic(metrics_dir / "metrics.json", json.dumps(metrics, indent=2, default=str))
        print(format_summary(metrics))
    return {
        "iteration": sampling["iteration"],
        "gan": gan,
        "run": run_dir,
        "fake": fake,
        "metrics": metrics,
        "metrics_dir": metrics_dir,
    }


def brainsynth_command() -> str:
    """``brainsynth`` if it is on PATH, else the full path of this environment's script
    (``make demo`` runs from .venv without activating it)."""
    if shutil.which("brainsynth"):
        return "brainsynth"
    script = Path(sys.executable).parent / "brainsynth"
    return str(script) if script.exists() else f"{sys.executable} -m brainsynth"


def make_vtt_study(config: DemoConfig, real: Any, result: dict[str, Any]) -> dict[str, Any]:
    """A Visual Turing Test study of real vs ``result``'s samples, with one invited rater."""
    from brainsynth.vtt.study import create_study, invite

    db = Path(config.out) / "vtt.sqlite"
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    name = f"{config.sequence} ({result['gan'].gan.upper()}, {config.size}x{config.size}) demo"
    n = min(config.vtt_n, len(result["fake"]), len(real))
    study = create_study(
        db,
        name,
        real,
        result["fake"],
        n_real=n,
        n_fake=n,
        seed=config.seed,
        sequence=config.sequence,
    )
    token = invite(db, study, "demo-rater")
    return {
        "db": str(db),
        "study": study,
        "n_real": n,
        "n_fake": n,
        "gan": result["gan"].gan,
        "serve_command": f"{brainsynth_command()} vtt serve --db {db}",
        "rater_url": f"http://127.0.0.1:8000/r/{token}",
        "results_command": f"{brainsynth_command()} vtt results --db {db} --study {study}",
    }
