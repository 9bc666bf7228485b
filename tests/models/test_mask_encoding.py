"""How masks become channels and back: both encodings invert exactly, and one-hot decodes as
``data.masks.decode_one_hot`` does; the module imports without torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from brainsynth.data.masks import decode_one_hot, one_hot
from brainsynth.models.mask_encoding import (
    ENCODINGS,
    decode,
    encode,
    encode_uint8,
    encoding_of,
)
from brainsynth.training.data import to_model_range


@pytest.fixture
def masks() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 4, size=(5, 8, 8)).astype(np.uint8)


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_encoding_inverts_exactly(masks, encoding):
    channels = ENCODINGS[encoding]
    assert encoding_of(channels) == encoding
    values = encode(masks, channels)
    assert values.shape == (5, channels, 8, 8) and values.dtype == np.float32
    assert values.min() >= -1 and values.max() <= 1
    # the trainer's [-1, 1] scaling of uint8 channels gives exactly encode's values
    scaled = to_model_range(torch.from_numpy(encode_uint8(masks, channels))).numpy()
    np.testing.assert_array_equal(scaled, values)
    np.testing.assert_array_equal(decode((values + 1) / 2), masks)


def test_one_hot_channels_are_the_labels_and_decode_as_the_data_layer(masks):
    np.testing.assert_array_equal(encode_uint8(masks, 3) // 255, one_hot(masks).astype(np.uint8))
    noisy = np.random.default_rng(1).uniform(0, 1, size=(5, 3, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(decode(noisy), decode_one_hot(noisy))


def test_scalar_rounds_to_the_nearest_label():
    values = np.array([0.0, 0.16, 0.17, 0.49, 0.51, 0.83, 0.84, 1.0], np.float32)
    got = decode(values.reshape(1, 1, 1, -1))[0, 0]
    np.testing.assert_array_equal(got, [0, 0, 1, 1, 2, 2, 3, 3])


def test_refuses_what_is_not_a_mask():
    with pytest.raises(ValueError, match="labels 0..3"):
        encode(np.full((1, 2, 2), 4), 3)
    with pytest.raises(ValueError, match="no mask encoding has 2 channels"):
        decode(np.zeros((1, 2, 4, 4)))


def test_imports_without_torch():
    code = "import sys, brainsynth.models.mask_encoding; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
