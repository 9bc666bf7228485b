"""An evaluation with a time budget skips the families that would overrun it, and says so."""

from __future__ import annotations

from brainsynth.metrics.budget import Budget, work_scale
from brainsynth.metrics.evaluate import EvalConfig, evaluate


def test_families_that_would_overrun_are_skipped_with_a_reason(phantom_t1):
    fake = phantom_t1.float_images()[:60]
    config = EvalConfig(metrics=["memorization", "diversity", "diagnostics"], n_bootstrap=20,
                        ms_ssim_pairs=20, budget_s=0.001)  # fmt: skip
    metrics = evaluate(phantom_t1, fake, config, progress=False)
    assert metrics["ms_ssim_fake"] is not None  # the first family (in order) always runs
    assert list(metrics["timings_s"]) == ["diversity", "features"]
    assert set(metrics["skipped"]) == {"memorization", "diagnostics"}
    assert "of the evaluation's 0 s budget were left" in metrics["skipped"]["memorization"]
    unlimited = evaluate(phantom_t1, fake, EvalConfig(metrics=["memorization", "diversity"],
                         n_bootstrap=20, ms_ssim_pairs=20), progress=False)  # fmt: skip
    assert "skipped" not in unlimited and unlimited["ms_ssim_fake"] is not None


def test_estimates_scale_with_the_work_and_the_slowness_seen():
    budget = Budget(100.0, scale=work_scale(500, 500, 64), slowdown=2.0)
    assert budget.estimate(10.0) == 10.0  # half the images, twice as slow
    assert budget.refuse("x", 10.0) is None  # nothing has run: the first family always runs
    budget.record(10.0)
    assert budget.refuse("y", 1000.0).startswith("skipped: y needs about")
