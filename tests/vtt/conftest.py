"""Fixtures for the Visual Turing Test tests: a tiny study, live servers in subprocesses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from vtt_helpers import LiveServer, Study, make_study


@pytest.fixture
def small_study(blob_prepared: Path, tmp_path: Path) -> Study:
    """4 real + 4 synthetic T1 images, raters 'alice' and 'bob'."""
    return make_study(blob_prepared, tmp_path / "vtt.db", ["alice", "bob"])


@pytest.fixture
def live_server_factory() -> Iterator[type[LiveServer]]:
    """Start servers on demand; every one started is stopped after the test."""
    started: list[LiveServer] = []

    class Tracked(LiveServer):
        def start(self) -> None:
            started.append(self)
            super().start()

    yield Tracked
    for server in started:
        server.stop()
