"""Issue 24: the benchmarks refuse a malformed list-like argument in argparse's one line.

``detectability.py --only 4`` raised IndexError and ``realism.py --budgets abc`` ValueError,
as tracebacks; ``gpu_throughput.py --sizes 3`` got as far as building a model.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_benchmark(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    "script, args, message",
    [
        ("detectability.py", ["--only", "4"], "argument --only: '4' is not a budget:candidate"),
        ("detectability.py", ["--only", "4:a,b"], "argument --only: 'b' is not a budget:"),
        ("realism.py", ["--budgets", "abc"], "argument --budgets: 'abc' is not a comma list"),
        ("realism.py", ["--only", "4"], "argument --only: '4' is not a budget:candidate"),
        ("gpu_throughput.py", ["--cpu", "--archs", "dcgan", "--sizes", "3"],
         "argument --sizes: '3' is not a power of two"),
    ],
)  # fmt: skip
def test_a_malformed_list_argument_is_one_argparse_line(script, args, message, tmp_path):
    out = tmp_path / "bench"
    if script == "detectability.py":  # a benchmark to rank, so only --only can be wrong
        out.mkdir()
        (out / "realism.json").write_text('{"rows": []}')
        args = [*args, "--out", str(out)]
    elif script == "realism.py":
        args = [*args, "--out", str(out)]

    result = run_benchmark(script, *args, cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"{script}: error: ") and message in last, result.stderr
    if script == "detectability.py":
        assert sorted(p.name for p in out.iterdir()) == ["realism.json"]  # nothing written
    else:
        assert not out.exists()


def load_arglists():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import arglists
    finally:
        sys.path.remove(str(BENCHMARKS))
    return arglists


@pytest.mark.parametrize(
    "parse, text",
    [
        ("minutes", ""), ("minutes", "4,x"), ("minutes", "4,-1"), ("minutes", "nan"),
        ("counts", "2,x"), ("counts", ""), ("budget_pairs", "4"), ("budget_pairs", ":a"),
        ("budget_pairs", "4:"), ("budget_pairs", "x:a"), ("budget_pairs", "4:a:b"),
        ("image_size", "48"), ("image_size", "8"), ("image_size", "x"),
    ],
)  # fmt: skip
def test_every_list_parser_refuses_what_it_cannot_read(parse, text):
    arglists = load_arglists()
    with pytest.raises(argparse.ArgumentTypeError):
        getattr(arglists, parse)(text)


def test_list_parsers_read_what_the_benchmarks_document():
    arglists = load_arglists()
    assert arglists.minutes("4,12,36") == [4.0, 12.0, 36.0]
    assert arglists.counts("4,8,16,32,128,512", 4) == [4, 8, 16, 32, 128, 512]
    assert arglists.budget_pairs("4:paper-dcgan, 12:stylegan2") == {
        (4.0, "paper-dcgan"), (12.0, "stylegan2"),
    }  # fmt: skip
    assert arglists.budget_pairs("") == set()
    assert arglists.names("raw,floor", ("raw", "floor")) == ["raw", "floor"]
    with pytest.raises(argparse.ArgumentTypeError, match="unknown bogus; choose from raw"):
        arglists.names("raw,bogus", ("raw", "floor"))
    assert arglists.image_size("64") == 64
