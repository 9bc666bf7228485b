"""Named training configurations: ``brainsynth train --preset NAME``.

A preset is a partial, nested :class:`~brainsynth.training.config.TrainConfig` dict (the
sections of ``config.yaml``). It is applied first; a ``--config`` file and then the flags
override it, field by field. Imports without torch.

- ``paper-dcgan`` / ``paper-wgan``: the paper's two models (Han et al. 2018, §3.2.2): the
  half-width DCGAN without tanh, batch 64, and the DCGAN or WGAN objective with its
  optimiser; no EMA, no augmentation.
- ``recommended-cpu`` (alias ``recommended``, the name 0.2 gave it): what
  ``benchmarks/realism.py`` measured as the most realistic per unit of compute on the phantom
  at 64x64 on two CPU cores (README, "Realism per compute"): StyleGAN2 (Karras et al. 2020)
  at CPU widths (channels 64 at 4-16 px, 32 at 32 px, 16 at 64 px, 8 at 128 px), the
  non-saturating loss with lazy R1 (gamma 0.1), an EMA generator with ramp-up, and
  DiffAugment translation + cutout applied with ADA's adaptive probability (target 0.6;
  Karras et al. 2020b), so it augments only once the discriminator starts to overfit.
- ``recommended-gpu``: the same recipe at full StyleGAN2 widths, with the settings
  StyleGAN2-ADA's ``auto`` configuration derives for 128x128 on several GPUs (Karras et al.
  2020b, appendix D; ``train.py --cfg auto`` of stylegan2-ada-pytorch): ``cbase`` 16384
  (fmaps 0.5 below 512 px) and ``cmax`` 512, so 512 channels up to 32 px, 256 at 64 px and
  128 at 128 px; z and w of 512; a 2-layer mapping network; batch 64 (``min(4096 // res,
  32)`` per GPU, at most 64); lr 0.0025 with betas (0, 0.99); R1 gamma by their heuristic
  ``0.0002 * res**2 / batch`` = 0.0512 every 16 discriminator steps; EMA half-life
  ``batch * 10 / 32`` = 20 kimg with ramp-up 0.05; ADA target 0.6 adjusted over 500 kimg.
  Not measured here (no GPU was at hand): a starting point that follows the paper, not a
  benchmark result.
- ``diffusion``: a denoising diffusion model (``--arch ddpm``: MONAI's diffusion UNet,
  cosine schedule, v-prediction, DDIM sampling with 25 steps; Ho et al. 2020, Song et al.
  2021) at CPU widths chosen by measurement for 64x64 on one CPU thread (sampling 1,000
  images with 25 steps in about 3 CPU minutes): 8 channels at 64 px, 16 at 32, 32 at 16,
  64 at 8 px with self-attention, one residual block per level; Adam 5e-4, batch 32, precision auto,
  an EMA with ramp-up.
- ``flow``: flow matching (``--arch flow``: a rectified flow on the same UNet at the same
  widths, logit-normal times, Heun sampling with 10 steps; Lipman et al. 2023, Esser et al.
  2024) with the ``diffusion`` preset's optimiser, batch, precision and EMA.
"""

from __future__ import annotations

import copy
from typing import Any

