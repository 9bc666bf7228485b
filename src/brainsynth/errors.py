"""User-facing errors.

Anything a user can cause (a bad file, a wrong flag, a missing folder) is raised as a
:class:`BrainsynthError` with a one-line message naming the culprit. The CLI prints it as
``brainsynth: error: <message>`` and exits with status 2, never with a traceback.
"""


class BrainsynthError(Exception):
    """An error caused by the user's input, printed without a traceback."""
