"""Names a package exports but loads on first use (PEP 562), so light imports stay light.

``brainsynth.training``, ``brainsynth.sampling``, ``brainsynth.demo`` and
``brainsynth.reproduce`` export their torch-free configs directly and their heavy functions
through :func:`lazy_exports`; ``brainsynth --help`` then never imports torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, where: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` giving ``name`` from ``package.<where[name]>`` on first use."""

    def __getattr__(name: str) -> Any:
        if name in where:
            return getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
