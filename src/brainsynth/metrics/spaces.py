"""The feature spaces of the distribution distances: handcrafted, Inception-v3, domain.

``EvalConfig.features`` picks them (``evaluate --features``). Keys: ``fid``/``kid`` stay the
handcrafted space (as before issue 17); ``fid_inception``/``kid_inception`` and
``fid_domain``/``kid_domain`` the others, each with its 95% interval and feature space.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np

from brainsynth.config import write_atomic
from brainsynth.errors import BrainsynthError
from brainsynth.metrics import domain, features
from brainsynth.metrics.evaldata import EvalData

FEATURE_SPACES: tuple[str, ...] = ("handcrafted", "inception", "domain")
DEFAULT_FEATURES: tuple[str, ...] = ("handcrafted", "domain")
SUFFIX = {"handcrafted": "", "inception": "_inception", "domain": "_domain"}
ENCODER_FILE = "domain_encoder.pt"


def check_features(names: list[str]) -> list[str]:
    unknown = sorted(set(names) - set(FEATURE_SPACES))
    if unknown or not names:
        raise BrainsynthError(
            f"unknown feature spaces {', '.join(unknown) or '(none)'}: choose from "
            f"{', '.join(FEATURE_SPACES)}"
        )
    return [name for name in FEATURE_SPACES if name in names]


def _cached(cache: str | None, tag: str, images: np.ndarray, compute) -> np.ndarray:
    """``compute(images)``, read from / written to ``cache`` keyed by the images' bytes."""
    if cache is None:
        return compute(images)
    key = hashlib.sha1(np.ascontiguousarray(images).tobytes()).hexdigest()[:20]
    path = Path(cache) / f"{tag}-{key}.npy"
    if path.is_file():
        return np.load(path)
    values = compute(images)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda handle: np.save(handle, values))
    return values


INSTALL_INCEPTION = "pip install 'brainsynth[inception]'"


def require_inception() -> tuple[Path, str]:
    """The Inception-v3 network's file and its provenance note; a one-line error saying how
    to install it when it is missing or not the expected file (never a silent skip)."""
    path, note = features.inception_model_path()
    if path is None:
        raise BrainsynthError(
            f"--features inception: the Inception-v3 network is {note}; install it with "
            f"{INSTALL_INCEPTION}, or leave inception out of --features"
        )
    return path, note


def check_feature_sources(
    config: Any, image_size: int | None = None, channels: int = 1, probe: np.ndarray | None = None
) -> None:
    """Refuse, before any metric runs, feature spaces that could not be computed.

    Inception asked for (``features`` or the ``inception`` alias) needs its network; a
    ``domain_encoder`` file must be a whole, valid encoder (:func:`domain.read_encoder`)
    and, when the distances will embed ``image_size`` images with it, fit them and give
    finite features for the ``probe`` images (a few real ones), so weights that are finite
    but overflow are refused here too, not after the first metrics ran.
    """
    if "inception" in config.features or config.inception:
        require_inception()
    if not config.domain_encoder:
        return
    path = config.domain_encoder
    record = domain.read_encoder(path)
    if image_size is None or "domain" not in config.features or "distances" not in config.metrics:
        return
    domain.check_encoder_fits(record, path, image_size, channels)
    if probe is not None and len(probe):
        probed = domain.encode(domain.build_encoder(record, path), probe)
        finite_features(f"domain encoder {path}", real=probed)


def finite_features(space: str, **sets: np.ndarray) -> None:
    """Refuse NaN or infinite features (e.g. an encoder whose weights overflow on these
    images) in one line, instead of a LinAlgError deep in the Fréchet distance."""
    for name, values in sets.items():
        if not np.isfinite(values).all():
            raise BrainsynthError(
                f"{space}: the features of the {name} images are NaN or infinite; no distance "
                "can be computed in that space"
            )


def inception_space(data: EvalData) -> tuple[np.ndarray, np.ndarray, dict]:
    path, note = require_inception()
    start = time.perf_counter()
    cache = data.config.feature_cache
    device = data.config.device

    def compute(images: np.ndarray) -> np.ndarray:
        return features.inception_features(images, path, device=device)

    real = _cached(cache, "inception", data.real, compute)
    fake = compute(data.fake)
    finite_features("Inception-v3", real=real, synthetic=fake)
    data.feature_seconds += time.perf_counter() - start
    return real, fake, {"inception_note": note}


