"""brainsynth: GAN-based synthetic brain MR image generation and realism testing.

Implements Han et al., "GAN-based synthetic brain MR image generation" (ISBI 2018).
"""

__version__ = "0.1.0"
