"""The metric registry: one file per family, and the keys of 0.3.0's ``metrics.json`` kept."""

from __future__ import annotations

import json

import pytest

from blobs import blob_dataset, tiny_eval_config
from brainsynth.data.dataset import load_prepared
from brainsynth.metrics import families
from brainsynth.metrics.evaluate import (
    EvalConfig,
    evaluate,
    format_summary,
    metric_descriptions,
    output_files,
)

KEYS_030: tuple[str, ...] = (
    "black_fraction_fake",
    "black_fraction_fake_ci95",
    "black_fraction_real",
    "black_fraction_real_ci95",
    "brain_mask_area_share",
    "c2st_accuracy",
    "c2st_background_area_share",
    "c2st_best_epoch",
    "c2st_ci95",
    "c2st_control_accuracy",
    "c2st_control_accuracy_ci95",
    "c2st_control_converged",
    "c2st_control_epochs",
    "c2st_control_n_test",
    "c2st_control_p_value",
    "c2st_control_repeats",
    "c2st_converged",
    "c2st_epochs",
    "c2st_gap",
    "c2st_gap_ci95",
    "c2st_knn_accuracy",
    "c2st_knn_accuracy_ci95",
    "c2st_knn_control_accuracy",
    "c2st_knn_control_accuracy_ci95",
    "c2st_knn_feature_space",
    "c2st_knn_gap",
    "c2st_knn_k",
    "c2st_knn_n",
    "c2st_knn_n_reference",
    "c2st_knn_p_value",
    "c2st_n_test",
    "c2st_n_train",
    "c2st_n_val",
    "c2st_p_value",
    "c2st_saliency_background_share",
    "c2st_saliency_montage",
    "collapse_suspected",
    "coverage",
    "coverage_ci95",
    "density",
    "density_ci95",
    "density_coverage_k",
    "detectability",
    "detectability_ci95",
    "detectability_control",
    "detectability_control_ci95",
    "detectability_control_curve",
    "detectability_curve",
    "detectability_figure",
    "detectability_n75",
    "detectability_n_test",
    "detectability_n_val",
    "domain_encoder",
    "domain_encoder_info",
    "eval_config",
    "fake_subset",
    "feature_spaces",
    "fid",
    "fid_ci95",
    "fid_domain",
    "fid_domain_ci95",
    "fid_domain_feature_space",
    "fid_feature_space",
    "histogram_distance",
    "histogram_distance_ci95",
    "image_size",
    "inception_note",
    "intensity_emd_background",
    "intensity_emd_background_ci95",
    "intensity_emd_brain",
    "intensity_emd_brain_ci95",
    "intensity_figure",
    "kid",
    "kid_ci95",
    "kid_domain",
    "kid_domain_ci95",
    "kid_domain_feature_space",
    "kid_domain_std",
    "kid_feature_space",
    "kid_std",
    "memorization_distance",
    "memorization_montage",
    "memorization_nn_ratio_median",
    "memorization_percentile",
    "memorization_threshold",
    "memorized_fraction",
    "memorized_fraction_ci95",
    "memorized_fraction_features",
    "memorized_fraction_features_ci95",
    "ms_ssim_excess",
    "ms_ssim_fake",
    "ms_ssim_fake_ci95",
    "ms_ssim_pairs",
    "ms_ssim_real",
    "ms_ssim_real_ci95",
    "ms_ssim_scales",
    "ms_ssim_window",
    "n_fake",
    "n_fake_available",
    "n_features",
    "n_features_domain",
    "n_real",
    "n_real_available",
    "n_real_patients",
    "prdc_feature_space",
    "precision",
    "precision_ci95",
    "precision_recall_k",
    "real_subset",
    "recall",
    "recall_ci95",
    "seed",
    "sequence",
    "spectrum_distance",
    "spectrum_distance_ci95",
    "spectrum_fake",
    "spectrum_figure",
    "spectrum_high_freq_ratio",
    "spectrum_high_freq_ratio_ci95",
    "spectrum_real",
    "timings_s",
)
"""Every key of the metrics.json brainsynth 0.3.0 (main at 69f780e) wrote with the default
metrics and features and an output folder, frozen from its own output."""


@pytest.fixture(scope="module")
def default_metrics(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("keys")
    real = load_prepared(blob_dataset(tmp / "r", patients=12, slices=6, size=16, seed=0))
    fake = load_prepared(blob_dataset(tmp / "f", patients=12, slices=6, size=16, seed=1))
    out = tmp / "out"
    metrics = evaluate(
        real.image_set("t1"), fake.image_set("t1").float_images(), tiny_eval_config(),
        out_dir=out, progress=False,
    )  # fmt: skip
    return metrics, out


def test_every_key_of_030_is_still_written(default_metrics):
    metrics, _ = default_metrics
    assert sorted(set(KEYS_030) - set(metrics)) == []


def test_every_key_is_described_and_every_file_declared(default_metrics):
    metrics, out = default_metrics
    assert sorted(set(metrics) - set(metric_descriptions())) == []
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(output_files(tiny_eval_config()))
    json.dumps(metrics, allow_nan=False)
    summary = format_summary(metrics)
    for line in ("C2ST (CNN)", "detectability", "kNN C2ST", "Fréchet", "precision", "MS-SSIM",
                 "memorised", "why detected"):  # fmt: skip
        assert line in summary


def test_the_registry_finds_every_family_file_and_its_order():
    names = list(families.registered())
    assert names[:3] == ["c2st", "detectability", "knn"]
    assert set(names) >= {"distances", "prdc", "diversity", "memorization", "diagnostics"}
    assert EvalConfig().metrics == families.default_names()
    keys = [h.key for h in families.headlines()]
    assert keys[0] == "detectability" and len(keys) == len(set(keys))
    for metric in families.registered().values():
        assert metric.summary({}) == [], metric.name  # nothing printed for a family not run


def test_the_model_card_table_reads_the_registry():
    from brainsynth.export.metrics_table import metrics_rows

    rows = metrics_rows(
        {
            "c2st_accuracy": 0.9, "c2st_ci95": [0.85, 0.94], "detectability": 0.5,
            "detectability_ci95": [0.4, 0.6], "sharpness_ratio": 0.8,
            "sharpness_ratio_ci95": [0.7, 0.9], "new_measure": 1.5, "new_measure_ci95": [1, 2],
            "collapse_suspected": False,
        }
    )  # fmt: skip
    names = [name for name, _, _ in rows]
    assert names[0].startswith("Detectability") and names[1].startswith("C2ST accuracy")
    assert "Sharpness, synthetic / real (Laplacian variance)" in names
    assert names[-1] == "new\\_measure"  # a key from the file, Markdown-escaped
    assert rows[1][2] == "[0.85, 0.94]"
