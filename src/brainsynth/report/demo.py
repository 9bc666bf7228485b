"""The demo's ``report.html``: real and synthetic grids per GAN, losses, metrics, montages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from brainsynth.metrics import families
from brainsynth.metrics.evaluate import metric_descriptions
from brainsynth.paper import IMAGE_SET_LABELS
from brainsynth.report.figures import grid_data_uri, png_data_uri, training_curves_svg
from brainsynth.report.render import metric_cell, render_html


def reported_metrics() -> list[tuple[str, bool]]:
    """(key, shown as a percentage) of every headline of the metric families, in table order."""
    return [(h.key, h.percent) for h in families.headlines()]


def metric_meanings(keys: list[str]) -> list[tuple[str, str]]:
    """One sentence per metric key, from the metric families' own descriptions."""
    descriptions = metric_descriptions()
    return [(key, descriptions.get(key, "")) for key in keys]


def montages(metrics: dict[str, Any]) -> list[dict[str, str]]:
    """Every PNG the evaluation wrote and named in its metrics (saliency, closest pairs)."""
    found = []
    for key, value in metrics.items():
        if isinstance(value, str) and value.endswith(".png") and Path(value).is_file():
            found.append({"uri": png_data_uri(value), "caption": key.replace("_", " ")})
    return found


def detectability_svg(results: list[dict[str, Any]]) -> str | None:
    """Every model's detectability curve (and the first real-vs-real control) in one chart:
    held-out C2ST accuracy against the classifier's training images (log2 axis ticked at
    the sizes measured), each point with its exact 95% interval, chance drawn."""
    from brainsynth.metrics.plots import Series, line_chart

    def series(label: str, points: list[dict[str, Any]]) -> Series:
        return Series(label, [p["n_train"] for p in points], [p["accuracy"] for p in points],
                      [p.get("ci95") for p in points])  # fmt: skip

    lines = [series(r["gan"].name, r["metrics"].get("detectability_curve") or []) for r in results]
    control = next(
        (r["metrics"].get("detectability_control_curve") for r in results
         if r["metrics"].get("detectability_control_curve")), None,
    )  # fmt: skip
    if control:
        lines.append(series("real vs real (control)", control))
    if not any(line.x for line in lines):
        return None
    return str(line_chart(
        lines, "C2ST training images (both classes; log2 scale)", "held-out accuracy",
        title="C2ST accuracy by training images", log2x=True, ylim=(0.0, 1.02), chance=0.5,
        spread=0.05, size=(6.0, 3.6),
    ))  # fmt: skip


def machine_load(clock: Any, results: list[dict[str, Any]]) -> dict[str, Any]:
    """What the machine's load was and what it cost: the load average, CPU time against wall
    time, and per model the share of its CPU training got, the iterations reached against
    what a quiet machine reaches, and what the evaluation left out to keep its time."""
    import os

    models = []
    for r in results:
        if "cpu_share" not in r:
            continue
        share, name = r["cpu_share"], r["gan"].name
        reference = r.get("quiet_reference")  # (iterations, seconds, where, how) when quiet
        quiet = (
            f"about {reference[0] * r['train_budget_s'] / reference[1]:.0f} on "
            f"{reference[2]} ({reference[0]} in {reference[1]:.0f} s, {reference[3]})"
            if reference else f"about {r['iteration'] / max(share, 0.05):.0f} with all of its CPU"
        )  # fmt: skip
        models.append({
            "name": name,
            "line": f"trained on {100 * share:.0f}% of the CPU of its {r['threads']} thread(s) "
                    f"a quiet machine gives it and reached {r['iteration']} iterations in "
                    f"{r['train_seconds']:.0f} s; expected {quiet}",
            "cut": r.get("evaluation_cut") or "",
            "skipped": r.get("skipped") or {},
        })  # fmt: skip
    busy = [m for m in models if "trained on" in m["line"]]
    low = min((r["cpu_share"] for r in results if "cpu_share" in r), default=1.0)
    return {
        "cores": os.cpu_count(),
        "load_start": clock.start_load,
        "load_end": clock.steps[-1].load if clock.steps else clock.start_load,
        "loads": [s.load for s in clock.steps],
        "cpu": clock.cpu,
        "wall": clock.elapsed,
        "busy": bool(busy) and low < 0.8,
        "models": models,
    }


def pick(count: int, n: int, seed: int) -> np.ndarray:
    """Sorted indices of ``n`` of ``count`` images, drawn without replacement, reproducibly."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(count, size=min(n, count), replace=False))


def write_demo_report(
    config: Any,
    clock: Any,
    real: Any,
    results: list[dict[str, Any]],
    vtt: dict[str, Any],
    prepared: Path,
) -> Path:
    """Write ``<out>/report.html`` and return its path."""
    label = IMAGE_SET_LABELS[config.sequence]
    real_grid = grid_data_uri(real.float_images(pick(len(real), 64, config.seed)))
    gans = []
    for result in results:
        metrics, gan = result["metrics"], result["gan"]
        budget = (
            f" Budget fixed before the demo started: {result['train_budget_s']:.0f} s of "
            f"training (reached iteration {result['iteration']}), about "
            f"{result['eval_budget_s']:.0f} s for sampling and evaluation."
            if "train_budget_s" in result
            else ""
        )
        gans.append(
            {
                "name": gan.name,
                "title": f"{gan.name} (--preset {gan.preset}): {label} {config.size}x{config.size}",
                "description": f"Settings: {gan.note}.{budget}",
                "sequence": config.sequence,
                "sequence_label": label,
                "size": config.size,
                "real_grid": real_grid,
                "fake_grid": grid_data_uri(
                    result["fake"][pick(len(result["fake"]), 64, config.seed)]
                ),
                "curves": training_curves_svg(
                    Path(result["run"]) / "metrics.jsonl", f"{gan.name} losses"
                ),
                "iterations": result["iteration"],
                "n_real": metrics.get("n_real"),
                "n_fake": metrics.get("n_fake"),
                "montages": montages(metrics),
            }
        )
    reported = reported_metrics()
    metric_rows = [
        {"key": key, "cells": [metric_cell(r["metrics"], key, pct) for r in results]}
        for key, pct in reported
    ]
    return render_html(
        "demo.html",
        Path(config.out) / "report.html",
        steps=clock.steps,
        total_seconds=clock.elapsed,
        gans=gans,
        metric_rows=metric_rows,
        meanings=metric_meanings([k for k, _ in reported]),
        detectability=detectability_svg(results),
        machine=machine_load(clock, results),
        vtt=vtt,
        config_path=str(Path(config.out) / "config.yaml"),
        prepared=str(prepared),
    )
