"""GAN models: the paper's DCGAN generator and discriminator (§3.2.2)."""

from brainsynth.models.dcgan import DISC_NORMS, Discriminator, Generator, ModelConfig, build_models

__all__ = ["DISC_NORMS", "Discriminator", "Generator", "ModelConfig", "build_models"]