def domain_space(data: EvalData) -> tuple[np.ndarray, np.ndarray, dict]:
    """Load ``config.domain_encoder``, or train one on the real images (or take the one
    trained on these real images before, from the prepared set's cache), save it beside the
    metrics, then embed both sets (the real images' features cached too)."""
    cfg = data.config
    size, channels = int(data.real.shape[-1]), int(data.real.shape[1])
    start = time.perf_counter()
    path = data.path(ENCODER_FILE)
    if cfg.domain_encoder:
        model = domain.load_encoder(cfg.domain_encoder, size, channels)
        where, info, tag = str(cfg.domain_encoder), {"trained": "loaded"}, None
    else:
        model, info, tag = trained_encoder(data)
        where = str(domain.save_encoder(model, path, size, info)) if path is not None else None

    def encode(images: np.ndarray) -> np.ndarray:
        return domain.encode(model, images)

    real = data.cached_real(tag, encode) if tag else encode(data.real)
    fake = encode(data.fake)
    finite_features(f"domain encoder {where or '(trained here)'}", real=real, synthetic=fake)
    data.feature_seconds += time.perf_counter() - start
    return real, fake, {"domain_encoder": where, "domain_encoder_info": info}


def real_side(data: EvalData) -> None:
    """The real images' handcrafted features, and the domain encoder trained on them with
    their features in its space: what the distances repeat for every model evaluated against
    one prepared set (kept in its cache). A loaded ``--domain-encoder`` trains nothing."""
    names = check_features(list(data.config.features))
    if "handcrafted" in names:
        data.cached_real("handcrafted", features.handcrafted_features)
    if "domain" in names and not data.config.domain_encoder:
        model, _, tag = trained_encoder(data)
        data.cached_real(tag, lambda images: domain.encode(model, images))


def trained_encoder(data: EvalData) -> tuple[domain.DomainEncoder, dict, str]:
    """The domain encoder of these real images and settings: from the prepared set's cache
    when it was trained before, else trained now (and cached). Returns it, how it was made
    and the cache tag of its features (once per evaluation)."""
    return data.once("domain-encoder", lambda: _trained_encoder(data))


def _trained_encoder(data: EvalData) -> tuple[domain.DomainEncoder, dict, str]:
    cfg = data.config
    size, channels = int(data.real.shape[-1]), int(data.real.shape[1])
    targets = domain.domain_targets(data.real_channels, data.real_labels)
    key = [data.real, np.asarray(data.real_groups).astype(str), cfg.seed, cfg.domain_epochs,
           domain.FORMAT]  # fmt: skip
    for name in sorted(targets):
        key += [name, np.asarray(targets[name])]

    def load(path: Path) -> tuple[domain.DomainEncoder, dict]:
        record = domain.read_encoder(path)
        domain.check_encoder_fits(record, path, size, channels)
        info = dict(record.get("info") or {}) if isinstance(record.get("info"), dict) else {}
        info["cached"] = str(path)
        return domain.build_encoder(record, path), info

    def train() -> tuple[domain.DomainEncoder, dict]:
        return domain.train_domain_encoder(
            data.real, data.real_groups, targets, cfg.seed, max_epochs=cfg.domain_epochs
        )

    def save(trained: tuple[domain.DomainEncoder, dict], tmp: Path) -> None:
        domain.save_encoder(trained[0], tmp, size, trained[1])

    if data.real_cache is None:
        return (*train(), "domain")
    (model, info), entry = data.real_cache.stored("domain_encoder", key, ".pt", load, train, save)
    return model, info, f"domain-{entry.stem}"


def feature_spaces(data: EvalData) -> dict[str, tuple[np.ndarray, np.ndarray, str]]:
    """Per requested space: (real, fake, description); notes go to ``data.notes``. A space
    that cannot be computed is a one-line error, never skipped."""
    out: dict[str, Any] = {}
    for name in check_features(list(data.config.features)):
        if name == "handcrafted":
            real, fake = data.features()
            out[name] = (real, fake, features.HANDCRAFTED_SPACE)
        elif name == "inception":
            real, fake, notes = inception_space(data)
            data.notes.update(notes)
            out[name] = (real, fake, features.INCEPTION_SPACE)
        else:
            real, fake, notes = domain_space(data)
            data.notes.update(notes)
            out[name] = (real, fake, domain.DOMAIN_SPACE)
    return out
