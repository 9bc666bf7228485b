"""GAN architectures, by name: a registry that imports without torch.

Each architecture is one module (which imports torch) defining:

- ``Config``: a dataclass of the architecture's own settings, with defaults; its
  ``__post_init__`` raises :class:`~brainsynth.errors.BrainsynthError` on a bad value;
- ``SUPPORTS_LABELS``: whether it can be conditioned on class labels;
- ``build(config, shape) -> (generator, discriminator)``, freshly initialised, where
  ``shape`` is a :class:`~brainsynth.models.shape.ModelShape`;
- optionally ``DEFAULT_OBJECTIVE``: the objective it is meant to be trained with.

A generator maps ``forward(z, labels=None)`` to raw images in the training range [-1, 1]
and owns its output mapping: ``to_images(raw)`` gives float32 images in [0, 1] and
``output_mapping`` says how. A discriminator maps ``forward(x, labels=None)`` to one logit
per image. Adding an architecture = its module plus one line in :data:`ARCHITECTURES`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from brainsynth.errors import BrainsynthError
from brainsynth.models.shape import ModelShape

ARCHITECTURES: dict[str, str] = {
    "dcgan": "brainsynth.models.dcgan",  # the paper's (Han et al. 2018, §3.2.2)
    "stylegan2": "brainsynth.models.stylegan2",  # Karras et al. 2020, small-data settings
}


def arch_names() -> tuple[str, ...]:
    """The registered architecture names, in registration order."""
    return tuple(ARCHITECTURES)


def check_arch(name: str) -> str:
    """``name`` if it is registered, else a one-line error listing the names."""
    if name not in ARCHITECTURES:
        raise BrainsynthError(
            f"unknown architecture {name!r}: choose one of {', '.join(arch_names())}"
        )
    return name


def architecture(name: str) -> ModuleType:
    """The module of architecture ``name`` (imported on first use: it imports torch)."""
    return importlib.import_module(ARCHITECTURES[check_arch(name)])


__all__ = ["ARCHITECTURES", "ModelShape", "arch_names", "architecture", "check_arch"]
