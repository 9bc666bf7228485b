"""The short human-readable summary of a metrics dict (printed by ``brainsynth evaluate``)."""

from __future__ import annotations

from typing import Any


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e4 else f"{value:.3e}"
    return str(value)


def _with_ci(metrics: dict[str, Any], key: str, ci_key: str | None = None) -> str:
    text = _num(metrics.get(key))
    ci = metrics.get(ci_key or f"{key}_ci95")
    if metrics.get(key) is not None and isinstance(ci, (list, tuple)) and None not in ci:
        text += f" [{_num(ci[0])}, {_num(ci[1])}]"
    return text


def verdict(metrics: dict[str, Any]) -> str:
    """One line on what the C2ST says, weighing the gap against its interval."""
    gap, ci = metrics.get("c2st_gap"), metrics.get("c2st_gap_ci95")
    if gap is None or not ci:
        acc = metrics.get("c2st_accuracy")
        if acc is None:
            return "C2ST not run"
        return "no real-vs-real control (too few patients): judge the accuracy against 0.5"
    if ci[0] > 0.1:
        return "synthetic images are clearly told apart, beyond patient differences"
    if ci[0] > 0:
        return "synthetic images are somewhat easier to tell apart than other real patients"
    return "synthetic images are no more separable than other real patients"


def _chosen(metrics: dict[str, Any], side: str) -> str:
    """How many of the available images of one side were used: "all 1120" or
    "random(0) subset of 1120"."""
    available, subset = metrics.get(f"n_{side}_available"), metrics.get(f"{side}_subset")
    if available is None or subset is None:
        return ""
    return f"all {available}" if subset == "all" else f"{subset} subset of {available}"


def format_summary(metrics: dict[str, Any]) -> str:
    """A few lines: sizes, C2ST with control and gap, distances, diversity, memorisation."""
    m = metrics
    real_chosen, fake_chosen = _chosen(m, "real"), _chosen(m, "fake")
    lines = [
        f"brainsynth evaluation: {m.get('sequence', '?')} {m.get('image_size', '?')}px, "
        f"{m.get('n_real')} real images ({m.get('n_real_patients', '?')} patients"
        f"{'; ' + real_chosen if real_chosen else ''}) vs {m.get('n_fake')} synthetic"
        f"{' (' + fake_chosen + ')' if fake_chosen else ''}"
    ]
    if m.get("c2st_accuracy") is not None:
        conv = "converged" if m.get("c2st_converged") else "NOT converged (epoch cap)"
        lines.append(
            f"  C2ST (CNN): accuracy {_with_ci(m, 'c2st_accuracy', 'c2st_ci95')}, "
            f"p={m['c2st_p_value']:.2g} vs chance, n_test={m.get('c2st_n_test')}, "
            f"{conv} after {m.get('c2st_epochs')} epochs"
        )
        lines.append(
            f"    real-vs-real control {_with_ci(m, 'c2st_control_accuracy')}; "
            f"gap {_with_ci(m, 'c2st_gap')} -> {verdict(m)}"
        )
        lines.append(
            f"    where it looks: {100 * m['c2st_saliency_background_share']:.0f}% of saliency "
            f"on background ({100 * m['c2st_background_area_share']:.0f}% of the area)"
        )
    if m.get("detectability") is not None:
        points = ", ".join(
            f"{p['n_train']}: {p['accuracy']:.2f}" for p in m.get("detectability_curve") or []
        )
        lines.append(
            f"  detectability {_with_ci(m, 'detectability')} (0 = chance at every training "
            f"size; real-vs-real {_with_ci(m, 'detectability_control')}); "
            f"accuracy by training images {points}"
        )
    if m.get("c2st_knn_accuracy") is not None:
        lines.append(
            f"  kNN C2ST (pixels, k={m.get('c2st_knn_k')}, other patients only): "
            f"{_with_ci(m, 'c2st_knn_accuracy')}, "
            f"control {_num(m.get('c2st_knn_control_accuracy'))}"
        )
    if m.get("fid") is not None:
        lines.append(f"  Fréchet (handcrafted) {_with_ci(m, 'fid')}; KID {_with_ci(m, 'kid')}")
    for key, name in (("fid_inception", "Inception"), ("fid_domain", "domain")):
        if m.get(key) is not None:
            kid = key.replace("fid", "kid")
            lines.append(f"  Fréchet ({name}) {_with_ci(m, key)}; KID {_with_ci(m, kid)}")
    if m.get("spectrum_high_freq_ratio") is not None:
        lines.append(
            f"  why detected: high-frequency power synthetic/real "
            f"{_with_ci(m, 'spectrum_high_freq_ratio')}; histogram EMD brain "
            f"{_num(m.get('intensity_emd_brain'))}, background "
            f"{_num(m.get('intensity_emd_background'))}; exactly black background "
            f"{_num(m.get('black_fraction_real'))} real vs {_num(m.get('black_fraction_fake'))} "
            "synthetic"
        )
    if m.get("precision") is not None:
        lines.append(
            f"  precision {_with_ci(m, 'precision')}, recall {_with_ci(m, 'recall')}, "
            f"density {_num(m.get('density'))}, coverage {_num(m.get('coverage'))}"
        )
    if m.get("ms_ssim_real") is not None:
        flag = "LIKELY COLLAPSE" if m.get("collapse_suspected") else "no collapse flagged"
        lines.append(
            f"  MS-SSIM within real {_with_ci(m, 'ms_ssim_real')}, within synthetic "
            f"{_with_ci(m, 'ms_ssim_fake')}; histogram EMD {_num(m.get('histogram_distance'))}: "
            f"{flag}"
        )
    if m.get("memorized_fraction") is not None:
        lines.append(
            f"  memorised {_with_ci(m, 'memorized_fraction')} (pixels; "
            f"{_num(m.get('memorized_fraction_features'))} in features; about "
            f"{m.get('memorization_percentile', 1) / 100:.2g} expected without copying)"
        )
    if m.get("timings_s"):
        total = sum(m["timings_s"].values())
        lines.append(f"  time {total:.1f} s")
    return "\n".join(lines)
