"""What a generator of any family offers to sampling: the shape of its noise and ``generate``.

Sampling (:func:`brainsynth.sampling.images.run_generator`) draws seeded noise of
``noise_shape`` per image and calls ``generate(noise, labels, **settings)``, which returns
raw images in the training range; ``to_images`` maps them to [0, 1]. ``sampler_settings``
names the keyword settings ``generate`` takes (a diffusion model: ``steps``, ``guidance``).
:class:`OneShotGenerator` gives the GANs, which map a latent vector to an image in one
forward pass, these members without changing their modules or state dicts.
"""

from __future__ import annotations

from typing import Any


class OneShotGenerator:
    """Mixin of a generator ``forward(z, labels)`` with z (N, latent): one pass per image."""

    sampler_settings: tuple[str, ...] = ()  # generate() takes no sampler settings

    @property
    def noise_shape(self) -> tuple[int, ...]:
        """The shape of one image's noise input: the latent vector, (latent,)."""
        return (int(self.shape.latent),)  # type: ignore[attr-defined]

    def generate(self, noise: Any, labels: Any = None) -> Any:
        """Raw images of ``noise`` (N, latent) and class ids: the forward pass itself."""
        return self(noise, labels)  # type: ignore[operator]
