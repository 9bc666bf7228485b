"""``brainsynth demo``: the whole story on the phantom, inside a time budget.

phantom cohort -> prepare (64x64, sagittal #80-#149) -> train the recommended preset and the
paper's DCGAN side by side (time-boxed) -> sample -> evaluate (C2ST and friends) ->
``report.html`` -> a ready Visual Turing Test study of the recommended model.

Budgets are fixed before anything starts (:func:`~brainsynth.demo.config.training_budgets`):
a reserve for setup and report, a capped share per model for sampling and evaluation, and
an equal training share per model, each stopped by its ``max_seconds`` with a checkpoint.
A slow evaluation of one model cannot eat into the next model's training.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from brainsynth import training
from brainsynth.config import config_from_dict, save_config
from brainsynth.data.dataset import load_prepared
from brainsynth.data.prepare import PrepareConfig, prepare, write_preview
from brainsynth.demo.config import (
    DEMO_MODELS,
    DEMO_WGAN,
    QUIET_ITERATIONS,
    TRAIN_OVERHEAD_S,
    DemoConfig,
    DemoModel,
    next_training_budget,
    plan_evaluation,
    training_budgets,
    training_precision,
)
from brainsynth.errors import BrainsynthError
from brainsynth.metrics.budget import measure_slowdown
from brainsynth.metrics.evaluate import EvalConfig, warm_real_side
from brainsynth.outputs import Vocabulary, claim_folder, inside, safe_name
from brainsynth.phantom import make_cohort
from brainsynth.pipeline import Experiment, evaluate_and_record, sample_experiment
from brainsynth.report.demo import write_demo_report
from brainsynth.sampling import SamplingConfig
from brainsynth.training import TrainConfig
from brainsynth.training.presets import merge, preset
from brainsynth.vtt.study import create_study, invite


@dataclass
class Step:
    name: str
    detail: str
    seconds: float
    cpu_seconds: float = 0.0  # CPU time of this process (all its threads) and its children
    load: float = 0.0  # the machine's 1-minute load average when the step ended


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children."""
    usage = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def load_average() -> float:
    try:
        return float(os.getloadavg()[0])
    except OSError:  # not available on this platform
        return float("nan")


class StepClock:
    """Times the demo's steps (wall and CPU seconds, the load average) and prints a header
    for each, so progress is visible and the report can say what the machine's load cost."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.start_cpu = cpu_seconds()
        self.start_load = load_average()
        self.steps: list[Step] = []

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    @property
    def cpu(self) -> float:
        return cpu_seconds() - self.start_cpu

    @contextmanager
    def step(self, name: str, detail: str) -> Iterator[None]:
        print(f"\n== {name}: {detail}  [{self.elapsed:.0f} s elapsed, load "
              f"{load_average():.1f}]", flush=True)  # fmt: skip
        t0, c0 = time.monotonic(), cpu_seconds()
        yield
        self.steps.append(Step(name, detail, time.monotonic() - t0, cpu_seconds() - c0,
                               load_average()))  # fmt: skip

    def last(self) -> Step:
        return self.steps[-1]


VTT_FILES: tuple[str, ...] = ("vtt.sqlite", "vtt.sqlite-wal", "vtt.sqlite-shm")


def output_names(config: DemoConfig) -> list[str]:
    """The entries the demo writes at the top of its folder (nothing else is touched); a
    model's name becomes a folder, so it must be a safe name (:func:`safe_name`)."""
    models = [safe_name(gan.name, "demo model name") for gan in config.gans]
    return ["config.yaml", "phantom", f"prepared{config.size}", "prepared-preview.png",
            *models, *VTT_FILES, "report.html"]  # fmt: skip


def demo_vocabulary(config: DemoConfig) -> Vocabulary:
    """What the demo's marker may list: its files, the phantom, prepared and model folders."""
    models = {gan.name for gan in (*DEMO_MODELS, DEMO_WGAN, *config.gans)}
    return Vocabulary(
        files=("config.yaml", "prepared-preview.png", *VTT_FILES, "report.html"),
        folders=("phantom", *sorted(models)),
        folder_pattern=r"prepared[0-9]+",
    )


