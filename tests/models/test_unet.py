"""The denoisers' UNet: noise-level features whose width does not depend on the channels."""

from __future__ import annotations

import pytest
import torch

from brainsynth.errors import BrainsynthError
from brainsynth.models import family
from brainsynth.models.checkpoint import ModelRecord
from brainsynth.models.shape import ModelShape
from brainsynth.models.unet import parameter_estimate

TINY = {"base_channels": 8, "channel_mult": [1, 2], "attention_resolutions": [8],
        "head_channels": 8, "norm_groups": 4}  # fmt: skip


def network(features: int, classes: int = 2):
    torch.manual_seed(0)
    record = ModelRecord(family("ddpm"), {**TINY, "time_features": features},
                         ModelShape(16, num_classes=classes))  # fmt: skip
    return record.build()[0].unet


def test_features_widen_the_embedding_whatever_the_channels() -> None:
    assert network(0).time_embed[0].in_features == 8  # MONAI's: the first width (0.3.0's)
    wide = network(64)
    assert wide.time_embed[0].in_features == 64 and wide.time_embed[0].out_features == 32
    settings = family("ddpm").Config(**TINY, time_features=64)
    built = sum(p.numel() for p in wide.parameters())
    assert built <= parameter_estimate(settings, ModelShape(16, num_classes=2)) <= 1.1 * built
    with pytest.raises(BrainsynthError, match="time_features must be even"):
        family("ddpm").Config(**TINY, time_features=7)


def test_the_wider_network_computes_what_monais_does() -> None:
    """With as many features as MONAI's embedding and the same weights, the subclass's forward
    is MONAI's, bit for bit: only the width of the features changes."""
    monai, ours = network(0), network(8)
    with torch.no_grad():
        for parameter in monai.parameters():  # MONAI zero-initialises its output layers
            parameter.add_(0.05 * torch.randn(parameter.shape))
    ours.load_state_dict(monai.state_dict())
    x, t, labels = torch.randn(3, 1, 16, 16), torch.tensor([3, 400, 999]), torch.tensor([0, 1, 2])
    with torch.no_grad():
        assert torch.equal(monai(x, t, class_labels=labels), ours(x, t, class_labels=labels))
