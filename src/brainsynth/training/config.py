"""The training configuration, nested by concern; written first into every run folder.

``config.yaml`` of a run holds a :class:`TrainConfig` with every per-objective default
resolved. It imports without torch, so the command line derives its choices and defaults
from here. Which objectives a family accepts, and the defaults of an objective that is a
family's own, come from its :class:`~brainsynth.models.family.Family`; the adversarial
objectives, shared by every GAN family, have their defaults here. They follow the paper
(§3.2.2) for ``dcgan`` and ``wgan`` (Arjovsky et al. 2017), and each named departure its own
paper:

=============  =========  ======  ============  ========  =======  ======
objective      optimiser  lr      betas         n_critic  clip     GP
=============  =========  ======  ============  ========  =======  ======
dcgan          Adam       2e-4    (0.5, 0.999)  1         --       --
wgan           RMSprop    5e-5    --            5         +-0.01   --
wgan-gp        Adam       1e-4    (0, 0.9)      5         --       10
hinge          Adam       2e-4    (0.5, 0.999)  1         --       --
nonsaturating  Adam       2e-3    (0, 0.99)     1         --       R1 10
=============  =========  ======  ============  ========  =======  ======

``hinge``: Lim & Ye 2017 / Miyato et al. 2018 (SN-GAN, Table 1 setting C). ``nonsaturating``:
the logistic loss of Goodfellow et al. 2014 with StyleGAN2's optimiser (Karras et al. 2020,
Appendix B) and an R1 penalty (Mescheder et al. 2018, eq. 9). ``--r1 GAMMA`` adds R1 to any
objective, computed every ``r1_every`` discriminator steps and scaled up by that interval
(lazy regularisation, Karras et al. 2020, §3.1). A denoising family trains with its own
objective (its ``objectives``; the defaults its ``objective_defaults`` say), which the GAN
families cannot use, nor it the GAN objectives.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brainsynth.config import DEVICES
from brainsynth.data.dataset import TRAINING_SETS
from brainsynth.data.labels import CONDITIONS, DEFAULT_TUMOR_THRESHOLD, condition_label_names
from brainsynth.errors import BrainsynthError
from brainsynth.models import DEFAULT_FAMILY, check_family
from brainsynth.models.mask_encoding import DEFAULT_ENCODING, ENCODINGS, channels_of
from brainsynth.paper import BATCH, GAN_DEFAULTS, LATENT

OPTIMIZERS: tuple[str, ...] = ("adam", "rmsprop")
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "auto")
"""``auto`` becomes ``bf16`` where the device computes bf16 natively, else ``fp32``: see
:func:`brainsynth.training.runtime.resolve_precision`; a run records what it resolved to."""
BATCH_NORM_MODES: tuple[str, ...] = ("sync", "local")  # see brainsynth.training.batch_norm
AUGMENTS: tuple[str, ...] = ("translation", "cutout", "intensity")
BUDGET_CLOCKS: tuple[str, ...] = ("wall", "cpu")

OBJECTIVE_DEFAULTS: dict[str, dict[str, Any]] = {
    **GAN_DEFAULTS,  # the paper's dcgan and wgan
    "wgan-gp": {"optimizer": "adam", "lr": 1e-4, "betas": (0.0, 0.9), "n_critic": 5,
                "clip": None, "gp_lambda": 10.0, "r1_gamma": 0.0},
    "hinge": {"optimizer": "adam", "lr": 2e-4, "betas": (0.5, 0.999), "n_critic": 1,
              "clip": None, "gp_lambda": None, "r1_gamma": 0.0},
    "nonsaturating": {"optimizer": "adam", "lr": 2e-3, "betas": (0.0, 0.99), "n_critic": 1,
                      "clip": None, "gp_lambda": None, "r1_gamma": 10.0},
}  # fmt: skip
"""Per-objective defaults of the adversarial objectives (one per name in
:data:`~brainsynth.models.family.ADVERSARIAL_OBJECTIVES`)."""
ONE_NETWORK_DEFAULTS: dict[str, Any] = {"n_critic": 1, "clip": None, "gp_lambda": None,
                                        "r1_gamma": 0.0}  # fmt: skip
"""What an objective of one network (a denoising family's own) has of the GAN settings."""
OBJECTIVE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")


def _choose(what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise BrainsynthError(f"unknown {what} {value!r}: choose one of {', '.join(choices)}")


def _at_least(value: float | None, low: float, what: str) -> None:
    """Refuse a value below ``low``, and NaN or infinity (which compare False to anything)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BrainsynthError(f"{what} must be a number, got {value!r}")
    if not math.isfinite(value) or value < low:
        raise BrainsynthError(f"{what} must be at least {low:g}, got {value}")


def _positive(value: float | None, what: str) -> None:
    """Refuse zero, negative, NaN and infinite values (None = the default)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BrainsynthError(f"{what} must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise BrainsynthError(f"{what} must be a positive number, got {value}")


@dataclass
class DataConfig:
    """What is learned: one image set of a prepared folder (paper §3.2.1-3.2.2).

    ``joint`` (not the paper's) learns the four sequences of a slice as one (4, H, W) image.
    ``condition`` (see :mod:`brainsynth.data.labels`): ``tumor`` labels a slice with-tumor
    when its ``tumor_pixels`` exceed ``tumor_threshold``; ``sequence`` labels Concat's images
    by sequence; ``mask`` draws each image for its slice's tumour mask (``masks.npy``), given
    to the network as input channels (p(image | mask), issue 25). ``with_mask`` learns each
    image together with its slice's tumour mask as extra generated channels (image + mask
    pairs); ``mask_encoding`` says how a mask becomes channels, ``one-hot`` (3) or ``scalar``
    (1) (:mod:`brainsynth.models.mask_encoding`). ``patients`` restricts training to those
    patients (empty = all), e.g. to keep a test set's patients out of a generator
    (``brainsynth augment-eval``).
    """

    prepared: str  # prepared dataset folder (brainsynth prepare), stored absolute
    sequence: str  # image set: t1 | t1c | t2 | flair | concat | joint
    condition: str = "none"  # class labels the generator is conditioned on
    label_names: tuple[str, ...] = ()  # names of the class ids 0..K-1 (conditional runs)
    tumor_threshold: float = DEFAULT_TUMOR_THRESHOLD  # with-tumor: tumor_pixels > this
    patients: tuple[str, ...] = ()  # train on these patients only (empty = all)
    with_mask: bool = False  # generate each image with its tumour mask (pairs)
    mask_encoding: str = DEFAULT_ENCODING  # one-hot (3 channels) | scalar (1 channel)

    def __post_init__(self) -> None:
        self.prepared = str(Path(self.prepared).expanduser().absolute())
        self.sequence = str(self.sequence).lower()
        _choose("--sequence", self.sequence, TRAINING_SETS)
        _choose("--condition", self.condition, CONDITIONS)
        names = condition_label_names(self.condition, self.sequence)
        self.label_names = tuple(self.label_names) or names
        if self.label_names != names:  # what loading the generator checks (vocabulary)
            raise BrainsynthError(
                f"--condition {self.condition} names its classes {', '.join(names) or '(none)'}"
                f" in this order, but label_names lists {', '.join(map(str, self.label_names))}"
            )
        _at_least(self.tumor_threshold, 0, "--tumor-threshold")
        self.patients = tuple(str(p) for p in self.patients)
        if not isinstance(self.with_mask, bool):
            raise BrainsynthError(f"with_mask must be true or false, got {self.with_mask!r}")
        _choose("--mask-encoding", self.mask_encoding, tuple(ENCODINGS))
        if self.with_mask and self.condition == "mask":
            raise BrainsynthError("--with-mask generates masks, --condition mask is given them: "
                                  "choose one")  # fmt: skip

    @property
    def mask_channels(self) -> int:
        """Generated mask channels (``with_mask``), else 0."""
        return channels_of(self.mask_encoding) if self.with_mask else 0

    @property
    def condition_channels(self) -> int:
        """Mask channels given as input (``condition: mask``), else 0."""
        return channels_of(self.mask_encoding) if self.condition == "mask" else 0

    @property
    def uses_masks(self) -> bool:
        """Whether training reads the prepared folder's ``masks.npy``."""
        return self.with_mask or self.condition == "mask"


@dataclass
class ModelConfig:
    """Which family (``--arch``), its latent size and its own settings."""

    arch: str = DEFAULT_FAMILY  # a registered family (brainsynth.models.FAMILIES)
    latent: int = LATENT  # latent vector size (Radford et al.; paper); families with one
    options: dict[str, Any] = field(default_factory=dict)  # the family's Config fields

    def __post_init__(self) -> None:
        check_family(self.arch)
        _at_least(self.latent, 1, "--latent")
        self.options = dict(self.options)


@dataclass
class ObjectiveConfig:
    """The objective (``--objective``) and, for GANs, its regularisers; ``None`` = the
    objective's default. Which names a family accepts is its own (checked when a run starts:
    :func:`brainsynth.training.launch.complete`)."""

    name: str | None = None  # dcgan | wgan | ...; None = the family's default objective
    n_critic: int | None = None  # discriminator updates per generator update
    clip: float | None = None  # WGAN weight clipping bound
    gp_lambda: float | None = None  # WGAN-GP gradient penalty weight
    r1_gamma: float | None = None  # R1 penalty weight gamma (0 = off)
    r1_every: int = 16  # R1 every this many discriminator steps (lazy regularisation)

    def __post_init__(self) -> None:
        if self.name is not None and not (
            isinstance(self.name, str) and OBJECTIVE_NAME.fullmatch(self.name)
        ):
            raise BrainsynthError(f"unknown --objective {self.name!r:.40}: an objective's name "
                                  "is lower-case letters, digits and hyphens")  # fmt: skip
        _at_least(self.n_critic, 1, "--n-critic")
        _positive(self.clip, "--clip")  # clipping every weight to 0 would learn nothing
        _at_least(self.gp_lambda, 0, "--gp-lambda")
        _at_least(self.r1_gamma, 0, "--r1")
        _at_least(self.r1_every, 1, "--r1-every")


@dataclass
class OptimizerConfig:
    """Both networks' optimiser; ``None`` = the objective's default."""

    kind: str | None = None  # adam | rmsprop
    lr: float | None = None  # learning rate of both optimisers
    betas: tuple[float, float] | None = None  # Adam betas

    def __post_init__(self) -> None:
        if self.kind is not None:
            _choose("optimizer", self.kind, OPTIMIZERS)
        _positive(self.lr, "--lr")
        if self.betas is not None:
            if len(self.betas) != 2:
                raise BrainsynthError(f"--betas: expected two numbers, got {self.betas!r}")
            for beta in self.betas:
                _at_least(beta, 0, "--betas")
                if beta >= 1:
                    raise BrainsynthError(f"--betas must be in [0, 1), got {beta}")
            self.betas = (float(self.betas[0]), float(self.betas[1]))


@dataclass
class EmaConfig:
    """An exponential moving average of the generator (Karras et al. 2018 §A.1; StyleGAN2).

    ``half_life_kimg``: thousands of images (generator updates x batch) over which an old
    weight's share halves; 0 = off (the paper's). ``rampup``: the half-life is at most
    ``rampup`` x the images seen so far, so early weights are forgotten fast (None = none).
    """

    half_life_kimg: float = 0.0
    rampup: float | None = 0.05

    def __post_init__(self) -> None:
        _at_least(self.half_life_kimg, 0, "--ema-half-life")
        _at_least(self.rampup, 0, "ema rampup")

    @property
    def enabled(self) -> bool:
        return self.half_life_kimg > 0


@dataclass
class AugmentConfig:
    """Differentiable augmentation of every discriminator input (Zhao et al. 2020); off = ().

    ``ada_target``: apply the policy with an adaptive probability p instead of always, p
    moved towards this value of the overfitting heuristic r_t = E[sign(D(real))] (ADA,
    Karras et al. 2020b §3; their target 0.6); None = off. ``ada_kimg``: thousands of images
    for p to go from 0 to 1 (theirs: 500).
    """

    policy: tuple[str, ...] = ()  # any of translation, cutout, intensity
    ada_target: float | None = None  # ADA's target r_t (0.6 in the paper); None = always on
    ada_kimg: float = 500.0  # ADA adjustment speed

    def __post_init__(self) -> None:
        if self.ada_target is not None and not 0.0 <= self.ada_target <= 1.0:
            raise BrainsynthError(f"--ada-target must be in [0, 1], got {self.ada_target}")
        if self.ada_kimg <= 0:
            raise BrainsynthError(f"ada_kimg must be positive, got {self.ada_kimg}")
        if isinstance(self.policy, str):
            self.policy = tuple(p for p in self.policy.split(",") if p)
        self.policy = tuple(self.policy)
        for name in self.policy:
            _choose("--augment policy", name, AUGMENTS)
        if len(set(self.policy)) != len(self.policy):
            raise BrainsynthError(f"--augment names a policy twice: {','.join(self.policy)}")
        if self.ada_target is not None and not self.policy:
            raise BrainsynthError("--ada-target needs augmentations to adapt: give --augment")


@dataclass
class RunConfig:
    """Where, how long, how fast, and how often to log."""

    out: str  # run folder, stored absolute
    iters: int = 10000  # generator updates in total
    batch: int = BATCH  # images per batch over all processes (paper §3.2.2)
    seed: int = 0  # seeds weights, data order, latents, augmentation
    precision: str = "fp32"  # fp32 | bf16 (autocast) | auto (bf16 where native)
    device: str = "auto"  # auto | cpu | cuda
    max_seconds: float | None = None  # time budget; stops cleanly with a checkpoint
    budget_clock: str = "wall"  # max_seconds counts wall-clock time, or this process's "cpu"
    checkpoint_every: int = 1000  # periodic checkpoints/iter-NNNNNN.pt
    sample_every: int = 500  # samples/grid-<iter>.png and TensorBoard images
    log_every: int = 50  # metrics.jsonl and TensorBoard scalars
    progress: bool = True  # tqdm progress bar
    batch_norm: str = "sync"  # several processes: sync (global-batch statistics) | local
    compile: bool = False  # torch.compile the networks (GPU option; off: unmeasured here)
    world_size: int = 1  # processes the run was trained with (recorded)
    per_rank_batch: int | None = None  # batch / world_size (recorded)

    def __post_init__(self) -> None:
        self.out = str(Path(self.out).expanduser().absolute())
        _choose("--precision", self.precision, PRECISIONS)
        _choose("--device", self.device, DEVICES)
        _choose("--budget-clock", self.budget_clock, BUDGET_CLOCKS)
        _choose("--batch-norm", self.batch_norm, BATCH_NORM_MODES)
        for name in ("iters", "batch", "checkpoint_every", "sample_every", "log_every",
                     "world_size"):  # fmt: skip
            _at_least(getattr(self, name), 1, f"--{name.replace('_', '-')}")
        _at_least(self.max_seconds, 0, "--max-minutes (run.max_seconds)")


@dataclass
class TrainConfig:
    """Everything that defines a training run; ``brainsynth train`` flags override fields."""

    data: DataConfig
    run: RunConfig
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    ema: EmaConfig = field(default_factory=EmaConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def resolved(
        self,
        objective: str,
        defaults: dict[str, Any],
        option_defaults: dict[str, Any] | None = None,
    ) -> TrainConfig:
        """A copy naming ``objective``, with every ``None`` per-objective setting replaced by
        ``defaults`` (optimizer, lr, betas, n_critic, clip, gp_lambda, r1_gamma) and the
        family's per-objective ``option_defaults`` for its settings not given."""
        filled = dataclasses.replace(self.objective, name=objective, **{
            k: defaults[k] for k in ("n_critic", "clip", "gp_lambda", "r1_gamma")
            if getattr(self.objective, k) is None})  # fmt: skip
        optimizer = OptimizerConfig(
            kind=self.optimizer.kind or defaults["optimizer"],
            lr=self.optimizer.lr if self.optimizer.lr is not None else defaults["lr"],
            betas=self.optimizer.betas if self.optimizer.betas is not None else defaults["betas"],
        )
        options = {**(option_defaults or {}), **self.model.options}
        model = dataclasses.replace(self.model, options=options)
        return dataclasses.replace(self, objective=filled, optimizer=optimizer, model=model)
