"""``brainsynth reproduce``: the paper's twelve configurations (Table 1), one command.

:class:`ReproduceConfig` imports light (the command line's defaults come from it);
:func:`run_reproduce` (:mod:`.run`) loads the pipeline on first use.
"""

from __future__ import annotations

from brainsynth.lazy import lazy_exports
from brainsynth.reproduce.config import ReproduceConfig

__getattr__ = lazy_exports(__name__, {"run_reproduce": "run"})


__all__ = ["ReproduceConfig", "run_reproduce"]
