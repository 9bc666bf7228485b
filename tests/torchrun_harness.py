"""Launch 2-process CPU (gloo) runs with torchrun from tests, with a timeout.

``python -m torch.distributed.run --standalone`` picks a free port itself, so tests of
several helpers can run at once. Every process is single-threaded (tiny models; a shared
CPU). brainsynth is imported from the same source tree as the test process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import brainsynth

SOURCE = Path(brainsynth.__file__).resolve().parents[1]


def torchrun_command(args: Sequence[str], nproc: int = 2, module: bool = False) -> list[str]:
    """``python -m torch.distributed.run --standalone --nproc-per-node N [-m] ARGS``."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc-per-node", str(nproc)]
    return command + (["-m"] if module else []) + [str(a) for a in args]


def torchrun_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SOURCE), *filter(None, [env.get("PYTHONPATH")])])
    env["OMP_NUM_THREADS"] = "1"
    env.pop("RANK", None)  # a test process is never itself a torchrun worker
    env.pop("WORLD_SIZE", None)
    return env


def run_torchrun(
    args: Sequence[str],
    nproc: int = 2,
    module: bool = False,
    timeout: float = 240,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run to completion (or fail the test after ``timeout`` seconds); output captured."""
    return subprocess.run(
        torchrun_command(args, nproc, module),
        env=torchrun_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_torchrun(args: Sequence[str], nproc: int = 2, module: bool = False) -> subprocess.Popen:
    """Start in the background (stdout and stderr merged into one pipe)."""
    return subprocess.Popen(
        torchrun_command(args, nproc, module),
        env=torchrun_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def worker_pids(agent: subprocess.Popen, nproc: int = 2, timeout: float = 60) -> dict[int, int]:
    """{rank: pid} of the worker processes torchrun started (read from /proc)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = {}
        for child in _children(agent.pid):
            rank = _environ(child).get("RANK")
            if rank is not None:
                found[int(rank)] = child
        if len(found) == nproc:
            return found
        if agent.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"torchrun did not start {nproc} workers")


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}