def run_demo(config: DemoConfig, overwrite: bool = False) -> Path:
    """Run the demo into ``config.out`` and return the path of ``report.html``.

    ``config.out`` must be new, empty or the demo's own (see :mod:`brainsynth.outputs`);
    a re-run replaces only the demo's own entries there.
    """
    if not config.gans:
        raise BrainsynthError("the demo needs at least one GAN to train")

    out = Path(config.out)
    names = output_names(config)
    claim = claim_folder(
        out, "demo", "--out", names, overwrite, legacy_demo, demo_vocabulary(config)
    )
    claim.begin(names)
    save_config(config, out / "config.yaml")
    train_s, eval_s = training_budgets(config)
    clock = StepClock()
    print(f"Budget plan for {config.minutes:g} min: {config.setup_s:.0f} s setup and report; "
          f"per model {train_s:.0f} s training and about {eval_s:.0f} s sampling and "
          f"evaluation ({', '.join(g.name for g in config.gans)})", flush=True)  # fmt: skip
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
            prepare(phantom, prepared_dir, PrepareConfig(size=config.size))
            # the demo's own file in its own folder, rewritten on every re-run
            write_preview(out / "prepared-preview.png", prepared_dir)
    real = load_prepared(prepared_dir).image_set(config.sequence, as_float=False)
    evaluation = replace(config.evaluation, seed=config.seed, prepared=str(prepared_dir))
    with clock.step("real side", "what every evaluation repeats on the real images alone "
                    "(real-vs-real controls, domain encoder, features), done once"):  # fmt: skip
        warm_real_side(real, evaluation)
    results, overrun = [], TRAIN_OVERHEAD_S
    for i, gan in enumerate(config.gans):
        left = config.minutes * 60 - clock.elapsed
        budget = next_training_budget(
            train_s, left, eval_s, len(config.gans) - i, overrun, config.min_train_s
        )
        if budget < train_s:
            print(f"{left:.0f} s of {config.minutes:g} min left: {gan.name} trains {budget:.0f} s "
                  f"instead of {train_s:.0f} s", flush=True)  # fmt: skip
        results.append(train_and_evaluate(config, gan, evaluation, real, budget, clock, eval_s))
        overrun = results[-1]["train_seconds"] - budget
    for result in results:
        result["eval_budget_s"] = eval_s
    with clock.step("vtt", "a Visual Turing Test study with one invited rater"):
        vtt = make_vtt_study(config, real, results[0])
    report = write_demo_report(config, clock, real, results, vtt, prepared_dir)
    print(f"\nPhantom cohort: {phantom}")
    print(f"Prepared slices: {prepared_dir} (preview: {out / 'prepared-preview.png'})")
    print(f"Report: {report.resolve()}")
    print(f"Visual Turing Test: {vtt['serve_command']}")
    print(f"  then open {vtt['rater_url']}")
    print(f"Done in {clock.elapsed:.0f} s.")
    return report


def legacy_demo(folder: Path) -> set[str] | None:
    """A folder written by brainsynth 0.1's demo (no marker): the entries it wrote."""
    if not (folder / "report.html").is_file() or not (folder / "config.yaml").is_file():
        return None
    known = {"config.yaml", "phantom", "prepared-preview.png", "report.html", "runs",
             "samples", "evaluation", "vtt.sqlite", "vtt.sqlite-wal", "vtt.sqlite-shm"}  # fmt: skip
    return {p.name for p in folder.iterdir() if p.name in known or p.name.startswith("prepared")}


def matching_phantom(folder: Path, config: DemoConfig) -> bool:
    """True when ``folder`` holds a finished phantom cohort of this seed and size (re-runs)."""
    try:
        record = json.loads((folder / "PHANTOM.json").read_text())
    except (OSError, ValueError):
        return False
    return record.get("seed") == config.seed and len(record.get("grades", {})) == config.patients


