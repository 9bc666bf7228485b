"""Generator families, by name: a registry that imports without torch.

A family is one module ending with ``FAMILY = Family(...)`` (:mod:`brainsynth.models.family`
says what a :class:`~brainsynth.models.family.Family` provides) plus one line in
:data:`FAMILIES`. The module imports torch and its own libraries; :func:`family` imports it
on first use, so the command line's choices (``--arch``) come from here without torch.

Every generator offers sampling the same members (:mod:`brainsynth.models.generator`):
``noise_shape`` (one image's noise: ``(latent,)`` for a GAN, ``(C, H, W)`` for a denoiser),
``generate(noise, condition=None, **settings)`` -> raw images in the training range [-1, 1]
(``condition``: a :class:`~brainsynth.models.generator.Condition`; ``settings``: its
family's sampler settings), ``to_images(raw)`` -> float32 images in [0, 1] and
``output_mapping`` (how). A GAN generator maps ``forward(z, labels=None)`` to raw images and
its discriminator ``forward(x, labels=None)`` to one logit per image; a denoiser's network
is ``forward(x_t, t, labels=None)`` and its family's loss object trains it. Optimiser, EMA,
DDP, checkpoints and resume stay in :mod:`brainsynth.training`.
"""

from __future__ import annotations

import importlib

from brainsynth.errors import BrainsynthError
from brainsynth.models.family import Family
from brainsynth.models.shape import ModelShape

FAMILIES: dict[str, str] = {
    "dcgan": "brainsynth.models.dcgan",  # the paper's (Han et al. 2018, §3.2.2)
    "stylegan2": "brainsynth.models.stylegan2",  # Karras et al. 2020, small-data settings
    "ddpm": "brainsynth.models.ddpm",  # a diffusion model: Ho et al. 2020, DDIM sampling
    "flow": "brainsynth.models.flow",  # flow matching: Lipman et al. 2023, Esser et al. 2024
    "spade": "brainsynth.models.spade",  # images for a tumour mask: Park et al. 2019
}
DEFAULT_FAMILY = "dcgan"
"""The family ``--arch`` defaults to: the paper's DCGAN."""
DEFAULT_MASK_FAMILY = "spade"
"""The family a mask-conditioned generator defaults to where none is named (augment-eval's
``real+synthetic-from-masks`` arm): the paper's DCGAN with SPADE normalisation."""


def family_names() -> tuple[str, ...]:
    """The registered family names, in registration order."""
    return tuple(FAMILIES)


def check_family(name: str) -> str:
    """``name`` if it is registered, else a one-line error listing the names."""
    if not isinstance(name, str) or name not in FAMILIES:
        shown = repr(name) if isinstance(name, str) else f"a {type(name).__name__}"
        raise BrainsynthError(
            f"unknown architecture {shown[:60]}: choose one of {', '.join(family_names())}"
        )
    return name


def family(name: str) -> Family:
    """The :class:`Family` registered as ``name`` (its module imported on first use)."""
    module = importlib.import_module(FAMILIES[check_family(name)])
    found = getattr(module, "FAMILY", None)
    if not isinstance(found, Family) or found.name != name:
        raise BrainsynthError(f"{module.__name__} does not define FAMILY = Family({name!r}, ...)")
    return found


__all__ = ["DEFAULT_FAMILY", "DEFAULT_MASK_FAMILY", "FAMILIES", "Family", "ModelShape",
           "check_family", "family", "family_names"]  # fmt: skip
