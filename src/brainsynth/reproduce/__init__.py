"""``brainsynth reproduce``: the paper's twelve configurations (Table 1), one command.

:class:`ReproduceConfig` imports light (the command line's defaults come from it);
:func:`run_reproduce` (:mod:`.run`) loads the pipeline on first use.
"""

from __future__ import annotations

from typing import Any

from brainsynth.reproduce.config import ReproduceConfig


def __getattr__(name: str) -> Any:
    if name == "run_reproduce":
        from brainsynth.reproduce.run import run_reproduce

        return run_reproduce
    raise AttributeError(f"module 'brainsynth.reproduce' has no attribute {name!r}")


__all__ = ["ReproduceConfig", "run_reproduce"]
