"""Every tensor of a nested checkpoint dict, by dotted key: compare whole training states."""

from __future__ import annotations

import torch


def all_tensors(state: dict, prefix: str = "") -> dict[str, torch.Tensor]:
    found = {}
    for key, value in state.items():
        if isinstance(value, dict):
            found.update(all_tensors(value, f"{prefix}{key}."))
        elif isinstance(value, torch.Tensor):
            found[prefix + str(key)] = value
    return found
