"""Exporting a trained generator for others: weights, config and a model card.

:func:`export_run` (:mod:`.bundle`) writes the folder; :mod:`brainsynth.sampling.exported`
reads it (that side lives in the sampling layer, so everything that samples reads exports).
"""

from __future__ import annotations

from brainsynth.lazy import lazy_exports

_LAZY = {"export_run": "bundle", "ExportOptions": "bundle", "model_card": "card"}
__getattr__ = lazy_exports(__name__, _LAZY)

__all__ = [*_LAZY]
