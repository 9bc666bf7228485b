"""brainsynth: GAN-based synthetic brain MR image generation and realism testing.

Implements Han et al., "GAN-based synthetic brain MR image generation" (ISBI 2018).
``brainsynth.load_generator(path)`` (:mod:`brainsynth.sampling.api`) loads an exported
generator (``brainsynth export``) or a run folder; it imports torch on first use, so
``import brainsynth`` alone stays light.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from brainsynth.lazy import lazy_exports

try:
    __version__ = version("brainsynth")
except PackageNotFoundError:  # a source tree on sys.path without an installed package
    __version__ = "0+unknown"

__getattr__ = lazy_exports(__name__, {"load_generator": "sampling.api"})

__all__ = ["__version__", "load_generator"]
