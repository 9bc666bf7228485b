"""Model settings read from a file: typed, bounded and sized before anything is built."""

from __future__ import annotations

import dataclasses
import importlib
import itertools
import time

import pytest

from brainsynth.config import check_nesting
from brainsynth.errors import BrainsynthError
from brainsynth.models import FAMILIES, family
from brainsynth.models.checkpoint import ModelRecord
from brainsynth.models.shape import MAX_PARAMETERS, ModelShape

TINY_SG2 = {"channel_base": 64, "channel_max": 8, "w_dim": 8}
TINY_DDPM = {
    "base_channels": 8,
    "channel_mult": [1, 2],
    "attention_resolutions": [8],
    "norm_groups": 4,
    "head_channels": 8,
}


def allocated(nets) -> int:
    return sum(t.numel() for net in nets for t in itertools.chain(net.parameters(), net.buffers()))


@pytest.mark.parametrize(
    ("arch", "options", "shape"),
    [
        ("dcgan", {}, ModelShape(64)),
        ("dcgan", {"width": 4}, ModelShape(16, 4, 7, 3)),
        ("stylegan2", {}, ModelShape(64)),
        ("stylegan2", TINY_SG2, ModelShape(16, 1, 100, 2)),
        ("ddpm", {}, ModelShape(64)),
        ("ddpm", TINY_DDPM, ModelShape(16, 4, 100, 2)),
        (
            "ddpm",
            {
                **TINY_DDPM,
                "channel_mult": [1, 1, 2],
                "res_blocks": 2,
                "attention_resolutions": [16, 8],
            },
            ModelShape(32, 1, 100, 4),
        ),
        # image + mask pairs (generated mask channels) and mask conditioning (input channels)
        ("dcgan", {"width": 4}, ModelShape(16, 1, 7, 0, mask_channels=3)),
        ("stylegan2", TINY_SG2, ModelShape(16, 4, 100, 0, mask_channels=1)),
        ("ddpm", TINY_DDPM, ModelShape(16, 1, 100, 2, mask_channels=3)),
        ("ddpm", TINY_DDPM, ModelShape(16, 4, 100, 0, condition_channels=3)),
        ("spade", {}, ModelShape(64, 1, 100, condition_channels=3)),
        ("spade", {"width": 4, "spade_hidden": 4}, ModelShape(16, 4, 100, condition_channels=1)),
    ],
)
def test_parameter_estimates_bound_what_is_built(arch, options, shape) -> None:
    module = family(arch)
    config = module.Config(**options)
    built = allocated(module.build(config, shape))
    estimate = module.parameter_estimate(config, shape)
    assert built <= estimate <= 1.1 * built, (built, estimate)


def build_forbidden(monkeypatch: pytest.MonkeyPatch, arch: str) -> None:
    """Make building ``arch`` fail the test: a refusal must come before it."""

    def built(*args, **kwargs):
        raise AssertionError(f"{arch} was built")

    module = importlib.import_module(FAMILIES[arch])
    monkeypatch.setattr(module, "FAMILY", dataclasses.replace(module.FAMILY, build=built))


