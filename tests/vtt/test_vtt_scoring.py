"""Scoring and statistics checked against scipy, scikit-learn and hand computation."""

from __future__ import annotations

import math

import pytest
from scipy.stats import binomtest
from sklearn.metrics import cohen_kappa_score

from brainsynth.metrics.stats import binomial_p_value
from brainsynth.metrics.stats import wilson as wilson_interval
from brainsynth.vtt.scoring import agreement, cohen_kappa, fleiss_kappa, summarize


@pytest.mark.parametrize(("k", "n"), [(70, 100), (50, 100), (0, 10), (10, 10), (3, 7), (54, 100)])
def test_binomial_p_value_matches_scipy(k: int, n: int) -> None:
    assert binomial_p_value(k, n) == pytest.approx(binomtest(k, n, 0.5).pvalue, rel=1e-12)


@pytest.mark.parametrize(("k", "n"), [(70, 100), (1, 20), (0, 8), (8, 8), (33, 61)])
def test_wilson_interval_matches_scipy(k: int, n: int) -> None:
    expected = binomtest(k, n, 0.5).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson_interval(k, n)
    assert low == pytest.approx(expected.low, abs=1e-9)
    assert high == pytest.approx(expected.high, abs=1e-9)


def test_wilson_interval_by_hand() -> None:
    # 7 of 10, z = 1.96: centre (0.7 + 0.192) / 1.384, half 1.96 * sqrt(0.021 + 0.009604) / 1.384
    z = 1.959963984540054
    centre = (0.7 + z * z / 20) / (1 + z * z / 10)
    half = z * math.sqrt(0.7 * 0.3 / 10 + z * z / 400) / (1 + z * z / 10)
    assert wilson_interval(7, 10) == pytest.approx((centre - half, centre + half))


def test_cohen_kappa_by_hand_and_sklearn() -> None:
    a = ["real"] * 20 + ["synthetic"] * 30 + ["real"] * 5 + ["synthetic"] * 45
    b = ["real"] * 20 + ["synthetic"] * 30 + ["synthetic"] * 5 + ["real"] * 10 + ["synthetic"] * 35
    # Observed agreement 20 + 30 + 35 = 85 / 100; a says real 25 times, b 30 times:
    # p_e = 0.25 * 0.30 + 0.75 * 0.70 = 0.6, kappa = (0.85 - 0.6) / 0.4 = 0.625.
    assert cohen_kappa(a, b) == pytest.approx(0.625)
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))


def test_fleiss_kappa_wikipedia_example() -> None:
    # Fleiss (1971) worked example from Wikipedia: 10 subjects, 14 raters, 5 categories.
    table = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    assert fleiss_kappa(table) == pytest.approx(0.20993, abs=1e-4)


def test_fleiss_kappa_with_two_raters_is_scotts_pi() -> None:
    a = ["real", "real", "synthetic", "synthetic", "real", "synthetic"]
    b = ["real", "synthetic", "synthetic", "synthetic", "real", "real"]
    table = [
        [(x == "real") + (y == "real"), (x != "real") + (y != "real")]
        for x, y in zip(a, b, strict=True)
    ]
    # Scott's pi: p_o = 4/6, pooled real share 6/12 -> p_e = 0.5, pi = (4/6 - 0.5) / 0.5 = 1/3.
    assert fleiss_kappa(table) == pytest.approx(1 / 3)


TABLE1_T1_DCGAN = (
    [("real", "real")] * 26
    + [("real", "synthetic")] * 24
    + [("synthetic", "real")] * 6
    + [("synthetic", "synthetic")] * 44
)
"""Table 1, T1 (DCGAN, 128x128): 26 / 24 / 6 / 44, accuracy 70 %."""


def _answers(rater: str, pairs: list[tuple[str, str]]) -> list[dict]:
    return [
        {"rater": rater, "item": i, "truth": t, "answer": a, "response_ms": 1000 + 100 * i}
        for i, (t, a) in enumerate(pairs)
    ]


def test_summarize_reproduces_a_table1_row() -> None:
    # Table 1, T1 (DCGAN, 128x128): 26 / 24 / 6 / 44 -> 70 %.
    row = summarize(_answers("dr", TABLE1_T1_DCGAN))
    assert row["accuracy"] == pytest.approx(0.70)
    assert (row["real_as_real"], row["real_as_synthetic"]) == (26, 24)
    assert (row["synthetic_as_real"], row["synthetic_as_synthetic"]) == (6, 44)
    assert row["n"] == 100
    assert row["p_value"] == pytest.approx(binomtest(70, 100).pvalue)
    ci = binomtest(70, 100).proportion_ci(method="wilson")
    assert row["wilson_ci"] == pytest.approx([ci.low, ci.high])
    assert row["median_response_s"] == pytest.approx((1000 + 100 * 49.5) / 1000)


def test_summarize_empty_has_no_statistics() -> None:
    row = summarize([])
    assert row["n"] == 0 and row["accuracy"] is None and row["p_value"] is None


def test_agreement_picks_cohen_for_two_and_fleiss_for_three() -> None:
    truths = ["real", "synthetic"] * 5
    labels = {
        "a": ["real"] * 6 + ["synthetic"] * 4,
        "b": ["real"] * 4 + ["synthetic"] * 6,
        "c": ["synthetic", "real"] * 5,
    }
    rows = {r: _answers(r, list(zip(truths, v, strict=True))) for r, v in labels.items()}
    kappa, method = agreement(rows["a"] + rows["b"])
    assert method == "cohen"
    assert kappa == pytest.approx(cohen_kappa_score(labels["a"], labels["b"]))
    kappa3, method3 = agreement(rows["a"] + rows["b"] + rows["c"])
    assert method3 == "fleiss"
    table = [
        [sum(labels[r][i] == c for r in labels) for c in ("real", "synthetic")] for i in range(10)
    ]
    assert kappa3 == pytest.approx(fleiss_kappa(table))
    assert agreement(rows["a"]) == (None, None)


def test_table_shows_percent_like_table1() -> None:
    from brainsynth.vtt.export import format_table

    row = summarize(_answers("dr", TABLE1_T1_DCGAN))
    study = {
        "name": "T1 (DCGAN, 128x128)",
        **row,
        "kappa": None,
        "kappa_method": None,
        "raters": [{"name": "dr", **row}],
    }
    lines = format_table([study]).splitlines()
    assert "Accuracy (%)" in lines[0] and "Real as Synt" in lines[0]
    pooled = lines[2].split()
    assert pooled[5:10] == ["70.0", "26", "24", "6", "44"]
    assert "60.4–78.1" in lines[2]  # Wilson 95 % interval of 70 / 100, in percent
