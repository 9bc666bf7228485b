"""Generator families (architectures), by name: a registry that imports without torch.

Each architecture is one module (which imports torch, and any library of its own, lazily
through this registry) defining:

- ``Config``: a dataclass of the architecture's own settings, with defaults; its
  ``__post_init__`` raises :class:`~brainsynth.errors.BrainsynthError` on a bad value;
- ``SUPPORTS_LABELS``: whether it can be conditioned on class labels;
- ``TRAINER`` (optional, default ``"gan"``): which trainer of :mod:`brainsynth.training.trainer`
  trains it, ``"gan"`` (adversarial) or ``"denoiser"`` (one network and its own loss);
- ``build(config, shape) -> (generator, ...)``: freshly initialised networks, the
  generator (the network that samples, saved as the checkpoint's ``generator``) first;
  a GAN returns ``(generator, discriminator)``, a denoiser ``(generator,)``. ``shape`` is
  a :class:`~brainsynth.models.shape.ModelShape`;
- optionally ``DEFAULT_OBJECTIVE``: the objective it is meant to be trained with (a
  denoiser's is ``"denoising"``).

Every generator offers sampling the same members (:mod:`brainsynth.models.generator`):
``noise_shape`` (one image's noise: ``(latent,)`` for a GAN, ``(C, H, W)`` for a diffusion
model), ``generate(noise, labels=None, **settings)`` -> raw images in the training range
[-1, 1], ``sampler_settings`` (the names ``generate`` accepts, e.g. ``steps``,
``guidance``), ``to_images(raw)`` -> float32 images in [0, 1] and ``output_mapping`` (how).

A GAN generator maps ``forward(z, labels=None)`` to raw images (``generate`` is that
forward pass, :class:`~brainsynth.models.generator.OneShotGenerator`); its discriminator
maps ``forward(x, labels=None)`` to one logit per image; the objective lives in
:mod:`brainsynth.training.objectives`. A denoiser's generator owns its objective and
sampler: ``forward(x_t, t, labels)`` is the network, ``draws(n, rng)`` draws every random
number of n training images (a dict of tensors with n rows, drawn for the global batch and
split among processes by the trainer), ``loss(denoise, x0, labels, draws) -> (loss,
logs)`` computes the training loss through ``denoise`` (its own forward, or DDP's wrapper of
it), and ``generate`` samples. Optimiser, EMA, DDP, checkpoints and resume stay in
:mod:`brainsynth.training`. Adding an architecture = its module plus one line in
:data:`ARCHITECTURES`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from brainsynth.errors import BrainsynthError
from brainsynth.models.shape import ModelShape

ARCHITECTURES: dict[str, str] = {
    "dcgan": "brainsynth.models.dcgan",  # the paper's (Han et al. 2018, §3.2.2)
    "stylegan2": "brainsynth.models.stylegan2",  # Karras et al. 2020, small-data settings
    "ddpm": "brainsynth.models.ddpm",  # a diffusion model: Ho et al. 2020, DDIM sampling
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
