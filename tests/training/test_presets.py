"""Presets: every name validates as a TrainConfig; the GPU one is StyleGAN2 at full width."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from brainsynth.cli import build_parser
from brainsynth.config import config_from_dict
from brainsynth.models import family, family_names
from brainsynth.models.checkpoint import ModelRecord
from brainsynth.models.shape import ModelShape
from brainsynth.training.config import TrainConfig
from brainsynth.training.presets import PRESETS, merge, preset, preset_names


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_validates(name: str, tmp_path: Path) -> None:
    data = merge(preset(name), {"data": {"prepared": str(tmp_path), "sequence": "concat"},
                                "run": {"out": str(tmp_path / "run")}})  # fmt: skip
    config = config_from_dict(TrainConfig, data)
    assert config.model.arch in family_names()


def test_recommended_is_the_cpu_preset() -> None:
    assert preset("recommended") == preset("recommended-cpu") == PRESETS["recommended-cpu"]
    assert preset("recommended-cpu")["model"]["options"]["channel_max"] == 64


def test_gpu_preset_is_full_width_stylegan2_at_128() -> None:
    settings = preset("recommended-gpu")
    assert settings["run"]["batch"] == 64
    assert settings["objective"]["r1_gamma"] == pytest.approx(0.0002 * 128**2 / 64)  # 0.0512
    assert settings["ema"] == {"half_life_kimg": 20.0, "rampup": 0.05}
    options = settings["model"]["options"]
    torch.manual_seed(0)
    generator, discriminator = ModelRecord(
        family("stylegan2"), options, ModelShape(128, 1, settings["model"]["latent"])
    ).build()
    # The synthesis convolutions (3x3, out x in) at channels min(16384 // r, 512): one at 4 px
    # (after the constant), two per resolution from 8 to 128 px.
    channels = {r: min(16384 // r, 512) for r in (4, 8, 16, 32, 64, 128)}
    expected = 9 * channels[4] ** 2
    for r in (8, 16, 32, 64, 128):
        expected += 9 * (channels[r] * channels[r // 2] + channels[r] ** 2)
    convs = [
        p.numel()
        for name, p in generator.named_parameters()
        if p.ndim == 4 and p.shape[-1] == 3 and name.startswith("layers.")
    ]
    assert sum(convs) == expected  # 18,726,912
    total = sum(p.numel() for p in generator.parameters())
    assert expected < total < 1.3 * expected  # + styles, ToRGB, mapping, constant: ~22.9M
    assert max(p.shape[0] for p in generator.parameters() if p.ndim == 4) == 512
    assert sum(p.numel() for p in discriminator.parameters()) > 20_000_000


def test_train_help_lists_every_preset_with_its_summary() -> None:
    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]  # noqa: SLF001
    text = train.format_help()
    for name in preset_names():
        assert f"\n  {name} " in text, name
    assert "recommended-cpu  for CPUs:" in text and "recommended-gpu  for GPUs:" in text
    assert "the same as recommended-cpu" in text


def test_diffusion_0_3_keeps_the_0_3_0_preset() -> None:
    """0.3.0's diffusion preset, field for field (its network: MONAI's time embedding)."""
    settings = preset("diffusion-0.3")
    assert settings["model"] == {"arch": "ddpm", "options": {
        "base_channels": 8, "channel_mult": [1, 2, 4, 8], "attention_resolutions": [8],
        "res_blocks": 1, "norm_groups": 4, "prediction": "v", "sample_steps": 25}}  # fmt: skip
    assert settings["optimizer"] == {"lr": 5e-4, "betas": [0.9, 0.999]}
    assert settings["run"] == {"batch": 32, "precision": "auto"}  # 0.3.0's bf16 where native
    assert settings["ema"] == {"half_life_kimg": 10.0, "rampup": 0.05}
    for name in ("diffusion", "flow"):  # the measured presets see the noise level widely
        assert preset(name)["model"]["options"]["time_features"] == 64, name
