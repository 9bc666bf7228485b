"""The images of one evaluation and the work its metric families share (computed once).

Several families need the same thing: the handcrafted features (distances, precision/recall,
memorisation), the real-vs-real patient halvings (the CNN, kNN and detectability controls),
and the CNN C2ST itself (its full training split is the last point of the detectability
curve). :meth:`EvalData.once` computes each the first time a family asks for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from brainsynth.metrics import stats

MIN_CONTROL_PATIENTS = 3
"""Patients each half of a real-vs-real control needs (a C2ST split needs three groups)."""
CONTROL_NOTE = "not run: the control needs at least 6 real patients"


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


@dataclass
class EvalData:
    """The (subsampled) images of one evaluation, with lazily computed shared work.

    ``pairs`` is the hook for metrics on images with their tumour masks (issue 25): None
    unless the evaluation was given them; a family declaring ``needs={"pairs"}`` runs only
    then.
    """

    real: np.ndarray
    real_groups: np.ndarray
    fake: np.ndarray
    config: Any
    out_dir: Path | None
    given_fake_groups: np.ndarray | None = None
    real_labels: dict[str, np.ndarray] | None = None  # per real image: slice position, tumour
    real_channels: np.ndarray | None = None  # sequence index per real image (ImageSet.channels)
    pairs: Any = None  # images with masks, for pair metrics (issue 25); None when not given
    real_cache: Any = None  # RealCache of the prepared set (features of its real images)
    notes: dict[str, Any] = field(default_factory=dict)  # provenance added by feature spaces
    feature_seconds: float = 0.0
    _memo: dict[Any, Any] = field(default_factory=dict)

    @property
    def inputs(self) -> frozenset[str]:
        """What this evaluation was given (see :data:`brainsynth.metrics.metric.INPUTS`)."""
        return frozenset({"images"} | ({"pairs"} if self.pairs is not None else set()))

    @property
    def fake_groups(self) -> np.ndarray:
        """Each synthetic image is its own group, unless groups were given (real patients of
        a second prepared set, or a generator's memorised slices): then whole groups."""
        if self.given_fake_groups is not None:
            return np.array([f"fake:{g}" for g in self.given_fake_groups])
        return np.array([f"fake:{i}" for i in range(len(self.fake))])

    def once(self, key: Any, compute: Callable[[], Any]) -> Any:
        """``compute()`` the first time ``key`` is asked for, its result after that."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def features(self) -> tuple[np.ndarray, np.ndarray]:
        """Handcrafted features of real and fake, z-scored on the real set (computed once;
        the real images' come from the prepared set's cache when it has them)."""

        def compute() -> tuple[np.ndarray, np.ndarray]:
            from brainsynth.metrics import features

            start = time.perf_counter()
            raw_real = self.cached_real("handcrafted", features.handcrafted_features)
            raw_fake = features.handcrafted_features(self.fake)
            self.feature_seconds += time.perf_counter() - start
            return features.standardize(raw_real, raw_fake)

        return self.once("handcrafted", compute)

    def cached_real(self, tag: str, compute: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """``compute(self.real)``, through the prepared set's cache when there is one (once)."""

        def computed() -> np.ndarray:
            if self.real_cache is None:
                return compute(self.real)
            return self.real_cache.array(tag, self.real, compute)

        return self.once(("real", tag), computed)

    def halves(self, repeat: int) -> np.ndarray | None:
        """Half A of the real patients for control ``repeat`` (None: too few patients); the
        CNN, kNN and detectability controls share the halvings."""

        def compute() -> np.ndarray | None:
            half_a = split_patients_in_halves(self.real_groups, self.config.seed + 100 * repeat)
            sides = (self.real_groups[half_a], self.real_groups[~half_a])
            return half_a if min(len(np.unique(s)) for s in sides) >= MIN_CONTROL_PATIENTS else None

        return self.once(("halves", repeat), compute)

    def c2st(self, repeat: int | None = None) -> dict[str, Any] | None:
        """The CNN C2ST: real vs synthetic (``repeat`` None), or real-vs-real control
        ``repeat`` between the halves of :meth:`halves` (None when too few patients)."""
        from brainsynth.metrics import c2st

        def compute() -> dict[str, Any] | None:
            settings, seed = c2st_settings(self.config), self.config.seed
            if repeat is None:
                return c2st.cnn_c2st(
                    self.real, self.real_groups, self.fake, self.fake_groups, settings, seed
                )
            half_a = self.halves(repeat)
            if half_a is None:
                return None
            x, g = self.real, self.real_groups

            def control() -> dict[str, Any]:
                return c2st.cnn_c2st(
                    x[half_a], g[half_a], x[~half_a], g[~half_a], settings, seed + 100 * repeat + 1
                )

            return self.real_record(f"c2st-control{repeat}", [settings], control)

        return self.once(("c2st", repeat), compute)

    def real_record(self, tag: str, parts: list[Any], compute: Callable[[], dict]) -> dict:
        """``compute()``, a result that depends on the real images alone (a real-vs-real
        control), through the prepared set's cache: two models evaluated against one prepared
        set share their controls."""

        def computed() -> dict:
            if self.real_cache is None:
                return compute()
            key = [
                self.real,
                np.asarray(self.real_groups).astype(str),
                self.config.seed,
                *map(repr, parts),
            ]
            return self.real_cache.record(tag, key, compute)

        return self.once(("real", tag, repr(parts)), computed)

    def mean_ci(self, values: np.ndarray, offset: int = 0) -> list[float]:
        """Bootstrap 95% interval of the mean of per-item ``values``."""
        cfg = self.config
        return list(stats.bootstrap_mean_ci(values, cfg.n_bootstrap, cfg.seed + offset))

    def path(self, name: str) -> Path | None:
        return None if self.out_dir is None else self.out_dir / name


def c2st_settings(config: Any) -> Any:
    """The CNN C2ST's settings from an :class:`~brainsynth.metrics.evaluate.EvalConfig`."""
    from brainsynth.metrics import c2st

    return c2st.C2STSettings(
        max_epochs=config.c2st_max_epochs,
        patience=config.c2st_patience,
        width=config.c2st_width,
        batch_size=config.c2st_batch_size,
        lr=config.c2st_lr,
        min_batches_per_epoch=config.c2st_min_batches,
        device=config.device,
    )
