"""Sampling trained generators of any registered family into [0, 1] images.

:class:`SamplingConfig` imports without torch (the command line's defaults come from it);
:func:`generate`, :func:`generate_with_info`, :func:`sample_images` (:mod:`.images`, torch),
:func:`load_generator` (:mod:`.source`) and :func:`write_samples` (:mod:`.files`) load on
first use.
"""

from __future__ import annotations

from brainsynth.lazy import lazy_exports
from brainsynth.sampling.config import WEIGHTS, SamplingConfig

_LAZY = {
    "generate": "images",
    "generate_with_info": "images",
    "load_generator": "source",
    "sample_images": "images",
    "write_samples": "files",
}
__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = ["WEIGHTS", "SamplingConfig", *_LAZY]
