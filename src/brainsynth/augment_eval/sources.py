"""The synthetic sources the command uses: runs given with ``--runs``, else generators
trained per fraction (see :mod:`.synthetic` for the protocol)."""

from __future__ import annotations

from brainsynth.augment_eval.config import AugmentEvalConfig
from brainsynth.augment_eval.synthetic import GeneratorRequest, LabelledGenerator, SyntheticSource
from brainsynth.errors import BrainsynthError


def default_source(config: AugmentEvalConfig) -> SyntheticSource | None:
    """None without synthetic arms."""
    if not config.uses_synthetic:
        return None

    def unavailable(request: GeneratorRequest) -> LabelledGenerator:
        raise BrainsynthError(
            "the synthetic arms need a tumour-conditional generator, which this build cannot "
            "train or load yet: run with --arms real,real+classic"
        )

    return unavailable
