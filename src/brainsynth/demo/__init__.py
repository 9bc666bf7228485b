"""``brainsynth demo``: the whole story on the phantom, inside a time budget.

:class:`DemoConfig` imports light (the command line's defaults come from it);
:func:`run_demo` (:mod:`.run`) loads the pipeline on first use.
"""

from __future__ import annotations

from brainsynth.demo.config import DEMO_GANS, DEMO_MODELS, DemoConfig, DemoGan, DemoModel
from brainsynth.lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {"run_demo": "run"})


__all__ = ["DEMO_GANS", "DEMO_MODELS", "DemoConfig", "DemoGan", "DemoModel", "run_demo"]