def train_and_evaluate(
    config: DemoConfig,
    gan: DemoModel,
    evaluation: EvalConfig,
    real: Any,
    budget_s: float,
    clock: StepClock,
    eval_s: float = float("inf"),
) -> dict[str, Any]:
    """Train one model for ``budget_s`` seconds, sample it and evaluate the samples against
    ``real``, the images of ``evaluation.prepared``."""
    prepared = evaluation.prepared
    experiment = Experiment(inside(config.out, gan.name, "demo model name"))
    settings = merge(preset(gan.preset), gan.overrides)
    settings = merge(settings, {
        "data": {"prepared": str(prepared), "sequence": config.sequence},
        "run": {"out": str(experiment.run), "iters": 1_000_000, "seed": config.seed,
                "precision": training_precision(config.precision), "max_seconds": budget_s,
                "log_every": config.log_every, "sample_every": 100},
    })  # fmt: skip
    train_config = config_from_dict(TrainConfig, settings)
    shutil.rmtree(experiment.folder, ignore_errors=True)  # a re-run of the demo trains afresh
    with clock.step(f"train {gan.name}", f"{budget_s:.0f} s budget; {gan.note}"):
        threads = torch_threads()
        training.train(train_config)
    trained = clock.last()
    share = cpu_share(trained, threads)
    with clock.step(f"sample {gan.name}", f"{config.n_samples} images"):
        sampling = SamplingConfig(n=config.n_samples, seed=config.seed)
        fake, info = sample_experiment(experiment, sampling)
    left = max(1.0, eval_s - clock.last().seconds)  # sampling and evaluation share eval_s
    slowdown = measure_slowdown()  # this machine now against the one the costs came from
    cut = ""
    if config.fit_evaluation:
        evaluation, cut = plan_evaluation(
            evaluation, len(real), len(fake), config.size, left, slowdown
        )
    if cut:
        print(f"the machine is busy: {cut}", flush=True)
    with clock.step(f"evaluate {gan.name}", f"C2ST, distances, diversity, memorisation; "
                    f"{left:.0f} s left of {eval_s:.0f} s"):  # fmt: skip
        metrics = evaluate_and_record(
            real, fake, evaluation, experiment.metrics, experiment.evaluation, info
        )
    return {
        "iteration": info["iteration"],
        "train_budget_s": budget_s,
        "train_seconds": trained.seconds,
        "cpu_share": share,
        "quiet_reference": QUIET_ITERATIONS.get(gan.name),
        "threads": threads,
        "evaluation_cut": cut,
        "slowdown": slowdown,
        "skipped": metrics.get("skipped") or {},
        "gan": gan,
        "run": experiment.run,
        "fake": fake,
        "metrics": metrics,
    }


def torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def cpu_share(step: Step, threads: int) -> float:
    """The share of its threads' CPU a step got: CPU seconds over wall seconds x threads
    (about 1 on a quiet machine with a core per thread; 0.3 when others take the rest)."""
    usable = max(1, min(threads, os.cpu_count() or 1))
    return min(1.0, step.cpu_seconds / max(step.seconds * usable, 1e-9))


def brainsynth_command() -> str:
    """``brainsynth`` if it is on PATH, else the full path of this environment's script
    (``make demo`` runs from .venv without activating it)."""
    if shutil.which("brainsynth"):
        return "brainsynth"
    script = Path(sys.executable).parent / "brainsynth"
    return str(script) if script.exists() else f"{sys.executable} -m brainsynth"


def make_vtt_study(config: DemoConfig, real: Any, result: dict[str, Any]) -> dict[str, Any]:
    """A Visual Turing Test study of real vs ``result``'s samples, with one invited rater."""
    db = Path(config.out) / "vtt.sqlite"
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    name = f"{config.sequence} ({result['gan'].name}, {config.size}x{config.size}) demo"
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
        "gan": result["gan"].name,
        "serve_command": f"{brainsynth_command()} vtt serve --db {db}",
        "rater_url": f"http://127.0.0.1:8000/r/{token}",
        "results_command": f"{brainsynth_command()} vtt results --db {db} --study {study}",
    }
