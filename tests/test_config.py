"""Dataclass configs round-trip through YAML; typos and bad files are clear errors."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from brainsynth.config import load_config, save_config
from brainsynth.errors import BrainsynthError


@dataclass
class Inner:
    k: int = 3
    betas: tuple[float, float] | None = (0.5, 0.999)


@dataclass
class Outer:
    name: str
    inner: Inner = field(default_factory=Inner)
    sizes: list[int] = field(default_factory=lambda: [64, 128])
    lr: float | None = None


def test_round_trip_restores_nested_dataclasses_and_tuples(tmp_path: Path) -> None:
    config = Outer("run", Inner(k=5, betas=(0.0, 0.9)), [64], lr=2e-4)
    path = save_config(config, tmp_path / "sub" / "config.yaml")
    assert load_config(Outer, path) == config
    assert [p.name for p in path.parent.iterdir()] == ["config.yaml"]  # no temporary left
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_unknown_keys_and_bad_yaml_are_one_line_errors(tmp_path: Path) -> None:
    typo = tmp_path / "typo.yaml"
    typo.write_text("name: run\nlearning_rate: 0.1\n")
    with pytest.raises(BrainsynthError, match="unknown key.*learning_rate"):
        load_config(Outer, typo)
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(BrainsynthError, match="not valid YAML"):
        load_config(Outer, broken)
    with pytest.raises(BrainsynthError, match="not found"):
        load_config(Outer, tmp_path / "missing.yaml")
