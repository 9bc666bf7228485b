"""Flow matching: a rectified flow from noise to images on the denoisers' UNet, Euler or Heun.

References: Lipman et al. 2023, "Flow Matching for Generative Modeling" (conditional flow
matching, §3-4; the optimal-transport path §4.1); Liu et al. 2023, "Flow Straight and Fast:
Learning to Generate and Transfer Data with Rectified Flow"; Esser et al. 2024, "Scaling
Rectified Flow Transformers for High-Resolution Image Synthesis" (Stable Diffusion 3: its
notation, §2, and logit-normal time sampling, §3.1); Karras et al. 2022, "Elucidating the
Design Space of Diffusion-Based Generative Models" (EDM: Heun's method, Algorithm 1); Ho &
Salimans 2022, "Classifier-Free Diffusion Guidance".

- **Path** (Lipman et al. §4.1 with sigma_min = 0, the rectified flow of Liu et al.; SD3's
  notation): x_t = (1 - t) x_0 + t eps between an image x_0 (t = 0) and Gaussian noise eps
  (t = 1), a straight line whose velocity is the constant u = eps - x_0.
- **Objective** (conditional flow matching, Lipman et al. eq. 9 on that path;
  :class:`FlowMatchingLoss`, the objective ``flow-matching``): the mean squared error of the
  network's velocity v(x_t, t) against eps - x_0, with t drawn from the logit-normal
  distribution t = sigmoid(m + s n), n ~ N(0, 1) (SD3 §3.1, ``t_distribution:
  logit-normal``, m = ``t_mean``, s = ``t_std``; their best was m = 0, s = 1), which spends
  the training on intermediate times where the velocity is hardest to predict, or uniform
  (``uniform``: Lipman et al., Liu et al.).
- **Loss weighting** (``weighting``): ``uniform`` is the plain velocity MSE; ``min-snr`` is
  Min-SNR-gamma (Hang et al. 2023 §3.3-3.4) on this path: the endpoint x_0 = x_t - t v errs
  by t times the velocity, and SNR_t = ((1 - t) / t)^2, so weighting each image's velocity
  error by min(SNR_t, gamma) t^2 (gamma = ``snr_gamma``) counts its x_0 error min(SNR_t,
  gamma) times, as the diffusion family's option does.
- **Network**: MONAI's diffusion UNet (:mod:`brainsynth.models.unet`, shared with the
  diffusion family), the time given to its sinusoidal embedding as 1000 t (SD3's scale, the
  range of DDPM's timesteps).
- **Class conditioning and classifier-free guidance** as the diffusion family's (Ho &
  Salimans 2022 §3): labels replaced by a null class with probability ``label_dropout`` in
  training; sampling with guidance w uses v_uncond + w (v_cond - v_uncond).
- **Sampling** (:class:`FlowSampler`): the ODE dx/dt = v(x, t) integrated from t = 1 (the
  seeded noise) to t = 0 over ``steps`` equal steps, with Euler's method (one network
  evaluation per step) or Heun's (EDM Algorithm 1: an Euler step, a second evaluation at
  its end, the average of both slopes; Euler on the last step, which ends at t = 0, so
  ``steps`` Heun steps cost 2 steps - 1 evaluations). ``solver`` picks the default; ``brainsynth
  sample --steps N --sampler-option solver=euler`` overrides both. Deterministic: the same
  noise, labels and settings give the same images.

Departures, each named:

- Exact black (``black_margin``, default 0.1), the analogue of the diffusion family's: real
  skull-stripped slices are exactly black (-1) outside the head, but an integrated x_0
  scatters around its target. Training moves exactly black pixels to -1 - margin; at every
  step the sampler clamps the endpoint the velocity implies, x_0 = x_t - t v, to
  [-1 - margin, 1] and steps with the velocity of the clamped endpoint and the noise it
  implies (eps = (x_t - (1 - t) x_0) / t, v = eps - x_0), which keeps the state on the
  straight line between them (an Euler step is then exactly DDIM's update on this path;
  Ho et al. 2020's ``clip_denoised``). The last step lands on the clamped x_0, and the final
  clamp to [-1, 1] turns a background within the margin of its target into exact black,
  as the diffusion family's sampler does. 0 turns this off (the endpoint clamped to the
  data range [-1, 1]).
- Image + mask pairs and mask conditioning (issue 25), as the diffusion family's: a pair
  model integrates the mask channels with the image's; a mask-conditioned model sees the
  mask's channels concatenated to x_t at the UNet's input at every step.
- Widths: the UNet's at CPU widths (:mod:`brainsynth.models.unet`); SD3 uses transformers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from brainsynth.config import check_field_types, check_int
from brainsynth.errors import BrainsynthError
from brainsynth.models import unet
from brainsynth.models.family import Family, SamplerSetting
from brainsynth.models.generator import (
    NO_CONDITION,
    Condition,
    check_labels,
    check_masks,
    masks_arg,
)

T_DISTRIBUTIONS: tuple[str, ...] = ("logit-normal", "uniform")
WEIGHTINGS: tuple[str, ...] = ("uniform", "min-snr")
SOLVERS: tuple[str, ...] = ("euler", "heun")
TIME_SCALE = 1000.0  # the network sees 1000 t (SD3; the range of DDPM's timesteps)
MAX_STEPS = 10_000
SAMPLE_CHUNK = 32  # images per UNet pass on a CPU (see the diffusion family's)
OUTPUT_MAPPING = (
    "x = (x0 + 1) / 2 of the integrated x0, clamped to [-1, 1] at every step: exact black "
    "where x0 = -1"
)


@dataclass
class Config(unet.UNetSettings):
    """The flow model's settings (the image shape comes from :class:`ModelShape`).

    The UNet's widths (:class:`~brainsynth.models.unet.UNetSettings`), then
    ``t_distribution``: ``logit-normal`` (SD3) or ``uniform``; ``t_mean`` / ``t_std``: the
    logit-normal's m and s; ``weighting``: ``uniform`` or ``min-snr`` (with ``snr_gamma``);
    ``label_dropout``: probability that a training label becomes the
    null class (classifier-free guidance); ``black_margin``: how far below -1 exactly black
    training pixels are moved, so the final clamp gives exact black (0: off); ``solver``
    (``euler`` | ``heun``), ``sample_steps`` and ``guidance``: the sampler's defaults.
    """

    family_name = "flow"

    t_distribution: str = "logit-normal"
    t_mean: float = 0.0
    t_std: float = 1.0
    weighting: str = "uniform"
    snr_gamma: float = 5.0
    label_dropout: float = 0.1
    black_margin: float = 0.1
    solver: str = "heun"
    sample_steps: int = 10
    guidance: float = 1.0

    def __post_init__(self) -> None:
        check_field_types(self, "flow")
        self.check_unet()
        if self.t_distribution not in T_DISTRIBUTIONS:
            raise BrainsynthError(f"flow: unknown t_distribution {self.t_distribution!r}: "
                                  f"choose {', '.join(T_DISTRIBUTIONS)}")  # fmt: skip
        if not -10.0 <= self.t_mean <= 10.0 or not 0.0 < self.t_std <= 10.0:
            raise BrainsynthError(f"flow: t_mean must be in [-10, 10] and t_std in (0, 10]: "
                                  f"{self.t_mean}, {self.t_std}")  # fmt: skip
        if self.weighting not in WEIGHTINGS:
            raise BrainsynthError(
                f"flow: unknown weighting {self.weighting!r}: choose {', '.join(WEIGHTINGS)}"
            )
        if not 0.0 < self.snr_gamma <= 1000.0:
            raise BrainsynthError(f"flow: snr_gamma must be in (0, 1000]: {self.snr_gamma}")
        if not 0.0 <= self.label_dropout < 1.0:
            raise BrainsynthError(f"flow: label_dropout must be in [0, 1): {self.label_dropout}")
        if not 0.0 <= self.black_margin <= 1.0:
            raise BrainsynthError(f"flow: black_margin must be in [0, 1]: {self.black_margin}")
        check_sampler(self.sample_steps, self.guidance, self.solver)


def check_sampler(steps: Any, guidance: Any, solver: Any) -> None:
    """One-line errors for sampler settings out of range."""
    check_int(steps, "--steps", 1, MAX_STEPS, "flow sampler")
    if not (isinstance(guidance, (int, float)) and math.isfinite(guidance) and guidance >= 0):
        raise BrainsynthError(f"--guidance must be a number >= 0, got {guidance!r}")
    if solver not in SOLVERS:
        raise BrainsynthError(f"solver {solver!r:.40}: choose {', '.join(SOLVERS)}")


class FlowMatchingLoss:
    """Conditional flow matching on the straight path (the objective ``flow-matching``): the
    MSE of the network's velocity against eps - x_0 at x_t = (1 - t) x_0 + t eps."""

    def __init__(self, config: Config, shape: Any) -> None:
        self.config = config
        self.num_classes = shape.num_classes
        self.noise_shape = (shape.generated_channels, shape.size, shape.size)

    def draws(self, n: int, rng: torch.Generator) -> dict[str, torch.Tensor]:
        """The random numbers of ``n`` training images, in a fixed order from ``rng``: times,
        noise and (conditional models) which labels are kept."""
        config = self.config
        if config.t_distribution == "logit-normal":  # SD3 §3.1
            t = torch.sigmoid(config.t_mean + config.t_std * torch.randn(n, generator=rng))
        else:
            t = torch.rand(n, generator=rng)
        noise = torch.randn(n, *self.noise_shape, generator=rng)
        keep = torch.rand(n, generator=rng) >= config.label_dropout
        return {"t": t, "noise": noise, "keep": keep}

    def __call__(
        self, network: Any, x0: torch.Tensor, condition: Condition, draws: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        device = x0.device
        t = draws["t"].to(device)
        noise = draws["noise"].to(device).contiguous(memory_format=torch.channels_last)
        x0 = x0.float()
        x0 = torch.where(x0 <= -1.0, x0 - self.config.black_margin, x0)  # exact black's target
        x_t = (1 - t.view(-1, 1, 1, 1)) * x0 + t.view(-1, 1, 1, 1) * noise
        labels = condition.labels
        if self.num_classes:
            null = torch.full_like(labels, self.num_classes)
            labels = torch.where(draws["keep"].to(device), labels, null)
        velocity = network(x_t, t, labels, *masks_arg(condition.masks))
        error = (velocity.float() - (noise - x0)).square()
        if self.config.weighting == "uniform":
            loss = error.mean()
        else:  # Hang et al. 2023 on this path: min(SNR, gamma) x the squared error of x_0
            snr = ((1 - t) / t).square()
            weight = snr.clamp(max=self.config.snr_gamma) * t.square()
            loss = (error.mean(dim=(1, 2, 3)) * weight).mean()
        return loss, {"loss": loss.detach()}


class FlowSampler:
    """Euler or Heun integration of dx/dt = v(x, t) from t = 1 to 0 in ``steps`` equal steps,
    with classifier-free ``guidance`` and the clamped endpoint (see the module docstring)."""

    def __init__(self, config: Config) -> None:
        self.steps, self.guidance, self.solver = config.sample_steps, config.guidance, config.solver
        self.black_margin = config.black_margin

    def __call__(
        self,
        model: FlowGenerator,
        noise: torch.Tensor,
        condition: Condition,
        steps: int | None = None,
        guidance: float | None = None,
        solver: str | None = None,
    ) -> torch.Tensor:
        """Images in [-1, 1] from the noise (N, C, H, W); the settings default to this
        sampler's."""
        steps = self.steps if steps is None else steps
        guidance = self.guidance if guidance is None else guidance
        solver = self.solver if solver is None else solver
        check_sampler(steps, guidance, solver)
        labels, masks = condition.labels, condition.masks
        check_labels(labels, model.num_classes, len(noise))
        check_masks(masks, model.shape, len(noise))
        if guidance != 1.0 and labels is None:
            raise BrainsynthError("--guidance: this model is unconditional (no classes to guide)")
        chunk = SAMPLE_CHUNK if noise.device.type == "cpu" else len(noise)  # GPUs: whole batch
        parts = [
            self._integrate(model, noise[i : i + chunk],
                            None if labels is None else labels[i : i + chunk],
                            steps, guidance, solver,
                            None if masks is None else masks[i : i + chunk])
            for i in range(0, len(noise), chunk)
        ]  # fmt: skip
        return torch.cat(parts)

    def _velocity(
        self,
        model: FlowGenerator,
        x: torch.Tensor,
        t: float,
        labels: Any,
        guidance: float,
        masks: Any = None,
    ) -> torch.Tensor:
        """The (guided) velocity at (x, t), that of the endpoint x_0 = x - t v clamped to
        [-1 - margin, 1] and the noise it implies (``masks``: the condition masks, if any)."""
        times = torch.full((len(x),), t, device=x.device)
        if labels is None or guidance == 1.0:
            v = model(x, times, labels, *masks_arg(masks)).float()
        else:
            null = torch.full_like(labels, model.num_classes)
            twice = masks_arg(None if masks is None else torch.cat([masks, masks]))
            both = model(torch.cat([x, x]), torch.cat([times, times]), torch.cat([labels, null]),
                         *twice)  # fmt: skip
            conditional, unconditional = both.float().chunk(2)
            v = unconditional + guidance * (conditional - unconditional)
        x0 = (x - t * v).clamp(-1.0 - self.black_margin, 1.0)
        eps = (x - (1 - t) * x0) / t
        return eps - x0

    def _integrate(
        self,
        model: FlowGenerator,
        noise: torch.Tensor,
        labels: Any,
        steps: int,
        guidance: float,
        solver: str,
        masks: Any = None,
    ) -> torch.Tensor:
        x = noise.float().contiguous(memory_format=torch.channels_last)
        times = [1.0 - i / steps for i in range(steps)] + [0.0]
        for t, t_next in zip(times[:-1], times[1:], strict=True):
            v = self._velocity(model, x, t, labels, guidance, masks)
            step = t_next - t
            if solver == "heun" and t_next > 0:  # EDM Algorithm 1: Euler on the last step
                end = x + step * v
                v = 0.5 * (v + self._velocity(model, end, t_next, labels, guidance, masks))
            x = (x + step * v).float()
        return x.clamp(-1.0, 1.0)


class FlowGenerator(nn.Module):
    """The velocity network (``forward``) and its sampler (``generate``): a brainsynth
    generator. ``forward(x_t, t, labels, masks)``: the velocity at times t in [0, 1] (N,);
    labels (N,) in 0..K, K = the null class; masks (N, condition_channels, H, W): the
    condition masks of a mask-conditional model, concatenated to x_t as input channels."""

    output_mapping = OUTPUT_MAPPING

    def __init__(self, config: Config, shape: Any) -> None:
        super().__init__()
        self.config, self.shape = config, shape
        self.num_classes = shape.num_classes
        self.unet = unet.build_unet(config, shape)
        self.sampler = FlowSampler(config)

    @property
    def noise_shape(self) -> tuple[int, ...]:
        """The shape of one image's starting noise (t = 1): (C, H, W), C the generated
        channels (image, then mask of a pair model)."""
        return (self.shape.generated_channels, self.shape.size, self.shape.size)

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        labels: torch.Tensor | None = None,
        masks: torch.Tensor | None = None,
    ) -> torch.Tensor:
        check_masks(masks, self.shape, len(x))
        if masks is not None:
            x = torch.cat([x, masks.to(x.dtype)], dim=1)
        return self.unet(x, t * TIME_SCALE, class_labels=labels)

    def generate(
        self,
        noise: torch.Tensor,
        condition: Condition | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        solver: str | None = None,
    ) -> torch.Tensor:
        """:class:`FlowSampler` from the noise (N, C, H, W) to images in [-1, 1]."""
        return self.sampler(self, noise, condition or NO_CONDITION, steps, guidance, solver)

    @staticmethod
    def to_images(raw: torch.Tensor) -> torch.Tensor:
        """Raw output (in [-1, 1]) -> float32 images in [0, 1]: clip((x + 1) / 2, 0, 1)."""
        return raw.float().add(1.0).mul(0.5).clamp(0.0, 1.0)


