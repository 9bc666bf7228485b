"""The training configuration, written first into every run folder as ``config.yaml``.

Per-GAN defaults (``None`` fields) follow the paper (§3.2.2) and, for ``wgan``, Arjovsky et
al. 2017; ``wgan-gp`` (Gulrajani et al. 2017) is this project's first named departure:

=========  ===========  ==============  =========  ========  ===========  ============
gan        optimiser    lr              betas      n_critic  clip         critic norm
=========  ===========  ==============  =========  ========  ===========  ============
dcgan      Adam         2e-4            (0.5,      1         --           batch
                                        0.999)
wgan       RMSprop      5e-5            --         5         +-0.01       batch
wgan-gp    Adam         1e-4            (0, 0.9)   5         -- (GP 10)   layer
=========  ===========  ==============  =========  ========  ===========  ============
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from brainsynth.data.dataset import IMAGE_SETS
from brainsynth.errors import BrainsynthError

GANS: tuple[str, ...] = ("dcgan", "wgan", "wgan-gp")
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")

GAN_DEFAULTS: dict[str, dict[str, object]] = {
    "dcgan": {
        "lr": 2e-4,
        "betas": (0.5, 0.999),
        "n_critic": 1,
        "clip": None,
        "gp_lambda": None,
        "disc_norm": "batch",
    },
    "wgan": {
        "lr": 5e-5,
        "betas": None,
        "n_critic": 5,
        "clip": 0.01,
        "gp_lambda": None,
        "disc_norm": "batch",
    },
    "wgan-gp": {
        "lr": 1e-4,
        "betas": (0.0, 0.9),
        "n_critic": 5,
        "clip": None,
        "gp_lambda": 10.0,
        "disc_norm": "layer",
    },
}


@dataclass
class TrainConfig:
    """Everything that defines a training run (``brainsynth train`` flags map 1:1)."""

    data: str  # prepared dataset folder (brainsynth prepare)
    gan: str  # dcgan | wgan | wgan-gp
    sequence: str  # image set: t1 | t1c | t2 | flair | concat (paper §3.2.2)
    out: str  # run folder
    iters: int = 10000  # generator updates in total
    batch: int = 64  # paper §3.2.2
    seed: int = 0
    width: int = 32  # base channel width: Radford's 64 halved (paper §3.2.2)
    latent: int = 100  # latent vector size (Radford et al.)
    precision: str = "fp32"  # fp32 | bf16 (autocast)
    device: str = "auto"  # auto | cpu | cuda
    lr: float | None = None  # None: the per-GAN default above
    betas: tuple[float, float] | None = None  # Adam betas; None: per-GAN default
    n_critic: int | None = None  # discriminator steps per generator step
    clip: float | None = None  # WGAN weight clipping bound
    gp_lambda: float | None = None  # WGAN-GP penalty weight
    disc_norm: str | None = None  # batch | layer | none; None: per-GAN default
    max_seconds: float | None = None  # wall-clock budget; stops cleanly with a checkpoint
    checkpoint_every: int = 1000  # periodic checkpoints/iter-NNNNNN.pt
    sample_every: int = 500  # samples/grid-<iter>.png and TensorBoard images
    log_every: int = 50  # metrics.jsonl and TensorBoard scalars
    background_floor: float = 0.0  # sampling: pixels below this become exactly 0 (0 = off)
    progress: bool = True  # tqdm progress bar

    def __post_init__(self) -> None:
        self.data, self.out = str(self.data), str(self.out)
        if self.gan not in GANS:
            raise BrainsynthError(f"unknown --gan {self.gan!r}: choose one of {', '.join(GANS)}")
        self.sequence = self.sequence.lower()
        if self.sequence not in IMAGE_SETS:
            raise BrainsynthError(
                f"unknown --sequence {self.sequence!r}: choose one of {', '.join(IMAGE_SETS)}"
            )
        if self.precision not in PRECISIONS:
            raise BrainsynthError(f"unknown --precision {self.precision!r}: fp32 or bf16")
        if self.device not in DEVICES:
            raise BrainsynthError(f"unknown --device {self.device!r}: auto, cpu or cuda")
        for name in ("iters", "batch", "width", "latent"):
            if getattr(self, name) < 1:
                raise BrainsynthError(f"--{name} must be at least 1")
        for name in ("checkpoint_every", "sample_every", "log_every"):
            if getattr(self, name) < 1:
                raise BrainsynthError(f"{name} must be at least 1")
        if not 0.0 <= self.background_floor < 1.0:
            raise BrainsynthError("--background-floor must be in [0, 1)")
        if self.betas is not None:
            self.betas = (float(self.betas[0]), float(self.betas[1]))

    def resolved(self) -> TrainConfig:
        """A copy with every ``None`` per-GAN setting replaced by its default."""
        defaults = GAN_DEFAULTS[self.gan]
        updates = {k: v for k, v in defaults.items() if getattr(self, k) is None}
        return dataclasses.replace(self, **updates)
