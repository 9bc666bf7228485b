"""Evaluation of synthetic images: C2ST, distances, diversity, memorisation (paper §5).

Entry points: :func:`brainsynth.metrics.evaluate.evaluate`, its
:class:`~brainsynth.metrics.evaluate.EvalConfig`, and
:func:`~brainsynth.metrics.evaluate.format_summary`.
"""
