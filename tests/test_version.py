"""``brainsynth --version`` is the installed package's version, the one pyproject.toml names."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import brainsynth

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_version_comes_from_the_package_metadata() -> None:
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    assert version("brainsynth") == declared == brainsynth.__version__
    result = subprocess.run(
        [sys.executable, "-m", "brainsynth", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout.strip() == f"brainsynth {declared}"


def test_changelog_has_this_version() -> None:
    changelog = (PYPROJECT.parent / "CHANGELOG.md").read_text()
    assert f"\n## {brainsynth.__version__}\n" in changelog
