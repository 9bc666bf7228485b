# ruff: noqa: E501  (one sentence per key reads better unwrapped)
"""Distribution distances: the Fréchet distance and KID in each requested feature space
(handcrafted radiomics-style, Inception-v3, a domain encoder trained on the real slices), each
with a bootstrap 95% interval; handcrafted keys carry no suffix (``fid``, ``kid``)."""

from __future__ import annotations

from typing import Any

from brainsynth.metrics.metric import CI, Headline, Metric, with_ci

ENCODER_FILE = "domain_encoder.pt"


def _kid_bootstrap(real: Any, fake: Any, n_boot: int, seed: int) -> list[float]:
    """Bootstrap interval of the full-set unbiased KID.

    A resample is a vector of multiplicities c; within-set kernel sums skip pairs of one
    original item (c'Kc - sum c_i^2 K_ii over (sum c)^2 - sum c_i^2 pairs), so duplicates
    do not inflate the estimate, and each resample costs only matrix-vector products.
    """
    import numpy as np

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


def _distances(real: Any, fake: Any, cfg: Any, space: str, suffix: str) -> dict[str, Any]:
    from brainsynth.metrics import frechet, stats

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


def run(data: Any) -> dict[str, Any]:
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


def real_side(data: Any) -> None:
    from brainsynth.metrics import spaces

    spaces.real_side(data)


def summary(m: dict[str, Any]) -> list[str]:
    lines = []
    if m.get("fid") is not None:
        lines.append(f"  Fréchet (handcrafted) {with_ci(m, 'fid')}; KID {with_ci(m, 'kid')}")
    for key, name in (("fid_inception", "Inception"), ("fid_domain", "domain")):
        if m.get(key) is not None:
            kid = key.replace("fid", "kid")
            lines.append(f"  Fréchet ({name}) {with_ci(m, key)}; KID {with_ci(m, kid)}")
    return lines


def encoder_file(config: Any) -> tuple[str, ...]:
    """The domain encoder evaluate trains is saved beside the metrics (not a loaded one)."""
    return (ENCODER_FILE,) if "domain" in config.features and not config.domain_encoder else ()


METRIC = Metric(
    name="distances",
    order=40,
    help="Fréchet distance and KID in the --features spaces: handcrafted radiomics-style "
    "features (keys fid, kid), Inception-v3 (fid_inception; needs the [inception] extra, "
    "slow on CPU), a domain CNN trained on the real slices (fid_domain; saved as "
    "domain_encoder.pt, reused with --domain-encoder)",
    run=run,
    summary=summary,
    cost_s=lambda config: 3.0 + 1.0 * ('domain' in config.features) + 60.0 * ('inception' in config.features),
    real_side=real_side,
    real_cost_s=lambda config: 1.0 + 9.0 * ('domain' in config.features and not config.domain_encoder),
    required=("fid", "kid"),
    more_files=encoder_file,
    headlines=(
        Headline("fid", "Fréchet distance (handcrafted features)"),
        Headline("fid_inception", "Inception FID (comparable with papers)"),
        Headline("fid_domain", "Fréchet distance (domain encoder features)"),
        Headline("kid", "KID"),
    ),
    descriptions={
        "fid": "Fréchet distance between Gaussian fits of real and synthetic handcrafted radiomics-style features (lower = closer; 0 = same mean and covariance).",
        "fid_ci95": CI + "the Fréchet distance (bootstrap over both sets, shifted by the bootstrap's bias estimate).",
        "fid_feature_space": "Feature space of the Fréchet distance.",
        "kid": "Kernel distance (unbiased MMD^2, cubic polynomial kernel, mean over subsets) on the same features; about 0 for identical distributions.",
        "kid_std": "Standard deviation of KID over its random subsets.",
        "kid_ci95": CI + "KID (bootstrap over both sets).",
        "kid_feature_space": "Feature space of KID.",
        "n_features": "Number of handcrafted features per image.",
        "inception_note": "Whether Inception-v3 features were used, and the network's file and checksum if so.",
        "fid_inception": "Fréchet distance on Inception-v3 pool features (the FID of the literature: ImageNet network, gray repeated to RGB, resized to 299x299 as pytorch-fid does); quote it to compare with papers.",
        "fid_inception_ci95": CI + "the Inception Fréchet distance.",
        "fid_inception_feature_space": "Feature space of the Inception Fréchet distance.",
        "kid_inception": "KID on Inception-v3 pool features.",
        "kid_inception_std": "Standard deviation of the Inception KID over subsets.",
        "kid_inception_ci95": CI + "the Inception KID.",
        "kid_inception_feature_space": "Feature space of the Inception KID.",
        "feature_spaces": "Feature spaces the Fréchet distance and KID were computed in (handcrafted keys have no suffix).",
        "n_features_inception": "Dimension of the Inception-v3 features.",
        "n_features_domain": "Dimension of the domain encoder's features.",
        "fid_domain": "Fréchet distance on the features of a small CNN trained on real MR slices only (sequence, slice position, tumour, rotation): sensitive to MR-specific anatomy and contrast.",
        "fid_domain_ci95": CI + "the domain Fréchet distance.",
        "fid_domain_feature_space": "Feature space of the domain Fréchet distance.",
        "kid_domain": "KID on the domain encoder's features.",
        "kid_domain_std": "Standard deviation of the domain KID over subsets.",
        "kid_domain_ci95": CI + "the domain KID.",
        "kid_domain_feature_space": "Feature space of the domain KID.",
        "domain_encoder": "File of the domain encoder used (trained here and saved beside the metrics, or loaded with --domain-encoder); pass it to another evaluation to compare in one space.",
        "domain_encoder_info": "How the domain encoder was trained (tasks, epochs, images) or that it was loaded.",
    },
)  # fmt: skip
