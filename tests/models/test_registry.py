"""The family registry: names, lazy import, one-line refusal of unknown names."""

from __future__ import annotations

import subprocess
import sys

import pytest

from brainsynth.cli import main
from brainsynth.errors import BrainsynthError
from brainsynth.models import FAMILIES, Family, family, family_names


def test_registered_families_follow_the_contract() -> None:
    assert family_names()[0] == "dcgan"
    for name in family_names():
        found = family(name)
        assert isinstance(found, Family) and found.name == name and callable(found.build)
        assert found.conditioning <= {"class", "mask"} and found.default_objective
        found.Config()  # every setting has a default


def test_unknown_architecture_is_one_clear_line(tmp_path, capsys) -> None:
    with pytest.raises(BrainsynthError, match="unknown architecture 'biggan': choose one of dcgan"):
        family("biggan")
    assert "biggan" not in FAMILIES
    argv = ["train", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "run")]
    (tmp_path / "c.yaml").write_text("model:\n  arch: biggan\n")
    assert main([*argv, "--data", str(tmp_path), "--sequence", "t1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("brainsynth: error:") and "unknown architecture 'biggan'" in err
    assert len(err.splitlines()) == 1


def test_registry_and_configs_import_without_torch() -> None:
    code = ("import sys, brainsynth.models, brainsynth.training.config, brainsynth.sampling, "
            "brainsynth.commands.train, brainsynth.commands.sample; "
            "print('torch' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_family_that_is_not_well_defined_is_refused_when_declared() -> None:
    import dataclasses

    ddpm = family("ddpm")
    for change, message in (
        ({"kind": "vae"}, "kind 'vae'"),
        ({"trainer": "autoencoder"}, "trainer 'autoencoder'"),
        ({"make_loss": None}, "a denoising family needs make_loss"),
        ({"objective_defaults": {}}, "objective denoising needs its optimizer"),
        ({"conditioning": frozenset({"text"})}, "conditioning"),
    ):
        with pytest.raises(BrainsynthError, match=message):
            dataclasses.replace(ddpm, **change)
