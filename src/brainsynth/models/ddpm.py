"""A denoising diffusion model: MONAI's diffusion UNet, a cosine schedule, DDIM sampling.

References: Ho et al. 2020, "Denoising Diffusion Probabilistic Models" (DDPM); Song et al.
2021, "Denoising Diffusion Implicit Models" (DDIM); Nichol & Dhariwal 2021, "Improved
Denoising Diffusion Probabilistic Models" (cosine schedule); Salimans & Ho 2022,
"Progressive Distillation for Fast Sampling of Diffusion Models" (v-prediction); Ho &
Salimans 2022, "Classifier-Free Diffusion Guidance".

- **Network**: ``monai.networks.nets.DiffusionModelUNet`` (Ho et al. 2020 §4 and appendix
  B: a UNet of residual blocks with group normalisation, a sinusoidal timestep embedding
  added in every residual block, self-attention at low resolution). Its widths are Config
  fields: ``base_channels`` x ``channel_mult`` per level (the side halves from level to
  level), ``res_blocks`` per level, attention at the sides in ``attention_resolutions``.
- **Forward process** (Ho et al. 2020 §2, eq. 4): x_t = sqrt(a_t) x_0 + sqrt(1 - a_t) eps
  over ``timesteps`` discrete steps with the cosine schedule of Nichol & Dhariwal 2021
  §3.2 (a_t = cos^2(((t/T + s)/(1 + s)) pi/2), s = 0.008, betas clipped at 0.999), taken
  from MONAI's ``DDPMScheduler(schedule="cosine")``.
- **Objective** (Ho et al. 2020 §3.2-3.4, the simple loss eq. 14): mean squared error of
  the network's prediction, with t uniform on {0, ..., T-1}. ``prediction="v"`` (default)
  predicts v = sqrt(a_t) eps - sqrt(1 - a_t) x_0 (Salimans & Ho 2022 §4, appendix D),
  which stays well scaled at both ends of the cosine schedule; ``"epsilon"`` is DDPM's
  noise prediction.
- **Class conditioning with classifier-free guidance** (Ho & Salimans 2022 §3): a class
  embedding is added to the timestep embedding; during training each image's label is
  replaced by a null class (id K, the K+1-th embedding) with probability ``label_dropout``,
  so one network learns the conditional and the unconditional model. Sampling with guidance
  w uses pred = pred_uncond + w (pred_cond - pred_uncond) (their eq. 6 with w -> w - 1:
  w = 1 is the plain conditional model, w = 0 the unconditional one).
- **Sampling**: deterministic DDIM, eta = 0 (Song et al. 2021 §4.1, eq. 12), on ``steps``
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
- Widths: the defaults (8 channels, multipliers 1, 2, 4, 8, attention at 8 px, one
  residual block per level, 4 normalisation groups; the ``diffusion`` preset's) make a
  64x64 model train and sample on one CPU thread: about 7 ms per image and step, so 1,000
  images with 25 steps take about 3 CPU minutes. MONAI's own defaults (32-64 channels, two
  blocks, attention from 16 px) are closer to the GPU widths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from brainsynth.config import check_field_types, check_int
from brainsynth.errors import BrainsynthError
from brainsynth.models.shape import MAX_SIZE

TRAINER = "denoiser"  # trained by brainsynth.training.denoise.DenoiserTrainer
SUPPORTS_LABELS = True
DEFAULT_OBJECTIVE = "denoising"
PREDICTIONS: tuple[str, ...] = ("v", "epsilon")
SAMPLER_SETTINGS: tuple[str, ...] = ("steps", "guidance")
# Images per UNet pass when sampling on a CPU, whatever the caller's batch: a 256-image batch
# of 64x64 activations is reallocated (and page-faulted) at every step, which cost 22% more
# CPU time than 32 at a time on one thread. Images are independent (group norm, attention
# within an image), so the chunk size changes no image beyond float rounding.
SAMPLE_CHUNK = 32
MAX_LEVELS = 8  # UNet levels (channel_mult entries); a 256 px image halves to 2 px in 8
MAX_MULT = 64  # a level's width multiplier
LIMITS: dict[str, tuple[int, int]] = {
    "base_channels": (1, 1024),
    "res_blocks": (1, 8),
    "norm_groups": (1, 1024),
    "head_channels": (1, 4096),
    "timesteps": (1, 10_000),  # Ho et al. 2020: 1,000
}
"""The integer settings' ranges, so that a config read from a file cannot ask for
gigabytes (a widths' product is bounded by :func:`parameter_estimate`)."""
OUTPUT_MAPPING = (
    "x = (x0 + 1) / 2 of the DDIM sample x0, clamped to [-1, 1] at every step: exact black "
    "where x0 = -1"
)


@dataclass
class Config:
    """The diffusion model's settings (the image shape comes from :class:`ModelShape`).

    ``base_channels`` x ``channel_mult``: channels per UNet level (one level per multiplier,
    the side halving between levels); ``attention_resolutions``: sides (px) whose level has
    self-attention; ``res_blocks``: residual blocks per level; ``norm_groups``: groups of
    the group normalisation (divides every width); ``head_channels``: channels per attention
    head; ``prediction``: ``v`` or ``epsilon``; ``timesteps``: T of the forward process;
    ``label_dropout``: probability that a training label becomes the null class
    (classifier-free guidance); ``black_margin``: how far below -1 exactly black training
    pixels are moved, so the final clamp gives exact black (0: off); ``sample_steps`` and
    ``guidance``: the sampler's defaults (``brainsynth sample --steps --guidance`` override
    them).
    """

    base_channels: int = 8
    channel_mult: tuple[int, ...] = (1, 2, 4, 8)
    attention_resolutions: tuple[int, ...] = (8,)
    res_blocks: int = 1
    norm_groups: int = 4
    head_channels: int = 16
    prediction: str = "v"
    timesteps: int = 1000
    label_dropout: float = 0.1
    black_margin: float = 0.1
    sample_steps: int = 25
    guidance: float = 1.0

    def __post_init__(self) -> None:
        check_field_types(self, "ddpm")
        self.channel_mult = tuple(self.channel_mult)
        self.attention_resolutions = tuple(self.attention_resolutions)
        if not 1 <= len(self.channel_mult) <= MAX_LEVELS:
            raise BrainsynthError(f"ddpm: channel_mult needs 1 to {MAX_LEVELS} multipliers")
        if len(self.attention_resolutions) > MAX_LEVELS:
            raise BrainsynthError(f"ddpm: at most {MAX_LEVELS} attention_resolutions")
        for name, (low, high) in LIMITS.items():
            check_int(getattr(self, name), name, low, high, "ddpm")
        for m in self.channel_mult:
            check_int(m, "each channel_mult", 1, MAX_MULT, "ddpm")
        for r in self.attention_resolutions:
            check_int(r, "each attention resolution", 1, MAX_SIZE, "ddpm")
        bad = [c for c in self.widths if c % self.norm_groups]
        if bad:
            raise BrainsynthError(
                f"ddpm: norm_groups {self.norm_groups} must divide every width {self.widths}"
            )
        if self.prediction not in PREDICTIONS:
            raise BrainsynthError(
                f"ddpm: unknown prediction {self.prediction!r}: choose {', '.join(PREDICTIONS)}"
            )
        if not 0.0 <= self.label_dropout < 1.0:
            raise BrainsynthError(f"ddpm: label_dropout must be in [0, 1): {self.label_dropout}")
        if not 0.0 <= self.black_margin <= 1.0:  # NaN fails too
            raise BrainsynthError(f"ddpm: black_margin must be in [0, 1]: {self.black_margin}")
        check_sampler(self.sample_steps, self.guidance, self.timesteps)

    @property
    def widths(self) -> tuple[int, ...]:
        """Channels of each UNet level."""
        return tuple(self.base_channels * m for m in self.channel_mult)


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


def _unet(config: Config, shape: Any) -> nn.Module:
    from monai.networks.nets import DiffusionModelUNet

    sides = [shape.size // 2**i for i in range(len(config.channel_mult))]
    return DiffusionModelUNet(
        spatial_dims=2,
        in_channels=shape.channels,
        out_channels=shape.channels,
        num_res_blocks=config.res_blocks,
        channels=config.widths,
        attention_levels=[side in config.attention_resolutions for side in sides],
        norm_num_groups=config.norm_groups,
        num_head_channels=config.head_channels,
        num_class_embeds=shape.num_classes + 1 if shape.num_classes else None,
    )


class DiffusionGenerator(nn.Module):
    """The denoiser (``forward``) and its sampler (``generate``): a brainsynth generator.

    ``forward(x_t, t, labels)`` -> the network's prediction (v or eps) for noisy images
    x_t at integer timesteps t (N,); labels (N,) in 0..K, K = the null class.
    """

    sampler_settings = SAMPLER_SETTINGS
    output_mapping = OUTPUT_MAPPING

    def __init__(self, config: Config, shape: Any) -> None:
        super().__init__()
        self.config, self.shape = config, shape
        self.num_classes = shape.num_classes
        self.unet = _unet(config, shape)
        alphas = cosine_alphas_cumprod(config.timesteps)
        self.register_buffer("alphas_cumprod", alphas, persistent=False)

    @property
    def noise_shape(self) -> tuple[int, ...]:
        """The shape of one image's starting noise x_T: (C, H, W)."""
        return (self.shape.channels, self.shape.size, self.shape.size)

    def forward(
        self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.unet(x, t, class_labels=labels)

    # ------------------------------------------------------------------ training

    def draws(self, n: int, rng: torch.Generator) -> dict[str, torch.Tensor]:
        """The random numbers of ``n`` training images, in a fixed order from ``rng``:
        timesteps, noise and (conditional models) which labels are kept."""
        t = torch.randint(0, self.config.timesteps, (n,), generator=rng)
        noise = torch.randn(n, *self.noise_shape, generator=rng)
        keep = torch.rand(n, generator=rng) >= self.config.label_dropout
        return {"t": t, "noise": noise, "keep": keep}

    def loss(
        self,
        denoise: Any,
        x0: torch.Tensor,
        labels: torch.Tensor | None,
        draws: dict[str, torch.Tensor],
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Ho et al. 2020 eq. 14 (v or eps target): MSE of ``denoise(x_t, t, labels)``.

        ``denoise`` is this module's forward, or the trainer's wrapper of it (DDP);
        ``draws`` come from :meth:`draws` (this rank's rows).
        """
        device = x0.device
        t = draws["t"].to(device)
        noise = draws["noise"].to(device).contiguous(memory_format=torch.channels_last)
        a = self.alphas_cumprod[t].view(-1, 1, 1, 1)
        x0 = x0.float()
        x0 = torch.where(x0 <= -1.0, x0 - self.config.black_margin, x0)  # exact black's target
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
        target = (
            noise if self.config.prediction == "epsilon" else a.sqrt() * noise - (1 - a).sqrt() * x0
        )
        if self.num_classes:
            null = torch.full_like(labels, self.num_classes)
            labels = torch.where(draws["keep"].to(device), labels, null)
        prediction = denoise(x_t, t, labels)
        loss = (prediction.float() - target).square().mean()
        return loss, {"loss": loss.detach()}

    # ------------------------------------------------------------------ sampling

    def _predict(
        self, x: torch.Tensor, t: int, labels: torch.Tensor | None, guidance: float
    ) -> torch.Tensor:
        """The network's prediction at timestep ``t``, guided (Ho & Salimans 2022 §3.2)."""
        times = torch.full((len(x),), t, dtype=torch.long, device=x.device)
        if labels is None or guidance == 1.0:
            return self(x, times, labels).float()
        null = torch.full_like(labels, self.num_classes)
        both = self(torch.cat([x, x]), torch.cat([times, times]), torch.cat([labels, null]))
        conditional, unconditional = both.float().chunk(2)
        return unconditional + guidance * (conditional - unconditional)

    def generate(
        self,
        noise: torch.Tensor,
        labels: torch.Tensor | None = None,
        steps: int | None = None,
        guidance: float | None = None,
    ) -> torch.Tensor:
        """DDIM (eta = 0, Song et al. 2021 eq. 12) from the noise x_T (N, C, H, W) to
        images in [-1, 1]; ``steps``/``guidance`` default to the Config's."""
        steps = self.config.sample_steps if steps is None else steps
        guidance = self.config.guidance if guidance is None else guidance
        check_sampler(steps, guidance, self.config.timesteps)
        self._check_labels(labels, len(noise))
        if guidance != 1.0 and labels is None:
            raise BrainsynthError("--guidance: this model is unconditional (no classes to guide)")
        chunk = SAMPLE_CHUNK if noise.device.type == "cpu" else len(noise)  # GPUs: whole batch
        if len(noise) > chunk:
            parts = [
                self._ddim(noise[i : i + chunk], None if labels is None else labels[i : i + chunk],
                           steps, guidance)
                for i in range(0, len(noise), chunk)
            ]  # fmt: skip
            return torch.cat(parts)
        return self._ddim(noise, labels, steps, guidance)

    def _ddim(
        self, noise: torch.Tensor, labels: torch.Tensor | None, steps: int, guidance: float
    ) -> torch.Tensor:
        """The DDIM loop of :meth:`generate` on one chunk."""
        alphas = self.alphas_cumprod.double()
        times = torch.linspace(self.config.timesteps - 1, 0, steps).round().long().tolist()
        x = noise.float().contiguous(memory_format=torch.channels_last)
        for i, t in enumerate(times):
            a_t = alphas[t]
            a_next = alphas[times[i + 1]] if i + 1 < len(times) else torch.ones((), dtype=a_t.dtype)
            prediction = self._predict(x, t, labels, guidance)
            if self.config.prediction == "epsilon":
                x0 = (x - (1 - a_t).sqrt() * prediction) / a_t.sqrt()
            else:  # Salimans & Ho 2022 appendix D: x0 from v
                x0 = a_t.sqrt() * x - (1 - a_t).sqrt() * prediction
            if i + 1 == len(times):
                return x0.float().clamp(-1.0, 1.0)
            x0 = x0.clamp(-1.0 - self.config.black_margin, 1.0)
            eps = (x - a_t.sqrt() * x0) / (1 - a_t).sqrt()  # the noise the clamped x0 implies
            x = (a_next.sqrt() * x0 + (1 - a_next).sqrt() * eps).float()
        raise AssertionError("unreachable: steps >= 1")

    def _check_labels(self, labels: torch.Tensor | None, n: int) -> None:
        if self.num_classes and labels is None:
            raise BrainsynthError(f"this model is conditional ({self.num_classes} classes): "
                                  "give labels")  # fmt: skip
        if not self.num_classes and labels is not None:
            raise BrainsynthError("this model is unconditional: it takes no labels")
        if labels is not None and (
            len(labels) != n or (n and (labels.min() < 0 or labels.max() >= self.num_classes))
        ):
            raise BrainsynthError(f"labels must be {n} class ids in 0..{self.num_classes - 1}")

    @staticmethod
    def to_images(raw: torch.Tensor) -> torch.Tensor:
        """Raw output (in [-1, 1]) -> float32 images in [0, 1]: clip((x + 1) / 2, 0, 1)."""
        return raw.float().add(1.0).mul(0.5).clamp(0.0, 1.0)


def build(config: Config, shape: Any) -> tuple[DiffusionGenerator]:
    """A freshly initialised diffusion model: ``(generator,)`` (no discriminator).

    ``shape``: a :class:`brainsynth.models.shape.ModelShape`: size a power of two in 16..256
    divisible by 2 ** (levels - 1); 1 or 4 channels (any count works); num_classes 0 =
    unconditional.
    """
    size, levels = int(shape.size), len(config.channel_mult)
    if size < 16 or size > 256 or size & (size - 1):
        raise BrainsynthError(f"ddpm: image size {size} is not a power of two in 16..256")
    sides = [size // 2**i for i in range(levels)]
    if sides[-1] < 2:
        raise BrainsynthError(f"ddpm: {levels} levels halve {size} px below 2 px; use fewer "
                              "channel_mult entries")  # fmt: skip
    unknown = [r for r in config.attention_resolutions if r not in sides]
    if unknown:
        raise BrainsynthError(
            f"ddpm: attention_resolutions {unknown} are not sides of this UNet's levels "
            f"({', '.join(map(str, sides))} px)"
        )
    attention_widths = [w for w, s in zip(config.widths, sides, strict=True)
                        if s in config.attention_resolutions]  # fmt: skip
    if any(w % config.head_channels for w in attention_widths):
        raise BrainsynthError(f"ddpm: head_channels {config.head_channels} must divide the "
                              f"widths with attention {attention_widths}")  # fmt: skip
    if config.widths[-1] % config.head_channels:  # MONAI's middle block always has attention
        raise BrainsynthError(
            f"ddpm: head_channels {config.head_channels} must divide the last width "
            f"{config.widths[-1]} (base_channels x the last channel_mult): the UNet's middle "
            "block always uses attention"
        )
    return (DiffusionGenerator(config, shape),)


def parameter_estimate(config: Config, shape: Any) -> int:
    """An upper bound of the parameters and buffers :func:`build` allocates, counted without
    building: MONAI's UNet level by level (residual blocks, attention, resampling
    convolutions; normalisation and bias terms bounded from above)."""
    widths, channels = config.widths, shape.channels
    sides = [shape.size // 2**i for i in range(len(widths))]
    attention = [side in config.attention_resolutions for side in sides]
    embed = 4 * widths[0]  # MONAI's time embedding: 4 x the first width

    def resnet(a: int, b: int) -> int:
        return 9 * a * b + 9 * b * b + (a * b if a != b else 0) + embed * b + 2 * a + 8 * b

    def attend(c: int) -> int:
        return 4 * c * c + 8 * c

    total = 10 * channels * widths[0] + widths[0] * embed + embed * embed + 2 * embed
    total += (shape.num_classes + 1) * embed if shape.num_classes else 0
    previous = widths[0]
    for i, width in enumerate(widths):  # down path
        for j in range(config.res_blocks):
            total += resnet(previous if j == 0 else width, width)
            total += attend(width) if attention[i] else 0
        total += 10 * width * width if i + 1 < len(widths) else 0
        previous = width
    total += 2 * resnet(widths[-1], widths[-1]) + attend(widths[-1])  # middle
    ups, up_attention = widths[::-1], attention[::-1]
    previous = ups[0]
    for i, width in enumerate(ups):  # up path: inputs concatenated with the skips
        skip = ups[min(i + 1, len(ups) - 1)]
        for j in range(config.res_blocks + 1):
            inputs = (previous if j == 0 else width) + (skip if j == config.res_blocks else width)
            total += resnet(inputs, width) + (attend(width) if up_attention[i] else 0)
        total += 10 * width * width if i + 1 < len(ups) else 0
        previous = width
    return total + 2 * widths[0] + 10 * widths[0] * channels + config.timesteps
