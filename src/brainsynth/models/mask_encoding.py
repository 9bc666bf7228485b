"""How a tumour mask becomes channels of a network, and back (NumPy only; no torch).

A mask is a uint8 (H, W) map of the labels 0 background, 1 necrotic / non-enhancing core,
2 oedema, 3 enhancing (``masks.npy``; :mod:`brainsynth.data.masks`). A pair model
(``train --with-mask``) generates it as extra channels after the image's
(``ModelShape.mask_channels``); a mask-conditioned model (``train --condition mask``) reads it
as extra input channels (``ModelShape.condition_channels``). Either way the channels live in
the training range of the images, [-1, 1], in one of two encodings (``--mask-encoding``):

- ``one-hot`` (default, 3 channels): channel k is +1 where the label is k + 1, else -1;
  background is -1 everywhere. Decoding takes the label of the largest channel where it is
  above the middle of the range, else background (:func:`decode`; the same rule as
  :func:`brainsynth.data.masks.decode_one_hot`).
- ``scalar`` (1 channel): label k as 2k/3 - 1 (-1, -1/3, 1/3, 1); decoded by rounding to the
  nearest label.

**Why one-hot.** The labels are categories, not an ordered quantity: on a scalar channel a
generator that hesitates between oedema (2) and background (0) draws the value of necrosis
(1) halfway, and its decoded mask gets a ring of core where no core is; a generated value
error of 1/3 of the range already changes the label. One-hot channels keep every pair of
labels equally far apart (a label changes only when another channel overtakes it), each
nested region (whole tumour, core, enhancing) is a sum of channels a network can threshold,
and SPADE (Park et al. 2019 §3) and the label-map generators of Fernandez et al. 2022
(brainSPADE) and Shin et al. 2018 use one-hot maps. The cost: two more channels.

**Measured** (``benchmarks/mask_encoding.py``: the 8-patient phantom, FLAIR at 32 px, the
paper's DCGAN with ``--with-mask``, 4 CPU minutes of one thread and the same seed for each
encoding (1,458 and 1,427 iterations), 512 generated pairs scored by
:mod:`brainsynth.metrics.pairs` against the 560 real slices; W1 = Wasserstein-1 to the real
masks, the real-vs-real floor in brackets):

==========  ================  ===========  ============  ============  =================
encoding    tumour-free       area W1 px   oedema share  core share    whole-tumour Dice
            (real 0.47)       (4.1)        W1 (0.035)    W1 (0.021)    synthetic (real)
==========  ================  ===========  ============  ============  =================
one-hot     0.65              4.5          0.039         0.017         0.466 (0.783)
scalar      0.32              3.5          0.788         0.781         0.674 (0.783)
==========  ================  ===========  ============  ============  =================

The scalar channel placed and sized its tumours as well (better, at this budget: its whole
tumour agreed more with its image), but labelled them wrongly, as argued above: the median
generated tumour was 85% necrotic core where real tumours at 32 px are mostly oedema,
because the values between oedema and background round to core. One-hot's sub-region shares
sat at the real-vs-real floor; its weakness was too many tumour-free masks. For masks whose
labels matter (a segmenter's targets, a teaching case) one-hot is the default; the
whole-tumour difference is one seed at a small budget.
"""

from __future__ import annotations

import numpy as np

ENCODINGS: dict[str, int] = {"one-hot": 3, "scalar": 1}
"""Each encoding and its number of channels (the channel count names the encoding)."""
DEFAULT_ENCODING = "one-hot"
LABELS: tuple[int, ...] = (1, 2, 3)
"""The tumour labels (background is 0)."""
SCALAR_STEP = 85
"""uint8 value of one label step on the scalar channel: labels 0..3 -> 0, 85, 170, 255."""


def channels_of(encoding: str) -> int:
    """The number of channels of ``encoding``."""
    return ENCODINGS[encoding]


def encoding_of(channels: int) -> str:
    """The encoding of ``channels`` mask channels (3 one-hot, 1 scalar)."""
    for name, count in ENCODINGS.items():
        if count == channels:
            return name
    raise ValueError(f"no mask encoding has {channels} channels")


def check_labels(masks: np.ndarray) -> np.ndarray:
    """``masks`` as uint8, refusing anything but integer labels 0..3 (a caller's bug: every
    mask from a file is validated where it is read)."""
    masks = np.asarray(masks)
    if masks.dtype.kind not in "biu" or (masks.size and (masks.min() < 0 or masks.max() > 3)):
        raise ValueError(f"masks hold integer labels 0..3, got {masks.dtype} values")
    return masks.astype(np.uint8, copy=False)


def encode_uint8(masks: np.ndarray, channels: int) -> np.ndarray:
    """(N, H, W) labels -> (N, channels, H, W) uint8 on the images' 0..255 scale, so that the
    trainer's one conversion of images to [-1, 1] gives :func:`encode`'s values."""
    masks = check_labels(masks)
    if encoding_of(channels) == "scalar":
        return (masks * np.uint8(SCALAR_STEP))[:, None]
    return np.stack([masks == label for label in LABELS], axis=1).astype(np.uint8) * np.uint8(255)


def encode(masks: np.ndarray, channels: int) -> np.ndarray:
    """(N, H, W) labels -> (N, channels, H, W) float32 in [-1, 1] (see the module docstring)."""
    return encode_uint8(masks, channels).astype(np.float32) * np.float32(2.0 / 255.0) - 1.0


def decode(values: np.ndarray) -> np.ndarray:
    """(N, C, H, W) mask channels mapped to [0, 1] (a generator's ``to_images``) -> (N, H, W)
    uint8 labels; C = 3 (one-hot) or 1 (scalar)."""
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 4:
        raise ValueError(f"expected (N, C, H, W) mask channels, got shape {values.shape}")
    if encoding_of(values.shape[1]) == "scalar":
        return np.clip(np.rint(values[:, 0] * 3.0), 0, 3).astype(np.uint8)
    best = np.argmax(values, axis=1)
    peak = np.take_along_axis(values, best[:, None], axis=1)[:, 0]
    return np.where(peak > 0.5, best + 1, 0).astype(np.uint8)
