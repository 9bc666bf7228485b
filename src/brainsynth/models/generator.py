"""What a generator of any family offers: the shape of its noise, ``generate`` and its hooks.

Sampling (:func:`brainsynth.sampling.images.run_generator`) draws seeded noise of
``noise_shape`` per image and calls ``generate(noise, condition, **settings)``, which returns
raw images in the training range; ``to_images`` maps them to [0, 1]. What an image is drawn
for travels in one :class:`Condition` record (class labels today; tumour masks when a family
supports them), through ``generate``, a denoising family's loss and the trainers alike, so a
new kind of conditioning adds a field, not a parameter to every signature.

:class:`OneShotGenerator` gives the GANs, which map a latent vector to an image in one
forward pass, these members without changing their modules or state dicts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from brainsynth.errors import BrainsynthError

BatchDraw = Callable[[int, Callable[[int], Any]], Any]
"""``draw(n, sample)``: this process's ``n`` rows of ``sample(global_n)``, on its device."""


@dataclass(frozen=True, eq=False)
class Condition:
    """What images are drawn for: one entry per image in each field that is set.

    ``labels``: class ids (N,) of a class-conditional model; ``masks``: tumour masks given as
    input, (N, condition_channels, H, W) in the training range [-1, 1]
    (:mod:`brainsynth.models.mask_encoding`), of a mask-conditional one.
    """

    labels: Any = None
    masks: Any = None

    def rows(self, part: slice) -> Condition:
        """The condition of the images ``part`` of the batch."""
        return Condition(*(None if v is None else v[part] for v in (self.labels, self.masks)))

    def to(self, device: Any) -> Condition:
        """The same condition with its tensors on ``device``."""
        return Condition(*(None if v is None else v.to(device) for v in (self.labels, self.masks)))


NO_CONDITION = Condition()


def check_labels(labels: Any, num_classes: int, n: int) -> None:
    """One-line errors for labels a model of ``num_classes`` classes cannot take for ``n``
    images: missing (conditional), given (unconditional), or not n ids in 0..K-1."""
    if num_classes and labels is None:
        raise BrainsynthError(f"this model is conditional ({num_classes} classes): give labels")
    if not num_classes and labels is not None:
        raise BrainsynthError("this model is unconditional: it takes no labels")
    if labels is not None and (
        len(labels) != n or (n and (labels.min() < 0 or labels.max() >= num_classes))
    ):
        raise BrainsynthError(f"labels must be {n} class ids in 0..{num_classes - 1}")


def check_masks(masks: Any, shape: Any, n: int) -> None:
    """One-line errors for condition masks a model of ``shape`` cannot take for ``n``
    images: missing (mask-conditional), given (not), or not (n, condition_channels, H, W)."""
    wanted = shape.condition_channels
    if wanted and masks is None:
        raise BrainsynthError(
            "this model draws images for given tumour masks (trained with "
            "--condition mask): give the masks (sample --from-masks)"
        )
    if not wanted and masks is not None:
        raise BrainsynthError("this model is not conditioned on tumour masks: it takes none")
    expected = (n, wanted, shape.size, shape.size)
    if masks is not None and tuple(masks.shape) != expected:
        raise BrainsynthError(f"condition masks must be {expected}, got {tuple(masks.shape)}")


def masks_arg(masks: Any) -> tuple[Any, ...]:
    """The condition masks as the trailing argument of a network call, or nothing: a network
    of a model without masks is called exactly as before they existed."""
    return () if masks is None else (masks,)


class OneShotGenerator:
    """Mixin of a generator ``forward(z, labels)`` with z (N, latent): one pass per image."""

    @property
    def noise_shape(self) -> tuple[int, ...]:
        """The shape of one image's noise input: the latent vector, (latent,)."""
        return (int(self.shape.latent),)  # type: ignore[attr-defined]

    def generate(self, noise: Any, condition: Condition | None = None) -> Any:
        """Raw images of ``noise`` (N, latent) and ``condition``: the forward pass itself
        (with the condition's masks for a mask-conditional generator)."""
        condition = condition or NO_CONDITION
        if condition.masks is not None:
            return self(noise, condition.labels, condition.masks)  # type: ignore[operator]
        return self(noise, condition.labels)  # type: ignore[operator]

    def share_training_draws(self, draw: BatchDraw) -> None:
        """The trainer's hook for random numbers a generator draws itself in training (e.g.
        StyleGAN2's per-pixel noise): ``draw`` gives this process's rows of the global
        batch's draw, so several processes compute what one does. Most draw none."""
