"""``brainsynth demo`` at tiny scale: every section of the report, and a ready VTT study."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from blobs import tiny_eval_config
from brainsynth.cli import main
from brainsynth.demo import DemoConfig, DemoGan, run_demo
from brainsynth.demo.config import training_budgets
from brainsynth.vtt.scoring import list_studies

TINY_GANS = [  # the demo's two models at test size
    DemoGan("stylegan2", "recommended", {"model": {"options": {"channel_base": 64,
            "channel_max": 8, "w_dim": 8}}, "run": {"batch": 16}}, "recommended, tiny"),
    DemoGan("dcgan", "paper-dcgan", {"model": {"options": {"width": 4}}, "run": {"batch": 16}},
            "paper DCGAN, tiny"),
]  # fmt: skip


def test_tiny_demo_writes_a_complete_report_and_a_ready_study(
    tmp_path: Path, phantom_cohort_6: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    shutil.copytree(phantom_cohort_6, out / "phantom")  # reused: PHANTOM.json matches
    config = DemoConfig(
        out=str(out),
        minutes=0.1,
        patients=6,
        n_samples=48,
        setup_s=0,
        min_train_s=2,
        gans=TINY_GANS,
        log_every=1,
        evaluation=tiny_eval_config(),
        vtt_n=6,
        fit_evaluation=False,  # a 6-second demo: every family, whatever the budget says
    )
    report = run_demo(config, overwrite=True)  # the seeded phantom/ is not the demo's own
    printed = capsys.readouterr().out
    assert "reusing the phantom cohort" in printed
    assert f"Prepared slices: {out / 'prepared64'}" in printed

    html = report.read_text()
    assert "Phantom data." in html and "not from\npatients" in html
    for section in (
        "stylegan2 (--preset recommended): Concat 64x64",
        "dcgan (--preset paper-dcgan): Concat 64x64",
        "Budget fixed before the demo started",
        "Realism, diversity",
        "What each number means",
        "Visual Turing Test",
    ):
        assert section in html
    assert len(re.findall(r'src="data:image/png;base64,', html)) >= 4  # real + fake per GAN
    assert html.count('<svg role="img"') >= 3  # a loss chart per GAN, the detectability chart
    assert 'aria-label="C2ST accuracy by training images"' in html  # both detectability curves
    # issue 27: the machine's load and what it cost, per step and per model
    assert "The machine" in html and "CPU seconds" in html and "load average" in html.lower()
    assert re.search(r"stylegan2</strong> trained on \d+% of the CPU", html)
    row = re.search(r"<td class=\"name\">c2st_accuracy</td>(.*?)</tr>", html, re.S)
    assert row and len(re.findall(r"\d+\.\d \[", row.group(1))) == 2  # value [95% CI] per GAN
    assert (out / "config.yaml").is_file() and (out / "dcgan" / "metrics.json").is_file()
    # the real side was done once, in setup: both models' evaluations read it from the cache
    assert '<td class="name">real side</td>' in html
    for name in ("stylegan2", "dcgan"):
        metrics = json.loads((out / name / "metrics.json").read_text())
        assert "cached" in metrics["domain_encoder_info"], name

    studies = list_studies(out / "vtt.sqlite")
    assert len(studies) == 1 and studies[0]["raters"] == 1 and studies[0]["n_items"] == 12
    assert f"brainsynth vtt serve --db {out / 'vtt.sqlite'}" in printed
    assert re.search(r"http://127\.0\.0\.1:8000/r/[\w-]{40,}", printed)


def test_budgets_are_fixed_up_front_with_a_capped_evaluation_share() -> None:
    from brainsynth.demo.config import TRAIN_OVERHEAD_S

    train, evaluation = training_budgets(DemoConfig(minutes=9, setup_s=60))
    # 480 s after setup: evaluation 0.25 * 480 / 2 = 60 s per model, capped at 45 s (the real
    # side was done in setup), training (480 - 90) / 2 = 195 s per model, less its overhead.
    assert (train, evaluation) == (195.0 - TRAIN_OVERHEAD_S, 45.0)
    train, evaluation = training_budgets(DemoConfig(minutes=3, setup_s=60))
    assert evaluation == 0.25 * 120 / 2  # the share, under the cap
    assert train == (120 - 30) / 2 - TRAIN_OVERHEAD_S
    train, evaluation = training_budgets(DemoConfig(minutes=30, setup_s=60))
    assert evaluation == 45.0 and train == (1740 - 90) / 2 - TRAIN_OVERHEAD_S  # the rest


def test_demo_refuses_a_non_positive_budget(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--minutes", "0"]) == 2
    assert "--minutes must be positive" in capsys.readouterr().err


def test_the_demo_refuses_a_folder_of_the_users_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 11: the demo writes only into a new, empty or earlier demo folder.
    folder = tmp_path / "mine"
    (folder / "phantom").mkdir(parents=True)
    (folder / "phantom" / "my-scan.nii.gz").write_bytes(b"not the demo's")
    assert main(["demo", "--out", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "holds files 'brainsynth demo' did not write (phantom)" in err and "--overwrite" in err
    assert [p.name for p in folder.rglob("*")] == ["phantom", "my-scan.nii.gz"]


def test_a_busy_machine_evaluates_fewer_images_and_says_so() -> None:
    """Issue 27: the evaluation is planned to fit its reserved time; on a machine 4x slower
    than a quiet one the demo's evaluation would overrun 40 s, so fewer synthetic images are
    evaluated (never fewer than 200), with a note; the real images stay (their side was
    cached during setup); on a quiet machine nothing is cut."""
    from brainsynth.demo.config import MIN_EVAL_IMAGES, plan_evaluation
    from brainsynth.metrics import families

    evaluation = DemoConfig().evaluation
    quiet, note = plan_evaluation(evaluation, 2240, 512, 64, 40.0, 1.0)
    assert note == "" and (quiet.max_real, quiet.max_fake) == (500, 512)
    assert quiet.budget_s == 40.0 and quiet.slowdown == 1.0
    busy, note = plan_evaluation(evaluation, 2240, 512, 64, 40.0, 4.0)
    assert busy.max_real == 500 and MIN_EVAL_IMAGES <= busy.max_fake < 512
    assert "to fit 40 s on a machine 4.0x slower than a quiet one" in note
    # the planned work fits: each model's own cost, scaled by the balanced images
    own = sum(m.cost(evaluation) for m in families.registered().values()
              if m.name in evaluation.metrics and m.needs <= {"images"})  # fmt: skip
    assert own * busy.max_fake / 1000 * 4.0 <= 40.0 + 1e-9 or busy.max_fake == MIN_EVAL_IMAGES


def test_a_late_start_shortens_the_next_training_not_the_demo() -> None:
    """Issue 27: setup or a training that overran is paid by the next model's training, so
    the demo still ends within its minutes."""
    from brainsynth.demo.config import REPORT_S, next_training_budget

    # setup done in 20 s: the planned 174 s ((520 - 15 - 2 x 58) / 2 - 10 = 184.5 would fit)
    assert next_training_budget(174, 520, 58, 2, 10, 20) == 174
    # setup took 100 s instead of 75 and the first model overran by 20 s: 540 - 100 - 194 - 58
    # = 188 s left for one model: 188 - 15 - 58 - 20 = 95 s of training
    assert next_training_budget(174, 188, 58, 1, 20, 20) == 188 - REPORT_S - 58 - 20
    assert next_training_budget(174, 10, 58, 1, 20, 20) == 20  # never below the minimum
