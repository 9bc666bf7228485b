"""The package's layering and acyclicity contracts (pyproject.toml [tool.importlinter])."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "2 kept, 0 broken" in result.stdout


def test_one_plotting_module_draws_every_chart() -> None:
    """Issue 27: charts come from brainsynth.metrics.plots alone (one palette, one style);
    no other source file imports matplotlib or draws with PIL.ImageDraw."""
    src = ROOT / "src" / "brainsynth"
    plotting = src / "metrics" / "plots.py"
    others = [
        path.relative_to(src).as_posix()
        for path in sorted(src.rglob("*.py"))
        if path != plotting
        and any(word in path.read_text() for word in ("matplotlib", "ImageDraw"))
    ]
    assert others == []
