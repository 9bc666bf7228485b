"""The ``brainsynth`` command line: a thin dispatcher over :mod:`brainsynth.commands`.

Each subcommand lives in ``brainsynth/commands/<name>.py`` with ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args)``. Those modules import only the standard library at
the top, so ``brainsynth --help`` is instant; the heavy work is imported inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections.abc import Sequence

from brainsynth import __version__
from brainsynth.errors import BrainsynthError

COMMANDS: tuple[str, ...] = (
    "phantom",
    "prepare",
    "train",
    "sample",
    "export",
    "evaluate",
    "vtt",
    "demo",
    "reproduce",
    "augment-eval",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="brainsynth",
        description=(
            "Synthetic brain MR images with GANs (Han et al., ISBI 2018), and tests of how "
            "realistic they are. Typical path: phantom (or a BraTS download) -> prepare -> "
            "train -> sample -> evaluate / vtt."
        ),
    )
    parser.add_argument("--version", action="version", version=f"brainsynth {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module_name = f"brainsynth.commands.{name.replace('-', '_')}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        sub = subparsers.add_parser(
            name,
            help=module.HELP,
            description=getattr(module, "DESCRIPTION", module.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


QUIET_RANK_GRACE_S = 3.0
"""How long a torchrun rank whose error rank 0 reports waits before it ends: torchrun stops
every worker as soon as one exits with an error, and a rank that ends at once (workers end
without interpreter finalisation, see ``training.distributed.end_worker``) could have rank
0 killed before it printed the error (seen once in a fresh-clone CI run)."""


def main(argv: Sequence[str] | None = None) -> int:
    code = run_command(argv)
    if torchrun_worker():
        from brainsynth.training.distributed import end_worker

        end_worker(code)  # see there: gloo threads outlive the process group
    return code


def torchrun_worker() -> bool:
    """True in a worker process that torchrun started for more than one process and that
    joined a process group (``brainsynth train`` under torchrun)."""
    if int(os.environ.get("WORLD_SIZE", "1") or 1) <= 1 or "RANK" not in os.environ:
        return False
    distributed = sys.modules.get("torch.distributed")
    return distributed is not None and distributed.is_available()


def run_command(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 1
    try:
        result = args._run(args)
        sys.stdout.flush()
    except BrainsynthError as exc:
        # Under torchrun an error that every rank raises alike is printed by rank 0 only;
        # other ranks' own errors name their rank.
        rank = os.environ.get("RANK", "0")
        if rank == "0":
            print(f"brainsynth: error: {exc}", file=sys.stderr)
        elif not getattr(exc, "quiet", False):
            print(f"brainsynth: error (rank {rank}): {exc}", file=sys.stderr)
        else:  # rank 0 reports it; torchrun ends every worker once one fails, so let it
            time.sleep(QUIET_RANK_GRACE_S)
        return 2
    except KeyboardInterrupt:
        print("brainsynth: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return closed_pipe()
    return int(result or 0)


def closed_pipe() -> int:
    """The reader of our output went away (``brainsynth vtt results | head -1``): stop quietly.

    Whatever is still buffered for stdout is dropped (stdout now points at /dev/null, so the
    flush at exit cannot fail again); the exit status is the shell's for SIGPIPE.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + 13


if __name__ == "__main__":
    sys.exit(main())
