"""The images of one evaluation and what the metric families share (features, settings)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from brainsynth.metrics import c2st, features, stats


@dataclass
class EvalData:
    """The (subsampled) images of one evaluation, with lazily computed shared features."""

    real: np.ndarray
    real_groups: np.ndarray
    fake: np.ndarray
    config: Any
    out_dir: Path | None
    given_fake_groups: np.ndarray | None = None
    real_labels: dict[str, np.ndarray] | None = None  # per real image: slice position, tumour
    real_channels: np.ndarray | None = None  # sequence index per real image (ImageSet.channels)
    notes: dict[str, Any] = field(default_factory=dict)  # provenance added by feature spaces
    feature_seconds: float = 0.0
    _features: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def fake_groups(self) -> np.ndarray:
        """Each synthetic image is its own group, unless groups were given (see evaluate)."""
        if self.given_fake_groups is not None:
            return np.array([f"fake:{g}" for g in self.given_fake_groups])
        return np.array([f"fake:{i}" for i in range(len(self.fake))])

    def features(self) -> tuple[np.ndarray, np.ndarray]:
        """Handcrafted features of real and fake, z-scored on the real set (computed once)."""
        if self._features is None:
            start = time.perf_counter()
            raw_real = features.handcrafted_features(self.real)
            raw_fake = features.handcrafted_features(self.fake)
            self._features = features.standardize(raw_real, raw_fake)
            self.feature_seconds += time.perf_counter() - start
        return self._features

    def path(self, name: str) -> Path | None:
        return None if self.out_dir is None else self.out_dir / name


def ci(values: np.ndarray, data: EvalData, offset: int = 0) -> list[float]:
    return list(stats.bootstrap_mean_ci(values, data.config.n_bootstrap, data.config.seed + offset))


def c2st_settings(config: Any) -> c2st.C2STSettings:
    return c2st.C2STSettings(
        max_epochs=config.c2st_max_epochs,
        patience=config.c2st_patience,
        width=config.c2st_width,
        batch_size=config.c2st_batch_size,
        lr=config.c2st_lr,
        min_batches_per_epoch=config.c2st_min_batches,
        device=config.device,
    )


_ci, _settings = ci, c2st_settings  # the names families.py has always used
