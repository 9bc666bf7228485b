"""The report's statistics: AUC, cluster bootstrap, interval coverage, every JSON key."""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from brainsynth.augment_eval.config import ARMS, AugmentEvalConfig
from brainsynth.augment_eval.experiment import ExperimentResult
from brainsynth.augment_eval.report import METRICS, markdown, summarise
from brainsynth.augment_eval.splits import PatientSplit
from brainsynth.metrics.stats import bootstrap_p_value, cluster_bootstrap_indices, roc_auc


def test_auc_is_the_mann_whitney_probability():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    scores = rng.normal(labels * 0.7, 1.0).round(1)  # with ties
    u = sps.mannwhitneyu(scores[labels == 1], scores[labels == 0]).statistic
    assert roc_auc(scores, labels) == u / (labels.sum() * (1 - labels).sum())
    assert np.isnan(roc_auc(scores[:3], np.ones(3)))


def test_cluster_bootstrap_draws_whole_patients():
    clusters = np.repeat(np.array(["a", "b", "c", "d"]), [3, 5, 2, 4])
    for index in cluster_bootstrap_indices(clusters, n_boot=50, seed=1):
        drawn = clusters[index]
        for name in set(drawn):
            assert (drawn == name).sum() % (clusters == name).sum() == 0
        assert len(set(index)) <= len(index)


def fake_result(
    rng: np.random.Generator, patients: int, slices: int, effect: float, repeats: int = 1
) -> tuple[ExperimentResult, AugmentEvalConfig]:
    """Scores of N(effect * label, 1) for 'real+synthetic' and N(0, 1) (chance) for the rest."""
    labels = rng.integers(0, 2, patients * slices)
    names = np.repeat([f"P{i}" for i in range(patients)], slices)
    config = AugmentEvalConfig(
        data="toy", fractions=(1.0,), repeats=repeats, n_boot=300, seed=int(rng.integers(1e6))
    )
    result = ExperimentResult(PatientSplit(("t",), ("v",), tuple(set(names))), [], labels, names)
    for arm in ARMS:
        for r in range(repeats):
            shift = effect * labels if arm == "real+synthetic" else 0.0
            result.scores[(arm, 1.0, r)] = rng.normal(shift, 1.0, size=len(labels))
            result.thresholds[(arm, 1.0, r)] = effect / 2 if arm == "real+synthetic" else 0.0
            result.counts[(arm, 1.0, r)] = {"real": 10, "synthetic": 10, "patients": 2}
    return result, config


def test_intervals_cover_a_known_auc_and_detect_a_known_difference():
    """Scores N(1.5 * label, 1) have AUC Phi(1.5 / sqrt 2) = 0.856 and sensitivity =
    specificity = Phi(0.75) = 0.773 at threshold 0.75; chance arms have AUC 0.5. Over 40
    independent data sets the 95% intervals must cover the truth at least 33 times each
    (P(X <= 32) = 0.003 for X ~ Binomial(40, 0.95), and < 0.05 even at a true coverage of
    0.90), and the paired AUC difference with a chance arm (0.356, six standard errors at 30
    patients x 10 slices) must exclude 0 every time."""
    rng = np.random.default_rng(0)
    truth = {
        "auc": sps.norm.cdf(1.5 / np.sqrt(2)),
        "sensitivity": sps.norm.cdf(0.75),
        "specificity": sps.norm.cdf(0.75),
    }
    covered = dict.fromkeys(METRICS, 0)
    chance_covered = 0
    for _ in range(40):
        result, config = fake_result(rng, patients=30, slices=10, effect=1.5)
        arms = summarise(result, config)["arms"]
        for m in METRICS:
            low, high = arms["real+synthetic"]["1"][f"{m}_ci95"]
            covered[m] += low <= truth[m] <= high
        low, high = arms["real"]["1"]["auc_ci95"]
        chance_covered += low <= 0.5 <= high
        assert arms["real+synthetic"]["1"]["vs_real"]["auc"]["difference_ci95"][0] > 0
    assert min(covered.values()) >= 33, covered
    assert chance_covered >= 33


def test_summary_has_every_key_for_every_arm_and_fraction():
    result, config = fake_result(np.random.default_rng(1), 6, 5, effect=1.0, repeats=2)
    summary = summarise(result, config)
    for arm in ARMS:
        entry = summary["arms"][arm]["1"]
        for m in METRICS:
            assert np.isfinite(entry[m]) and len(entry[f"{m}_ci95"]) == 2
            assert len(entry[f"{m}_repeats"]) == 2
            if arm != "real":
                assert set(entry["vs_real"][m]) == {"difference", "difference_ci95", "p_value"}
    assert "| real+classic+synthetic |" in markdown(summary)


def test_bootstrap_p_value_is_small_only_for_one_sided_differences():
    assert bootstrap_p_value(np.full(999, 0.1)) == 2 / 1000
    assert bootstrap_p_value(np.linspace(-1, 1, 1001)) == 1.0


def test_dice_chart_is_drawn_by_the_one_plotting_module(tmp_path, monkeypatch):
    """augment-dice.png goes through metrics.plots.line_chart: one line per arm at its
    training patients, every point with its interval, a log axis from a factor of 4 on."""
    from brainsynth.augment_eval import plot

    def entry(patients: int, dice: float) -> dict:
        return {"patients": patients, "dice": dice, "dice_ci95": [dice / 2, dice + 0.25]}

    summary = {
        "arms": {
            "real": {"8": entry(8, 0.6), "2": entry(2, 0.3)},
            "real+classic": {"2": entry(2, 0.35), "8": entry(8, 0.65)},
        }
    }
    drawn = {}
    real_chart = plot.line_chart

    def spy(series, xlabel, ylabel, path, **kwargs):
        drawn.update(series=series, xlabel=xlabel, kwargs=kwargs)
        return real_chart(series, xlabel, ylabel, path, **kwargs)

    monkeypatch.setattr(plot, "line_chart", spy)
    path = plot.dice_plot(summary, tmp_path / "augment-dice.png")
    assert path.name == "augment-dice.png" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [s.label for s in drawn["series"]] == ["real", "real+classic"]
    assert [list(s.x) for s in drawn["series"]] == [[2, 8], [2, 8]]
    assert list(drawn["series"][0].y) == [0.3, 0.6]
    assert [list(ci) for ci in drawn["series"][0].intervals] == [[0.15, 0.55], [0.3, 0.85]]
    assert drawn["kwargs"]["logx"] and "log scale" in drawn["xlabel"]
