"""What a generator family is: one object, registered once (:mod:`brainsynth.models`).

A family module (``models/dcgan.py``, ``models/ddpm.py``, ...) defines its networks and ends
with ``FAMILY = Family(...)``: everything the rest of brainsynth may ask about it. Nothing
outside ``models/`` and the training presets names a family or reads one of its settings;
they ask its :class:`Family` instead (tests/models/test_family_names.py checks this).

- who it is: ``name`` (``--arch``), ``display_name`` (model cards), ``kind`` (a word for
  tags: ``gan``, ``diffusion``, ``flow``) and ``summary`` (one line with its citation);
- what it is made of: ``Config`` (its settings, a dataclass whose ``__post_init__`` checks
  every field against its type and bounds), ``build(config, shape)`` (freshly initialised
  networks, the sampling network first) and ``parameter_estimate(config, shape)`` (an upper
  bound of what ``build`` allocates, checked before anything is built);
- how it is trained: ``trainer`` (which trainer of :mod:`brainsynth.training` runs it:
  ``adversarial`` or ``denoising``), ``objectives`` (the objective names it accepts, the
  first its default), ``objective_defaults`` (optimiser defaults of objectives that are its
  own; the adversarial objectives' are shared, in :mod:`brainsynth.training.config`),
  ``objective_options`` (per-objective defaults of its own settings, e.g. the DCGAN critic's
  layer normalisation under WGAN-GP) and ``make_loss(config, shape)`` (a denoising family's
  loss object: ``draws(n, rng)`` and ``loss(network, x0, condition, draws)``);
- how it samples: ``make_sampler(config)`` (its sampler object with its defaults; a GAN's
  is one forward pass), ``sampler_settings`` (:class:`SamplerSetting` records: the
  ``brainsynth sample`` flags it takes and the Config fields holding their defaults) and
  ``describe_sampler(config, shape)`` (one phrase for a model card);
- what it can be conditioned on: ``conditioning`` (``class`` labels; ``mask``: images drawn
  for a tumour mask, ``train --condition mask``, the mask entering the network as extra input
  channels or SPADE normalisation), what it must be conditioned on (``requires``: a SPADE
  generator has nothing to draw without a mask) and whether it has a latent vector
  (``uses_latent``; a denoiser starts from an image of noise and stores no latent size).
  Image + mask pairs (``train --with-mask``) need nothing of a family: its networks read and
  write ``ModelShape.generated_channels``.

This module imports without torch: the command line's choices come from the registry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from brainsynth.errors import BrainsynthError

ADVERSARIAL_OBJECTIVES: tuple[str, ...] = ("dcgan", "wgan", "wgan-gp", "hinge", "nonsaturating")
"""The objectives of :mod:`brainsynth.training.objectives`, shared by every GAN family (named
here so that a family can list them without importing training)."""
TRAINER_NAMES: tuple[str, ...] = ("adversarial", "denoising")
"""The trainers of :mod:`brainsynth.training.trainers`: a generator against a discriminator,
or one network and its family's loss."""
CONDITIONS: tuple[str, ...] = ("class", "mask")
"""What a family may be conditioned on: class labels, or (issue 25) a tumour mask."""
KINDS: dict[str, str] = {"gan": "GAN", "diffusion": "diffusion model", "flow": "flow model"}
"""The kinds of family (a word for tags) and how a sentence names a model of each."""


@dataclass(frozen=True)
class SamplerSetting:
    """A setting of a family's sampler that ``brainsynth sample`` takes as ``--NAME``.

    ``name``: the flag and the :class:`~brainsynth.sampling.config.SamplingConfig` field
    (``steps``, ``guidance``); ``config_field``: the family Config field holding the model's
    default (``sample_steps``); ``help``: what it does, for messages.
    """

    name: str
    config_field: str
    help: str


def one_pass(config: Any, shape: Any) -> str:
    """How a GAN draws an image: one forward pass from a latent vector."""
    return f"one forward pass from a latent vector of {shape.latent}"


@dataclass(frozen=True)
class Family:
    """A generator family: see the module docstring for each field."""

    name: str
    display_name: str
    kind: str
    summary: str
    Config: type
    build: Callable[..., tuple[Any, ...]]
    parameter_estimate: Callable[[Any, Any], int]
    trainer: str
    objectives: tuple[str, ...]
    make_sampler: Callable[[Any], Any] | None = None
    make_loss: Callable[[Any, Any], Any] | None = None
    sampler_settings: tuple[SamplerSetting, ...] = ()
    conditioning: frozenset[str] = frozenset({"class"})
    requires: frozenset[str] = frozenset()
    describe_sampler: Callable[[Any, Any], str] = one_pass
    objective_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    objective_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    uses_latent: bool = True

    def __post_init__(self) -> None:
        problems = []
        if self.kind not in KINDS:
            problems.append(f"kind {self.kind!r} (one of {', '.join(KINDS)})")
        if self.trainer not in TRAINER_NAMES:
            problems.append(f"trainer {self.trainer!r} (one of {', '.join(TRAINER_NAMES)})")
        if not self.objectives:
            problems.append("no objective")
        if not set(self.conditioning) <= set(CONDITIONS):
            problems.append(f"conditioning {sorted(self.conditioning)}")
        if not set(self.requires) <= set(self.conditioning):
            problems.append(f"requires {sorted(self.requires)} beyond its conditioning")
        if self.trainer == "denoising" and self.make_loss is None:
            problems.append("a denoising family needs make_loss")
        for objective in set(self.objectives) - set(ADVERSARIAL_OBJECTIVES):
            if not {"optimizer", "lr", "betas"} <= set(self.objective_defaults.get(objective, {})):
                problems.append(f"objective {objective} needs its optimizer, lr and betas")
        if not dataclasses.is_dataclass(self.Config):
            problems.append("Config is not a dataclass")
        fields = {f.name for f in dataclasses.fields(self.Config)}
        for setting in self.sampler_settings:
            if setting.config_field not in fields:
                problems.append(f"sampler setting {setting.name} reads no Config field")
        if problems:
            raise BrainsynthError(f"family {self.name!r} is not well defined: "
                                  f"{'; '.join(problems)}")  # fmt: skip

    @property
    def default_objective(self) -> str:
        """The objective a run of this family trains with when none is named."""
        return self.objectives[0]

    @property
    def setting_names(self) -> tuple[str, ...]:
        """The names of its Config fields (``--arch-option KEY=VALUE``)."""
        return tuple(f.name for f in dataclasses.fields(self.Config))

    def sampler_defaults(self, config: Any) -> dict[str, Any]:
        """Each sampler setting's default for a model of ``config`` (its Config)."""
        return {s.name: getattr(config, s.config_field) for s in self.sampler_settings}

    def check_sampler_settings(self, settings: Mapping[str, Any]) -> None:
        """A one-line error for a sampler setting this family's sampler does not have."""
        known = {s.name for s in self.sampler_settings}
        for name, value in settings.items():
            if value is None or name in known:
                continue
            if not known:
                raise BrainsynthError(
                    f"--{name}: this generator samples in one forward pass ({self.display_name});"
                    " it has no sampler settings"
                )
            raise BrainsynthError(f"--{name}: a {self.display_name} generator's sampler has no "
                                  f"{name} (it takes {', '.join(sorted(known))})")  # fmt: skip
