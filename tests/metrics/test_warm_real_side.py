"""The real images' side of an evaluation (controls, domain encoder, features) done once per
prepared set: ahead with warm_real_side, then read by every model's evaluation (issue 27)."""

from __future__ import annotations

import pytest

from blobs import blob_dataset
from brainsynth.data.dataset import load_prepared
from brainsynth.errors import BrainsynthError
from brainsynth.metrics import c2st, domain
from brainsynth.metrics.evaluate import EvalConfig, evaluate, warm_real_side

FAMILIES = ["c2st", "detectability", "distances", "diversity", "knn"]


def small_config(prepared=None, **overrides) -> EvalConfig:
    settings = dict(metrics=FAMILIES, n_bootstrap=20, ms_ssim_pairs=20, c2st_max_epochs=3,
                    c2st_control_repeats=2, detectability_sizes=[4], detectability_max_epochs=2,
                    domain_epochs=1, threads=1, prepared=prepared)  # fmt: skip
    return EvalConfig(**{**settings, **overrides})


def counted(monkeypatch, module, name: str) -> list[int]:
    """Count the calls of ``module.name`` (still calling it)."""
    calls: list[int] = []
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


@pytest.fixture
def sets(tmp_path):
    real = blob_dataset(tmp_path / "real", patients=12, slices=4, size=16, seed=0)
    fake = load_prepared(blob_dataset(tmp_path / "fake", patients=12, slices=4, size=16, seed=1))
    return real, load_prepared(real).image_set("t1"), fake.image_set("t1").float_images()


def test_a_warmed_prepared_set_trains_no_control_or_encoder_again(sets, monkeypatch):
    real_dir, real, fake = sets
    seconds = warm_real_side(real, small_config(real_dir), progress=False)
    assert set(seconds) == {"c2st", "detectability", "distances", "diversity"}

    cnns = counted(monkeypatch, c2st, "cnn_c2st")
    curves = counted(monkeypatch, c2st, "train_classifier")
    encoders = counted(monkeypatch, domain, "train_domain_encoder")
    warm = evaluate(real, fake, small_config(real_dir), progress=False)
    # only the real-vs-synthetic test and its one curve point (size 4) are trained
    assert (len(cnns), len(curves), len(encoders)) == (1, 2, 0)
    assert set(warm["real_side_s"]) == {"c2st", "detectability", "distances", "diversity"}

    monkeypatch.undo()
    cold = evaluate(real, fake, small_config(None), progress=False)  # no cache at all
    for key in ("c2st_accuracy", "c2st_control_accuracy", "c2st_gap", "detectability",
                "detectability_control", "fid", "fid_domain", "ms_ssim_real"):  # fmt: skip
        assert warm[key] == pytest.approx(cold[key], rel=1e-9, abs=1e-12), key


def test_without_a_cache_the_real_side_is_still_computed_once(sets, monkeypatch):
    _, real, fake = sets
    cnns = counted(monkeypatch, c2st, "cnn_c2st")
    encoders = counted(monkeypatch, domain, "train_domain_encoder")
    metrics = evaluate(real, fake, small_config(None), progress=False)
    assert (len(cnns), len(encoders)) == (1 + 2, 1)  # main + two controls, one encoder
    assert metrics["c2st_control_repeats"] == 2


def test_a_warm_cache_frees_the_budget_a_cold_one_needs(sets):
    """Distances cost 4 reference s with the real side cached, 14 without (the domain encoder):
    at a slowdown making those 12 and 42 wall s here, a 30 s budget runs them only warm."""
    real_dir, real, fake = sets
    budgeted = dict(metrics=["knn", "distances"], budget_s=30.0, slowdown=1000.0)
    cold = evaluate(real, fake, small_config(None, **budgeted), progress=False)
    assert set(cold["skipped"]) == {"distances"} and cold["fid"] is None
    warm_real_side(real, small_config(real_dir, metrics=["knn", "distances"]), progress=False)
    warm = evaluate(real, fake, small_config(real_dir, **budgeted), progress=False)
    assert "skipped" not in warm and warm["fid_domain"] is not None


def test_warming_needs_a_prepared_folder_it_can_write(sets):
    _, real, _ = sets
    with pytest.raises(BrainsynthError, match="nothing to warm: no cache"):
        warm_real_side(real, small_config(None), progress=False)


def test_a_damaged_cached_encoder_is_trained_anew(sets, monkeypatch):
    """A cache entry that does not load (truncated, foreign) costs a retraining, not the
    evaluation: the domain encoder is trained again and the figures are those of a fresh one."""
    real_dir, real, fake = sets
    config = small_config(real_dir, metrics=["distances"])
    first = evaluate(real, fake, config, progress=False)
    entries = list((real_dir / "evaluate-cache").glob("domain_encoder-*.pt"))
    assert len(entries) == 1
    entries[0].write_bytes(entries[0].read_bytes()[:100])
    encoders = counted(monkeypatch, domain, "train_domain_encoder")
    again = evaluate(real, fake, config, progress=False)
    assert len(encoders) == 1 and "cached" not in again["domain_encoder_info"]
    assert again["fid_domain"] == pytest.approx(first["fid_domain"], rel=1e-9)
