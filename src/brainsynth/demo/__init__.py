"""``brainsynth demo``: the whole story on the phantom, inside a time budget.

:class:`DemoConfig` imports light (the command line's defaults come from it);
:func:`run_demo` (:mod:`.run`) loads the pipeline on first use.
"""

from __future__ import annotations

from typing import Any

from brainsynth.demo.config import DEMO_GANS, DemoConfig, DemoGan


def __getattr__(name: str) -> Any:
    if name == "run_demo":
        from brainsynth.demo.run import run_demo

        return run_demo
    raise AttributeError(f"module 'brainsynth.demo' has no attribute {name!r}")


__all__ = ["DEMO_GANS", "DemoConfig", "DemoGan", "run_demo"]
