"""The Visual Turing Test (paper §3.3): studies of real and synthetic images rated by physicians.

- :mod:`brainsynth.vtt.db`: the SQLite store (WAL, versioned schema).
- :mod:`brainsynth.vtt.study`: :func:`create_study` and :func:`invite`.
- :mod:`brainsynth.vtt.scoring`: Table 1, binomial test, Wilson interval, kappa.
- :mod:`brainsynth.vtt.export`: Table 1 text, CSV of every answer, JSON.
- :mod:`brainsynth.vtt.app`: the FastAPI web app (:func:`create_app`).
"""
