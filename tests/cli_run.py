"""Run ``brainsynth`` in a subprocess, optionally without root's right to ignore permissions.

Tests of read-only folders need permission bits to apply. As root they do not, so the command
runs under ``setpriv`` with the capabilities that bypass them removed (CAP_DAC_OVERRIDE,
CAP_DAC_READ_SEARCH, CAP_FOWNER), the same checks an ordinary user's process gets.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

DROP = "--bounding-set=-dac_override,-dac_read_search,-fowner"


def run_cli(
    args: Sequence[str | bytes], unprivileged: bool = False, **kwargs
) -> subprocess.CompletedProcess:
    """``python -m brainsynth ARGS``; ``unprivileged``: permission bits apply even as root."""
    prefix: list[str] = []
    if unprivileged and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: permission bits would not apply")
        prefix = [setpriv, DROP, "--"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "brainsynth", *args],
        capture_output=True,
        env=env,
        timeout=300,
        **kwargs,
    )


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The single ``brainsynth: error: ...`` line of a refused command (exit status 2)."""
    err = result.stderr.decode() if isinstance(result.stderr, bytes) else result.stderr
    assert result.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("brainsynth: error: "), err
    assert "Traceback" not in err
    return lines[0]


@contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """Make ``folder`` read-only (r-x for everyone) for the duration of the block."""
    mode = folder.stat().st_mode
    folder.chmod(0o555)
    try:
        yield folder
    finally:
        folder.chmod(mode)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes (for 'untouched byte for byte')."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def snapshot(root: Path) -> dict[str, object]:
    """Every entry under ``root``: files with their bytes, folders, links with their targets
    (for 'nothing created, changed or deleted', links included, never followed)."""
    entries: dict[str, object] = {}
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                entries[key] = ("link", os.readlink(path))
            elif path.is_dir():
                entries[key] = "folder"
            else:
                entries[key] = path.read_bytes()
    return entries
