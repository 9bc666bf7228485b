"""A denoising diffusion model: MONAI's diffusion UNet, a cosine schedule, DDIM sampling.

References: Ho et al. 2020, "Denoising Diffusion Probabilistic Models" (DDPM); Song et al.
2021, "Denoising Diffusion Implicit Models" (DDIM); Nichol & Dhariwal 2021, "Improved
Denoising Diffusion Probabilistic Models" (cosine schedule); Salimans & Ho 2022,
"Progressive Distillation for Fast Sampling of Diffusion Models" (v-prediction); Ho &
Salimans 2022, "Classifier-Free Diffusion Guidance".

- **Network**: ``monai.networks.nets.DiffusionModelUNet`` (Ho et al. 2020 §4 and appendix
  B: a UNet of residual blocks with group normalisation, a sinusoidal timestep embedding
  added in every residual block, self-attention at low resolution), shared with the other
  denoising families (:mod:`brainsynth.models.unet`, whose widths the Config inherits).
- **Forward process** (Ho et al. 2020 §2, eq. 4): x_t = sqrt(a_t) x_0 + sqrt(1 - a_t) eps
  over ``timesteps`` discrete steps with the cosine schedule of Nichol & Dhariwal 2021
  §3.2 (a_t = cos^2(((t/T + s)/(1 + s)) pi/2), s = 0.008, betas clipped at 0.999), taken
  from MONAI's ``DDPMScheduler(schedule="cosine")``.
- **Objective** (Ho et al. 2020 §3.2-3.4, the simple loss eq. 14; :class:`DiffusionLoss`,
  the objective ``denoising``): mean squared error of
  the network's prediction, with t uniform on {0, ..., T-1}. ``prediction="v"`` (default)
  predicts v = sqrt(a_t) eps - sqrt(1 - a_t) x_0 (Salimans & Ho 2022 §4, appendix D),
  which stays well scaled at both ends of the cosine schedule; ``"epsilon"`` is DDPM's
  noise prediction.
- **Loss weighting** (``weighting``): ``uniform`` is eq. 14's plain mean over timesteps;
  ``min-snr`` is Min-SNR-gamma (Hang et al. 2023, "Efficient Diffusion Training via
  Min-SNR Weighting Strategy", §3.3-3.4): each image's loss weighted so that it equals
  min(SNR_t, gamma) times the squared error of its x_0 (SNR_t = a_t / (1 - a_t), gamma =
  ``snr_gamma``, theirs 5), i.e. min(SNR_t, gamma) / (SNR_t + 1) for a v target and
  min(SNR_t, gamma) / SNR_t for an eps target: the nearly clean timesteps, whose gradients
  conflict with the rest, count less.
- **Class conditioning with classifier-free guidance** (Ho & Salimans 2022 §3): a class
  embedding is added to the timestep embedding; during training each image's label is
  replaced by a null class (id K, the K+1-th embedding) with probability ``label_dropout``,
  so one network learns the conditional and the unconditional model. Sampling with guidance
  w uses pred = pred_uncond + w (pred_cond - pred_uncond) (their eq. 6 with w -> w - 1:
  w = 1 is the plain conditional model, w = 0 the unconditional one).
- **Sampling** (:class:`DDIMSampler`): deterministic DDIM, eta = 0 (Song et al. 2021 §4.1,
  eq. 12), on ``steps``
  timesteps evenly spaced from T-1 down to 0; each step predicts x_0, clamps it to the
  data range (Ho et al. 2020's ``clip_denoised``), recomputes the noise eps from the
  clamped x_0 and the current x_t, and moves to the next timestep along that eps. Eq. 12
  writes x_{t-1} from one pair (x_0, eps) that must satisfy x_t = sqrt(a_t) x_0 +
  sqrt(1 - a_t) eps; the network's own eps belongs to the *unclamped* x_0, so stepping with
  it beside the clamped x_0 adds, at every clamped step, the jump
  sqrt(1 - a_next) sqrt(a_t) / sqrt(1 - a_t) (x0_clamped - x0_raw), which does not shrink
  with the step size: the error then grows with the number of steps (brainsynth 0.3.0 did
  this; so does MONAI 1.6.1's ``DDIMScheduler``). Recomputing eps from the clamped x_0 is
  guided-diffusion's ``_predict_eps_from_xstart`` after ``process_xstart`` (Dhariwal &
  Nichol 2021) and diffusers' ``use_clipped_model_output``; a network whose x_0 overshoots
  the clamp then samples exactly as one that predicts the clamped x_0. The last step
  returns x_0 clamped to [-1, 1], so a pixel predicted at or below -1 is exactly black
  after ``to_images`` (as StyleGAN2's ``output: clamp``): no post-hoc floor is needed.
  The same starting noise (seeded), labels, steps and guidance give the same images.

Departures, each named:

- The DDIM loop is written here, not taken from ``monai.networks.schedulers.DDIMScheduler``:
  in MONAI 1.6.1 its ``set_timesteps`` spaces the timesteps by ``linspace`` while ``step``
  moves to ``t - T // steps``, so with 25 of 1000 steps each update lands on a timestep
  other than the next one it is called with; the scheduler is also stateful (it changes its
  own tensors' dtype and device) where sampling here must be a pure function of its inputs.
- The noising (x_t and the v target) is computed here from MONAI's cosine a_t table for
  the same reason (``add_noise`` moves the scheduler's table to the batch's dtype).
- Exact black (``black_margin``, default 0.1): real skull-stripped slices are exactly black
  (-1) outside the head, but a denoiser's x_0 scatters around its target, so a clamp at -1
  alone blackens only the pixels that land below it. The loss therefore moves exactly black
  training pixels to -1 - margin (the step between black and the darkest tissue grows by
  the margin), the sampler clamps its intermediate x_0 to [-1 - margin, 1], and the final
  clamp to [-1, 1] turns a background predicted within the margin of its target into exact
  black. 0 turns this off (the plain DDPM data range).
- Image + mask pairs and mask conditioning (issue 25; not in Ho et al.): a pair model
  (``train --with-mask``) denoises the mask channels together with the image's, one
  multi-channel x_0; a mask-conditioned model (``train --condition mask``) learns
  p(image | mask) with the mask's channels concatenated to x_t at the UNet's input in every
  step (as SR3, Saharia et al. 2022 §2, concatenate their low-resolution image, and
  Fernandez et al. 2022's brainSPADE-like diffusion baselines their label maps). The masks
  are not dropped in training: guidance works on class labels only.
- Widths: the defaults (:mod:`brainsynth.models.unet`; the ``diffusion-0.3`` preset's)
  make a 64x64 model train and sample on one CPU thread: about 7 ms per image and step, so
  1,000 images with 25 steps take about 3 CPU minutes.
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

PREDICTIONS: tuple[str, ...] = ("v", "epsilon")
WEIGHTINGS: tuple[str, ...] = ("uniform", "min-snr")
# Images per UNet pass when sampling on a CPU, whatever the caller's batch: a 256-image batch
# of 64x64 activations is reallocated (and page-faulted) at every step, which cost 22% more
# CPU time than 32 at a time on one thread. Images are independent (group norm, attention
# within an image), so the chunk size changes no image beyond float rounding.
SAMPLE_CHUNK = 32
MAX_TIMESTEPS = 10_000  # Ho et al. 2020: 1,000
OUTPUT_MAPPING = (
    "x = (x0 + 1) / 2 of the DDIM sample x0, clamped to [-1, 1] at every step: exact black "
    "where x0 = -1"
)


@dataclass
class Config(unet.UNetSettings):
    """The diffusion model's settings (the image shape comes from :class:`ModelShape`).

    The UNet's widths (:class:`~brainsynth.models.unet.UNetSettings`), then ``prediction``:
    ``v`` or ``epsilon``; ``timesteps``: T of the forward process; ``weighting``: the loss's
    weight of a timestep, ``uniform`` (Ho et al.) or ``min-snr`` (Hang et al. 2023) with
    ``snr_gamma``; ``label_dropout``:
    probability that a training label becomes the null class (classifier-free guidance);
    ``black_margin``: how far below -1 exactly black training pixels are moved, so the final
    clamp gives exact black (0: off); ``sample_steps`` and ``guidance``: the sampler's
    defaults (``brainsynth sample --steps --guidance`` override them).
    """

    family_name = "ddpm"

    prediction: str = "v"
    timesteps: int = 1000
    weighting: str = "uniform"
    snr_gamma: float = 5.0
    label_dropout: float = 0.1
    black_margin: float = 0.1
    sample_steps: int = 25
    guidance: float = 1.0

    def __post_init__(self) -> None:
        check_field_types(self, "ddpm")
        self.check_unet()
        check_int(self.timesteps, "timesteps", 1, MAX_TIMESTEPS, "ddpm")
        if self.prediction not in PREDICTIONS:
            raise BrainsynthError(
                f"ddpm: unknown prediction {self.prediction!r}: choose {', '.join(PREDICTIONS)}"
            )
        if self.weighting not in WEIGHTINGS:
            raise BrainsynthError(
                f"ddpm: unknown weighting {self.weighting!r}: choose {', '.join(WEIGHTINGS)}"
            )
        if not 0.0 < self.snr_gamma <= 1000.0:
            raise BrainsynthError(f"ddpm: snr_gamma must be in (0, 1000]: {self.snr_gamma}")
        if not 0.0 <= self.label_dropout < 1.0:
            raise BrainsynthError(f"ddpm: label_dropout must be in [0, 1): {self.label_dropout}")
        if not 0.0 <= self.black_margin <= 1.0:  # NaN fails too
            raise BrainsynthError(f"ddpm: black_margin must be in [0, 1]: {self.black_margin}")
        check_sampler(self.sample_steps, self.guidance, self.timesteps)


def check_sampler(steps: int, guidance: float, timesteps: int) -> None:
    """A one-line error for sampling steps outside 1..T or a negative/NaN guidance."""
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= timesteps:
        raise BrainsynthError(f"--steps must be an integer in 1..{timesteps}, got {steps!r}")
    if not (isinstance(guidance, (int, float)) and math.isfinite(guidance) and guidance >= 0):
        raise BrainsynthError(f"--guidance must be a number >= 0, got {guidance!r}")


def cosine_alphas_cumprod(timesteps: int) -> torch.Tensor:
    """a_t (alpha-bar) of the cosine schedule, Nichol & Dhariwal 2021 §3.2, via MONAI."""
    from monai.networks.schedulers import DDPMScheduler

    return DDPMScheduler(num_train_timesteps=timesteps, schedule="cosine").alphas_cumprod.float()


class DiffusionLoss:
    """Ho et al. 2020 eq. 14 (v or eps target): the MSE of the network's prediction at a
    uniform timestep (``weighting``: each equally, or Min-SNR-gamma), with exact black moved
    by ``black_margin`` and labels dropped with probability ``label_dropout`` (the objective
    ``denoising``).

    :meth:`draws` gives the random numbers of n training images (drawn by the trainer for the
    global batch and split among processes); calling the loss computes it through
    ``network`` (the family's forward, or DDP's wrapper of it) on this process's rows.
    """

    def __init__(self, config: Config, shape: Any) -> None:
        self.prediction, self.timesteps = config.prediction, config.timesteps
        self.weighting, self.snr_gamma = config.weighting, config.snr_gamma
        self.black_margin, self.label_dropout = config.black_margin, config.label_dropout
        self.num_classes = shape.num_classes
        self.noise_shape = (shape.generated_channels, shape.size, shape.size)
        self.alphas_cumprod = cosine_alphas_cumprod(config.timesteps)

    def draws(self, n: int, rng: torch.Generator) -> dict[str, torch.Tensor]:
        """The random numbers of ``n`` training images, in a fixed order from ``rng``:
        timesteps, noise and (conditional models) which labels are kept."""
        t = torch.randint(0, self.timesteps, (n,), generator=rng)
        noise = torch.randn(n, *self.noise_shape, generator=rng)
        keep = torch.rand(n, generator=rng) >= self.label_dropout
        return {"t": t, "noise": noise, "keep": keep}

    def __call__(
        self,
        network: Any,
        x0: torch.Tensor,
        condition: Condition,
        draws: dict[str, torch.Tensor],
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        device = x0.device
        t = draws["t"].to(device)
        noise = draws["noise"].to(device).contiguous(memory_format=torch.channels_last)
        a = self.alphas_cumprod.to(device)[t].view(-1, 1, 1, 1)
        x0 = x0.float()
        x0 = torch.where(x0 <= -1.0, x0 - self.black_margin, x0)  # exact black's target
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
        target = noise if self.prediction == "epsilon" else a.sqrt() * noise - (1 - a).sqrt() * x0
        labels = condition.labels
        if self.num_classes:
            null = torch.full_like(labels, self.num_classes)
            labels = torch.where(draws["keep"].to(device), labels, null)
        prediction = network(x_t, t, labels, *masks_arg(condition.masks))
        error = (prediction.float() - target).square()
        if self.weighting == "uniform":
            loss = error.mean()
        else:  # Hang et al. 2023: min(SNR, gamma) x the squared error of x_0
            snr = (a / (1 - a)).view(-1)
            if self.prediction == "epsilon":  # min(SNR, gamma) / SNR, 1 where SNR = 0
                weight = (self.snr_gamma / snr).clamp(max=1.0)
            else:
                weight = snr.clamp(max=self.snr_gamma) / (snr + 1)
            loss = (error.mean(dim=(1, 2, 3)) * weight).mean()
        return loss, {"loss": loss.detach()}


class DDIMSampler:
    """Deterministic DDIM (eta = 0, Song et al. 2021 eq. 12) with its defaults: ``steps``
    timesteps evenly spaced from T-1 down to 0 and classifier-free ``guidance`` (Ho &
    Salimans 2022 §3.2), clamping each step's x_0 (see the module docstring)."""

    def __init__(self, config: Config) -> None:
        self.steps, self.guidance = config.sample_steps, config.guidance
        self.timesteps, self.prediction = config.timesteps, config.prediction
        self.black_margin = config.black_margin

    def __call__(
        self,
        model: DiffusionGenerator,
        noise: torch.Tensor,
        condition: Condition,
        steps: int | None = None,
        guidance: float | None = None,
    ) -> torch.Tensor:
        """Images in [-1, 1] from the noise x_T (N, C, H, W); ``steps``/``guidance`` default
        to this sampler's."""
        steps = self.steps if steps is None else steps
        guidance = self.guidance if guidance is None else guidance
        check_sampler(steps, guidance, self.timesteps)
        labels, masks = condition.labels, condition.masks
        check_labels(labels, model.num_classes, len(noise))
        check_masks(masks, model.shape, len(noise))
        if guidance != 1.0 and labels is None:
            raise BrainsynthError("--guidance: this model is unconditional (no classes to guide)")
        chunk = SAMPLE_CHUNK if noise.device.type == "cpu" else len(noise)  # GPUs: whole batch
        if len(noise) > chunk:
            parts = [
                self._ddim(model, noise[i : i + chunk],
                           None if labels is None else labels[i : i + chunk], steps, guidance,
                           None if masks is None else masks[i : i + chunk])
                for i in range(0, len(noise), chunk)
            ]  # fmt: skip
            return torch.cat(parts)
        return self._ddim(model, noise, labels, steps, guidance, masks)

    def _ddim(
        self,
        model: DiffusionGenerator,
        noise: torch.Tensor,
        labels: torch.Tensor | None,
        steps: int,
        guidance: float,
        masks: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The DDIM loop on one chunk (``masks``: its condition masks, if any)."""
        alphas = model.alphas_cumprod.double()
        times = torch.linspace(self.timesteps - 1, 0, steps).round().long().tolist()
        x = noise.float().contiguous(memory_format=torch.channels_last)
        for i, t in enumerate(times):
            a_t = alphas[t]
            a_next = alphas[times[i + 1]] if i + 1 < len(times) else torch.ones((), dtype=a_t.dtype)
            prediction = _guided(model, x, t, labels, guidance, masks)
            if self.prediction == "epsilon":
                x0 = (x - (1 - a_t).sqrt() * prediction) / a_t.sqrt()
            else:  # Salimans & Ho 2022 appendix D: x0 from v
                x0 = a_t.sqrt() * x - (1 - a_t).sqrt() * prediction
            if i + 1 == len(times):
                return x0.float().clamp(-1.0, 1.0)
            x0 = x0.clamp(-1.0 - self.black_margin, 1.0)
            eps = (x - a_t.sqrt() * x0) / (1 - a_t).sqrt()  # the noise the clamped x0 implies
            x = (a_next.sqrt() * x0 + (1 - a_next).sqrt() * eps).float()
        raise AssertionError("unreachable: steps >= 1")


def _guided(
    model: nn.Module,
    x: torch.Tensor,
    t: Any,
    labels: torch.Tensor | None,
    guidance: float,
    masks: torch.Tensor | None = None,
) -> torch.Tensor:
    """The network's prediction at time ``t``, guided (Ho & Salimans 2022 §3.2): pred_uncond
    + w (pred_cond - pred_uncond), the unconditional pass with the null class K (both
    passes with the same condition masks, if any)."""
    times = torch.full((len(x),), t, dtype=torch.long, device=x.device)
    if labels is None or guidance == 1.0:
        return model(x, times, labels, *masks_arg(masks)).float()
    null = torch.full_like(labels, model.num_classes)
    twice = masks_arg(None if masks is None else torch.cat([masks, masks]))
    both = model(torch.cat([x, x]), torch.cat([times, times]), torch.cat([labels, null]), *twice)
    conditional, unconditional = both.float().chunk(2)
    return unconditional + guidance * (conditional - unconditional)


class DiffusionGenerator(nn.Module):
    """The denoiser (``forward``) and its sampler (``generate``): a brainsynth generator.

    ``forward(x_t, t, labels, masks)`` -> the network's prediction (v or eps) for noisy
    images x_t at integer timesteps t (N,); labels (N,) in 0..K, K = the null class; masks
    (N, condition_channels, H, W): the condition masks of a mask-conditional model,
    concatenated to x_t as input channels.
    """

    output_mapping = OUTPUT_MAPPING

    def __init__(self, config: Config, shape: Any) -> None:
        super().__init__()
        self.config, self.shape = config, shape
        self.num_classes = shape.num_classes
        self.unet = unet.build_unet(config, shape)
        self.sampler = DDIMSampler(config)
        alphas = cosine_alphas_cumprod(config.timesteps)
        self.register_buffer("alphas_cumprod", alphas, persistent=False)

    @property
    def noise_shape(self) -> tuple[int, ...]:
        """The shape of one image's starting noise x_T: (C, H, W), C the generated channels
        (image, then mask of a pair model)."""
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
        return self.unet(x, t, class_labels=labels)

    def generate(
        self,
        noise: torch.Tensor,
        condition: Condition | None = None,
        steps: int | None = None,
        guidance: float | None = None,
    ) -> torch.Tensor:
        """:class:`DDIMSampler` from the noise x_T (N, C, H, W) to images in [-1, 1]."""
        return self.sampler(self, noise, condition or NO_CONDITION, steps, guidance)

    @staticmethod
    def to_images(raw: torch.Tensor) -> torch.Tensor:
        """Raw output (in [-1, 1]) -> float32 images in [0, 1]: clip((x + 1) / 2, 0, 1)."""
        return raw.float().add(1.0).mul(0.5).clamp(0.0, 1.0)


def build(config: Config, shape: Any) -> tuple[DiffusionGenerator]:
    """A freshly initialised diffusion model: ``(generator,)`` (no discriminator).

    ``shape``: a :class:`brainsynth.models.shape.ModelShape`
    (:func:`~brainsynth.models.unet.check_unet_shape` says which); num_classes 0 =
    unconditional.
    """
    unet.check_unet_shape(config, shape)
    return (DiffusionGenerator(config, shape),)


def parameter_estimate(config: Config, shape: Any) -> int:
    """An upper bound of the parameters and buffers :func:`build` allocates: the UNet's
    (:func:`~brainsynth.models.unet.parameter_estimate`) and the a_t table."""
    return unet.parameter_estimate(config, shape) + config.timesteps


def describe_sampler(config: Config, shape: Any) -> str:
    return (f"deterministic DDIM sampling from noise, {config.sample_steps} steps by default "
            "(`--steps`; `--guidance` for classifier-free guidance)")  # fmt: skip


FAMILY = Family(
    name="ddpm",
    display_name="Diffusion (DDPM)",
    kind="diffusion",
    summary="a denoising diffusion model: MONAI's UNet, cosine schedule, v-prediction, DDIM "
    "sampling (Ho et al. 2020; Song et al. 2021)",
    Config=Config,
    build=build,
    parameter_estimate=parameter_estimate,
    trainer="denoising",
    objectives=("denoising",),
    # DDPM's Adam (Ho et al. 2020, appendix B: 2e-4)
    objective_defaults={"denoising": {"optimizer": "adam", "lr": 2e-4, "betas": (0.9, 0.999)}},
    make_loss=DiffusionLoss,
    make_sampler=DDIMSampler,
    sampler_settings=(
        SamplerSetting("steps", "sample_steps", "DDIM sampling steps (the cost grows with it)"),
        SamplerSetting(
            "guidance",
            "guidance",
            "classifier-free guidance weight: 1 = plain conditional, > 1 stronger class features",
        ),
    ),  # fmt: skip
    describe_sampler=describe_sampler,
    conditioning=frozenset({"class", "mask"}),
    uses_latent=False,
)