@pytest.mark.parametrize(
    ("arch", "options", "shape", "message"),
    [
        ("dcgan", {}, {"size": 64, "latent": 10**9}, "latent must be an integer in 1..4,096"),
        ("dcgan", {}, {"size": 2**40}, "size must be an integer in 1..1,024"),
        ("dcgan", {"width": 10**7}, {"size": 64}, "width must be an integer in 1..1,024"),
        ("ddpm", {"timesteps": 10**9}, {"size": 64}, "timesteps must be an integer in 1..10,000"),
        ("stylegan2", {"channel_base": 10**9}, {"size": 64}, "channel_base must be an integer"),
        ("dcgan", {}, {"size": 64, "num_classes": 10**6}, "num_classes must be an integer"),
        ("dcgan", {}, {"size": 64, "channels": 10**5}, "channels must be an integer"),
        ("dcgan", {}, {"size": 64, "mask_channels": 99}, "mask_channels must be an integer in"),
        ("dcgan", {}, {"size": 64, "condition_channels": -1}, "condition_channels must be an"),
        # every setting within its own bounds, together gigabytes: the estimate refuses them
        ("dcgan", {"width": 1024}, {"size": 1024}, f"more than the {MAX_PARAMETERS:,}"),
        (
            "stylegan2",
            {"channel_base": 2**17, "channel_max": 1024, "w_dim": 2048, "mapping_layers": 16},
            {"size": 1024},
            f"more than the {MAX_PARAMETERS:,}",
        ),
        (
            "ddpm",
            {"base_channels": 1024, "channel_mult": [1, 2]},
            {"size": 16},
            f"more than the {MAX_PARAMETERS:,}",
        ),
    ],
)
def test_huge_settings_are_refused_before_anything_is_built(
    arch, options, shape, message, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_forbidden(monkeypatch, arch)
    started = time.process_time()
    with pytest.raises(BrainsynthError, match=message):
        ModelRecord(family(arch), options, ModelShape(**shape)).build()
    assert time.process_time() - started < 5  # no gigabytes were touched (generous margin)


@pytest.mark.parametrize(
    ("arch", "options", "shape", "message"),
    [
        ("dcgan", {}, {"size": 64.0}, "size must be an integer in 1..1,024, got 64.0"),
        ("dcgan", {}, {"size": True}, "size must be an integer"),
        ("dcgan", {"width": 32.5}, {"size": 64}, "width must be an integer, got 32.5"),
        ("dcgan", {"width": True}, {"size": 64}, "width must be an integer, got True"),
        ("dcgan", {"disc_norm": 3}, {"size": 64}, "disc_norm must be text"),
        ("stylegan2", {"noise": 1}, {"size": 64}, "noise must be true or false"),
        ("stylegan2", {"mapping_lr_mult": float("inf")}, {"size": 64}, "a finite number"),
        ("ddpm", {"channel_mult": [1.5, 2]}, {"size": 64}, "channel_mult must be a list"),
        ("ddpm", {"channel_mult": "1,2"}, {"size": 64}, "channel_mult must be a list"),
        ("ddpm", {"timesteps": 1000.0}, {"size": 64}, "timesteps must be an integer"),
    ],
)
def test_settings_must_be_of_their_declared_type(
    arch, options, shape, message, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_forbidden(monkeypatch, arch)
    with pytest.raises(BrainsynthError, match=message):
        ModelRecord(family(arch), options, ModelShape(**shape)).build()


def test_ddpm_middle_block_attention_is_checked_before_monai() -> None:
    # MONAI's middle block always has attention: its width must split into heads, whatever
    # attention_resolutions says (MONAI itself raised a bare ValueError)
    record = ModelRecord(
        family("ddpm"), {"channel_mult": [1, 1], "attention_resolutions": []}, ModelShape(16)
    )
    with pytest.raises(BrainsynthError, match="head_channels 16 must divide the last width 8"):
        record.build()
    fixed = {"channel_mult": [1, 1], "attention_resolutions": [], "head_channels": 8}
    assert ModelRecord(family("ddpm"), fixed, ModelShape(16)).build()[0].noise_shape == (1, 16, 16)


def test_a_library_refusal_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuses(*args, **kwargs):
        raise ValueError("num_channels must be divisible by num_head_channels\nmore")

    monkeypatch.setattr(importlib.import_module(FAMILIES["ddpm"]), "DiffusionGenerator", refuses)
    with pytest.raises(BrainsynthError, match=r"cannot be built .*\(num_channels must be .*\)$"):
        ModelRecord(family("ddpm"), TINY_DDPM, ModelShape(16)).build()


def test_deep_nesting_is_one_line() -> None:
    deep: list = []
    for _ in range(200_000):
        deep = [deep]
    with pytest.raises(BrainsynthError, match="nested more than 32 levels deep"):
        check_nesting({"a": deep}, "config.json")
    with pytest.raises(BrainsynthError, match="nested more than 32 levels deep"):
        ModelRecord(family("dcgan"), {"width": deep}, ModelShape(16)).build()
    check_nesting({"a": [[1, {"b": [2]}]]}, "config.json")  # shallow: fine