from brainsynth.errors import BrainsynthError


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` on top, section by section (nested dicts merge)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


CPU_UNET: dict[str, Any] = {
    "base_channels": 8,
    "channel_mult": [1, 2, 4, 8],
    "attention_resolutions": [8],
    "res_blocks": 1,
    "norm_groups": 4,
}
"""The denoising families' UNet widths on a CPU budget (8, 16, 32, 64 channels, attention at
8 px), shared by the diffusion and flow presets."""

DENOISER_TRAINING: dict[str, Any] = {
    "optimizer": {"lr": 5e-4, "betas": [0.9, 0.999]},
    "ema": {"half_life_kimg": 10.0, "rampup": 0.05},
    "augment": {"policy": [], "ada_target": None},
    "run": {"batch": 32, "precision": "auto"},
}
"""How the denoising presets train: Adam 5e-4, EMA, no augmentation, batch 32."""

DIFFUSION_0_3: dict[str, Any] = merge(
    DENOISER_TRAINING,
    {
        "model": {"arch": "ddpm", "options": {**CPU_UNET, "prediction": "v", "sample_steps": 25}},
        "objective": {"name": "denoising"},
    },
)
"""brainsynth 0.3.0's ``diffusion`` preset (its MONAI time embedding of 8 features)."""

PRESETS: dict[str, dict[str, Any]] = {
    "paper-dcgan": {
        "model": {"arch": "dcgan", "latent": 100, "options": {"width": 32}},
        "objective": {"name": "dcgan"},
        "ema": {"half_life_kimg": 0.0},
        "augment": {"policy": [], "ada_target": None},
        "run": {"batch": 64},
    },
    "paper-wgan": {
        "model": {"arch": "dcgan", "latent": 100, "options": {"width": 32}},
        "objective": {"name": "wgan"},
        "ema": {"half_life_kimg": 0.0},
        "augment": {"policy": [], "ada_target": None},
        "run": {"batch": 64},
    },
    "recommended-cpu": {
        "model": {
            "arch": "stylegan2",
            "latent": 100,
            "options": {
                "channel_base": 512,
                "channel_max": 64,
                "w_dim": 128,
                "mapping_layers": 2,
                "output": "clamp",
            },
        },  # fmt: skip
        "objective": {"name": "nonsaturating", "r1_gamma": 0.1, "r1_every": 16},
        "optimizer": {"lr": 0.0025, "betas": [0.0, 0.99]},
        "ema": {"half_life_kimg": 10.0, "rampup": 0.05},
        "augment": {"policy": ["translation", "cutout"], "ada_target": 0.6, "ada_kimg": 100.0},
        "run": {"batch": 32, "precision": "auto"},
    },
    "recommended-gpu": {
        "model": {
            "arch": "stylegan2",
            "latent": 512,
            "options": {
                "channel_base": 16384,
                "channel_max": 512,
                "w_dim": 512,
                "mapping_layers": 2,
                "mbstd_group": 4,
                "output": "clamp",
            },
        },  # fmt: skip
        "objective": {"name": "nonsaturating", "r1_gamma": 0.0002 * 128**2 / 64, "r1_every": 16},
        "optimizer": {"lr": 0.0025, "betas": [0.0, 0.99]},
        "ema": {"half_life_kimg": 64 * 10 / 32, "rampup": 0.05},
        "augment": {"policy": ["translation", "cutout"], "ada_target": 0.6, "ada_kimg": 500.0},
        "run": {"batch": 64, "precision": "auto"},
    },
    "diffusion-0.3": DIFFUSION_0_3,
    "diffusion": merge(DIFFUSION_0_3, {"model": {"options": {"time_features": 64}}}),
    "flow": merge(
        DENOISER_TRAINING,
        {
            "model": {
                "arch": "flow",
                "options": {
                    **CPU_UNET,
                    "time_features": 64,
                    "t_distribution": "logit-normal",
                    "solver": "heun",
                    "sample_steps": 10,
                },
            },  # fmt: skip
            "objective": {"name": "flow-matching"},
        },
    ),
}

ALIASES: dict[str, str] = {"recommended": "recommended-cpu"}
"""Other names of presets (kept so 0.2's commands, the demo and the benchmarks still run)."""

PRESET_SUMMARIES: dict[str, str] = {
    "paper-dcgan": "the paper's DCGAN (half width, no tanh, Adam 2e-4, batch 64)",
    "paper-wgan": "the paper's WGAN (RMSprop 5e-5, 5 critic steps, clipping 0.01, batch 64)",
    "recommended-cpu": "for CPUs: StyleGAN2 at CPU widths (64 channels at most) + R1 + EMA + "
    "adaptive DiffAugment, batch 32 (measured best per CPU minute, see README)",
    "recommended-gpu": "for GPUs: StyleGAN2 at full width (512 channels, 128 at 128 px) with "
    "StyleGAN2-ADA's 128 px settings: batch 64, R1 0.0512, EMA 20 kimg (not benchmarked)",
    "diffusion": "a diffusion model (MONAI UNet at CPU widths, 64 noise-level features, "
    "v-prediction, cosine schedule, DDIM 25 steps) + EMA",
    "diffusion-0.3": "brainsynth 0.3.0's diffusion preset (its MONAI time embedding of 8 features)",
    "flow": "flow matching (the same UNet, logit-normal times, Heun 10 steps) + EMA",
}


def preset_names() -> tuple[str, ...]:
    """Every name ``--preset`` accepts: the presets, then their aliases."""
    return (*PRESETS, *ALIASES)


def preset_summaries() -> dict[str, str]:
    """Each accepted name with its one-line summary (an alias says whose it is)."""
    aliases = {alias: f"the same as {to} (its name before 0.3)" for alias, to in ALIASES.items()}
    return {**{name: PRESET_SUMMARIES.get(name, "") for name in PRESETS}, **aliases}


def preset(name: str) -> dict[str, Any]:
    """A fresh copy of preset ``name``'s nested config dict (an alias gives its target's)."""
    name = ALIASES.get(name, name)
    if name not in PRESETS:
        raise BrainsynthError(f"unknown preset {name!r}: choose one of {', '.join(preset_names())}")
    return copy.deepcopy(PRESETS[name])
