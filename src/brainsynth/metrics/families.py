"""One function per metric family: data in, flat JSON-ready metrics out (used by evaluate)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from brainsynth.metrics import c2st, diversity, features, frechet, memorization, prdc, stats
from brainsynth.metrics.evaldata import EvalData, _ci, _settings

__all__ = ["FAMILIES", "MONTAGE_FILES", "EvalData", "split_patients_in_halves"]

MONTAGE_FILES: dict[str, str] = {
    "c2st": "c2st_saliency.png",
    "memorization": "memorization_closest_pairs.png",
}
"""The montage each metric family writes into the output folder (beside the metrics JSON)."""


def split_patients_in_halves(groups: np.ndarray, seed: int) -> np.ndarray:
    """Boolean mask of half A: patients shuffled and dealt to the half with fewer images."""
    unique, counts = np.unique(groups, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(unique))
    in_a, size_a, size_b = set(), 0, 0
    for g in order:
        if size_a <= size_b:
            in_a.add(unique[g])
            size_a += counts[g]
        else:
            size_b += counts[g]
    return np.isin(groups, list(in_a))


def c2st_family(data: EvalData) -> dict[str, Any]:
    """CNN C2ST of real vs synthetic, the real-vs-real control, their gap and the saliency."""
    cfg, settings = data.config, _settings(data.config)
    main = c2st.cnn_c2st(
        data.real, data.real_groups, data.fake, data.fake_groups, settings, cfg.seed
    )
    out: dict[str, Any] = {
        "c2st_accuracy": main["accuracy"],
        "c2st_p_value": main["p_value"],
        "c2st_ci95": main["ci95"],
        "c2st_n_train": main["n_train"],
        "c2st_n_val": main["n_val"],
        "c2st_n_test": main["n_test"],
        "c2st_epochs": main["training"]["epochs"],
        "c2st_best_epoch": main["training"]["best_epoch"],
        "c2st_converged": main["training"]["converged"],
    }
    background = data.real.mean(axis=0)[0] < 0.02
    sal = c2st.saliency_summary(
        main, background, data.path(MONTAGE_FILES["c2st"]), cfg.montage_count
    )
    out["c2st_saliency_background_share"] = sal["saliency_background_share"]
    out["c2st_background_area_share"] = sal["background_area_share"]
    out["c2st_saliency_montage"] = sal.get("montage")
    controls = []
    for repeat in range(cfg.c2st_control_repeats):
        half_a = split_patients_in_halves(data.real_groups, cfg.seed + 100 * repeat)
        if min(len(np.unique(data.real_groups[m])) for m in (half_a, ~half_a)) < 3:
            out["c2st_control_note"] = "not run: the control needs at least 6 real patients"
            return out
        controls.append(
            c2st.cnn_c2st(
                data.real[half_a],
                data.real_groups[half_a],
                data.real[~half_a],
                data.real_groups[~half_a],
                settings,
                cfg.seed + 100 * repeat + 1,
            )
        )
    control_correct = np.concatenate([c["correct"] for c in controls])
    k, n = int(control_correct.sum()), len(control_correct)
    rng = np.random.default_rng(cfg.seed + 2)
    gaps = [
        rng.choice(main["correct"], len(main["correct"])).mean()
        - rng.choice(control_correct, n).mean()
        for _ in range(cfg.n_bootstrap)
    ]
    out.update(
        {
            "c2st_control_accuracy": k / n,
            "c2st_control_p_value": stats.binomial_p_value(k, n),
            "c2st_control_accuracy_ci95": list(stats.clopper_pearson(k, n)),
            "c2st_control_n_test": n,
            "c2st_control_repeats": len(controls),
            "c2st_control_epochs": [c["training"]["epochs"] for c in controls],
            "c2st_control_converged": all(c["training"]["converged"] for c in controls),
            "c2st_gap": main["accuracy"] - k / n,
            "c2st_gap_ci95": [float(np.percentile(gaps, 2.5)), float(np.percentile(gaps, 97.5))],
        }
    )
    return out


def knn_family(data: EvalData) -> dict[str, Any]:
    """Pixel-space kNN C2ST (same-patient neighbours excluded) and its real-vs-real control."""
    cfg = data.config
    main = c2st.knn_c2st(
        data.real, data.real_groups, data.fake, data.fake_groups, cfg.knn_k, cfg.seed,
        device=cfg.device,
    )  # fmt: skip
    out: dict[str, Any] = {
        "c2st_knn_accuracy": main["accuracy"],
        "c2st_knn_p_value": main["p_value"],
        "c2st_knn_accuracy_ci95": main["ci95"],
        "c2st_knn_n": main["n"],
        "c2st_knn_n_reference": main["n_reference"],
        "c2st_knn_k": cfg.knn_k,
        "c2st_knn_feature_space": "pixels (Euclidean)",
    }
    half_a = split_patients_in_halves(data.real_groups, cfg.seed)
    if min(len(np.unique(data.real_groups[m])) for m in (half_a, ~half_a)) < 3:
        out["c2st_knn_control_note"] = "not run: the control needs at least 6 real patients"
        return out
    control = c2st.knn_c2st(
        data.real[half_a],
        data.real_groups[half_a],
        data.real[~half_a],
        data.real_groups[~half_a],
        cfg.knn_k,
        cfg.seed,
        device=cfg.device,
    )
    out["c2st_knn_control_accuracy"] = control["accuracy"]
    out["c2st_knn_control_accuracy_ci95"] = control["ci95"]
    out["c2st_knn_gap"] = main["accuracy"] - control["accuracy"]
    return out


def _kid_bootstrap(real: np.ndarray, fake: np.ndarray, n_boot: int, seed: int) -> list[float]:
    """Bootstrap interval of the full-set unbiased KID.

    A resample is a vector of multiplicities c; within-set kernel sums skip pairs of one
    original item (c'Kc - sum c_i^2 K_ii over (sum c)^2 - sum c_i^2 pairs), so duplicates
    do not inflate the estimate, and each resample costs only matrix-vector products.
    """
    nr, nf = len(real), len(fake)
    d = real.shape[1]
    kxx, kyy = (real @ real.T / d + 1) ** 3, (fake @ fake.T / d + 1) ** 3
    kxy = (real @ fake.T / d + 1) ** 3
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        cr = np.bincount(rng.integers(0, nr, nr), minlength=nr).astype(np.float64)
        cf = np.bincount(rng.integers(0, nf, nf), minlength=nf).astype(np.float64)
        sxx = (cr @ kxx @ cr - (cr**2 * np.diag(kxx)).sum()) / (nr**2 - (cr**2).sum())
        syy = (cf @ kyy @ cf - (cf**2 * np.diag(kyy)).sum()) / (nf**2 - (cf**2).sum())
        values.append(sxx + syy - 2 * (cr @ kxy @ cf) / (nr * nf))
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def _distances(real: np.ndarray, fake: np.ndarray, cfg: Any, space: str, suffix: str) -> dict:
    fid = frechet.fid_from_features(real, fake)
    kid, kid_std, _ = frechet.kid(real, fake, cfg.kid_subset_size, cfg.kid_subsets, cfg.seed)
    fid_ci = stats.bootstrap_ci(
        frechet.fid_from_features, [real, fake], cfg.n_bootstrap, cfg.seed, estimate=fid
    )
    return {
        f"fid{suffix}": fid,
        f"fid{suffix}_ci95": list(fid_ci),
        f"fid{suffix}_feature_space": space,
        f"kid{suffix}": kid,
        f"kid{suffix}_std": kid_std,
        f"kid{suffix}_ci95": _kid_bootstrap(real, fake, cfg.n_bootstrap, cfg.seed),
        f"kid{suffix}_feature_space": space,
    }


def distances_family(data: EvalData) -> dict[str, Any]:
    """Fréchet distance and KID in each requested feature space (handcrafted keys unsuffixed)."""
    from brainsynth.metrics import spaces

    cfg = data.config
    out: dict[str, Any] = {"feature_spaces": spaces.check_features(list(cfg.features))}
    for name, (real_f, fake_f, description) in spaces.feature_spaces(data).items():
        out.update(_distances(real_f, fake_f, cfg, description, spaces.SUFFIX[name]))
        out[f"n_features{spaces.SUFFIX[name]}"] = int(real_f.shape[1])
    if "inception" not in cfg.features:
        out["inception_note"] = "not requested (add inception to --features; slow on CPU)"
    out.update(data.notes)
    return out


def prdc_family(data: EvalData) -> dict[str, Any]:
    """Precision/recall and density/coverage on the handcrafted features."""
    cfg = data.config
    real_f, fake_f = data.features()
    flags = prdc.prdc(real_f, data.real_groups, fake_f, data.fake_groups, cfg.pr_k, cfg.dc_k)
    out: dict[str, Any] = {}
    for offset, (key, values) in enumerate(flags.items()):
        out[key] = float(values.mean())
        out[f"{key}_ci95"] = _ci(values, data, offset)
    out.update(
        {
            "prdc_feature_space": features.HANDCRAFTED_SPACE,
            "precision_recall_k": cfg.pr_k,
            "density_coverage_k": cfg.dc_k,
        }
    )
    return out


def diversity_family(data: EvalData) -> dict[str, Any]:
    """Mean pairwise MS-SSIM within each set, histogram distance and the collapse flag."""
    cfg = data.config
    real_scores = diversity.pairwise_ms_ssim(
        data.real, data.real_groups, cfg.ms_ssim_pairs, cfg.seed, cfg.device
    )
    fake_scores = diversity.pairwise_ms_ssim(
        data.fake, data.fake_groups, cfg.ms_ssim_pairs, cfg.seed, cfg.device
    )
    real_ci, fake_ci = _ci(real_scores, data, 10), _ci(fake_scores, data, 11)
    excess = float(fake_scores.mean() - real_scores.mean())
    real_h = diversity.intensity_histograms(data.real)
    fake_h = diversity.intensity_histograms(data.fake)
    hist = diversity.histogram_distance(real_h, fake_h)
    hist_ci = stats.bootstrap_ci(
        diversity.histogram_distance, [real_h, fake_h], cfg.n_bootstrap, cfg.seed, estimate=hist
    )
    size = data.real.shape[-1]
    return {
        "ms_ssim_real": float(real_scores.mean()),
        "ms_ssim_real_ci95": real_ci,
        "ms_ssim_fake": float(fake_scores.mean()),
        "ms_ssim_fake_ci95": fake_ci,
        "ms_ssim_pairs": len(real_scores),
        "ms_ssim_scales": diversity.ms_ssim_scales(size),
        "ms_ssim_window": "Gaussian 11x11, sigma 1.5",
        "ms_ssim_excess": excess,
        "histogram_distance": hist,
        "histogram_distance_ci95": list(hist_ci),
        "collapse_suspected": bool(excess > cfg.collapse_margin and fake_ci[0] > real_ci[1]),
    }


def memorization_family(data: EvalData) -> dict[str, Any]:
    """Nearest training image per synthetic image, in pixels (headline) and in features."""
    cfg = data.config
    pixels = memorization.memorization(
        data.real, data.real_groups, data.fake, cfg.memorization_percentile, cfg.device
    )
    real_f, fake_f = data.features()
    feats = memorization.memorization(
        real_f, data.real_groups, fake_f, cfg.memorization_percentile, cfg.device
    )
    out = {
        "memorized_fraction": float(pixels["memorized"].mean()),
        "memorized_fraction_ci95": _ci(pixels["memorized"], data, 20),
        "memorization_threshold": pixels["threshold"],
        "memorization_percentile": cfg.memorization_percentile,
        "memorization_distance": "pixel Euclidean; threshold from held-out (other-patient) real",
        "memorization_nn_ratio_median": float(
            np.median(pixels["fake_distance"]) / max(np.median(pixels["held_out_distance"]), 1e-12)
        ),
        "memorized_fraction_features": float(feats["memorized"].mean()),
        "memorized_fraction_features_ci95": _ci(feats["memorized"], data, 21),
        "memorization_montage": None,
    }
    path = data.path(MONTAGE_FILES["memorization"])
    if path is not None:
        memorization.closest_pairs_montage(data.fake, data.real, pixels, path, cfg.montage_count)
        out["memorization_montage"] = str(path)
    return out


FAMILIES: dict[str, Callable[[EvalData], dict[str, Any]]] = {
    "c2st": c2st_family,
    "knn": knn_family,
    "distances": distances_family,
    "prdc": prdc_family,
    "diversity": diversity_family,
    "memorization": memorization_family,
}