def build(config: Config, shape: Any) -> tuple[FlowGenerator]:
    """A freshly initialised flow model: ``(generator,)`` (no discriminator)."""
    unet.check_unet_shape(config, shape)
    return (FlowGenerator(config, shape),)


def describe_sampler(config: Config, shape: Any) -> str:
    return (f"{config.solver.capitalize()} integration of the flow from noise, "
            f"{config.sample_steps} steps by default (`--steps`; `--guidance` for "
            "classifier-free guidance; `--sampler-option solver=euler|heun`)")  # fmt: skip


FAMILY = Family(
    name="flow",
    display_name="Flow matching",
    kind="flow",
    summary="a rectified flow on MONAI's UNet: logit-normal times, Euler or Heun sampling "
    "(Lipman et al. 2023; Liu et al. 2023; Esser et al. 2024)",
    Config=Config,
    build=build,
    parameter_estimate=unet.parameter_estimate,
    trainer="denoising",
    objectives=("flow-matching",),
    # the diffusion family's Adam (Ho et al. 2020, appendix B)
    objective_defaults={"flow-matching": {"optimizer": "adam", "lr": 2e-4, "betas": (0.9, 0.999)}},
    make_loss=FlowMatchingLoss,
    make_sampler=FlowSampler,
    sampler_settings=(
        SamplerSetting("steps", "sample_steps", "integration steps (the cost grows with it)"),
        SamplerSetting(
            "guidance",
            "guidance",
            "classifier-free guidance weight: 1 = plain conditional, > 1 stronger class features",
        ),
        SamplerSetting(
            "solver", "solver", "the ODE solver: euler (one evaluation a step) or heun (two)"
        ),
    ),  # fmt: skip
    describe_sampler=describe_sampler,
    conditioning=frozenset({"class", "mask"}),
    uses_latent=False,
)
