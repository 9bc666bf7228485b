"""Sampling trained generators of any registered architecture into [0, 1] images.

:class:`SamplingConfig` imports without torch (the command line's defaults come from it);
:func:`generate`, :func:`generate_with_info`, :func:`sample_images` and
:func:`load_generator` (:mod:`.images`, torch) and :func:`write_samples` (:mod:`.files`)
load on first use.
"""

from __future__ import annotations

from typing import Any

from brainsynth.sampling.config import WEIGHTS, SamplingConfig

_LAZY = {
    "generate": "images",
    "generate_with_info": "images",
    "load_generator": "images",
    "sample_images": "images",
    "write_samples": "files",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"brainsynth.sampling.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'brainsynth.sampling' has no attribute {name!r}")


__all__ = ["WEIGHTS", "SamplingConfig", *_LAZY]
