"""The architecture registry: names, lazy import, one-line refusal of unknown names."""

from __future__ import annotations

import subprocess
import sys

import pytest

from brainsynth.cli import main
from brainsynth.errors import BrainsynthError
from brainsynth.models import ARCHITECTURES, arch_names, architecture


def test_registered_architectures_follow_the_contract() -> None:
    assert arch_names()[0] == "dcgan"
    for name in arch_names():
        module = architecture(name)
        assert callable(module.build) and isinstance(module.SUPPORTS_LABELS, bool)
        module.Config()  # every setting has a default


def test_unknown_architecture_is_one_clear_line(tmp_path, capsys) -> None:
    with pytest.raises(BrainsynthError, match="unknown architecture 'biggan': choose one of dcgan"):
        architecture("biggan")
    assert "biggan" not in ARCHITECTURES
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
