"""Helpers for the Visual Turing Test tests: tiny studies, a live server, an HTTP rater."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

from brainsynth.data.dataset import load_prepared
from brainsynth.vtt.study import create_study, invite

ADMIN_TOKEN = "admin-token-for-tests-0123456789"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
POSITION_FIELD = re.compile(r'name="position" value="(\d+)"')
IMAGE_SRC = re.compile(r'src="(/i/[^"]+)"')


def fake_images(n: int, size: int = 16, seed: int = 1) -> np.ndarray:
    """Blurred noise in [0, 1]: stands in for generator output."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    noise = gaussian_filter(rng.random((n, 1, size, size)), sigma=(0, 0, 1.5, 1.5))
    lo, hi = noise.min(), noise.max()
    return ((noise - lo) / (hi - lo)).astype(np.float32)


@dataclass
class Study:
    db: Path
    study_id: str
    tokens: dict[str, str]


def make_study(
    prepared: Path,
    db: Path,
    raters: list[str],
    n_real: int = 4,
    n_fake: int = 4,
    sequence: str = "t1",
    seed: int = 0,
) -> Study:
    real = load_prepared(prepared).image_set(sequence)
    study_id = create_study(
        db,
        "T1 (DCGAN, 16x16)",
        real,
        fake_images(n_fake + 4),
        n_real=n_real,
        n_fake=n_fake,
        seed=seed,
        sequence=sequence,
    )
    return Study(db, study_id, {name: invite(db, study_id, name) for name in raters})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """``brainsynth vtt serve`` in a subprocess on a free localhost port."""

    def __init__(self, db: Path, admin_token: str | None = ADMIN_TOKEN) -> None:
        self.db = db
        self.admin_token = admin_token
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        token = ["--admin-token", self.admin_token] if self.admin_token else []
        command = ["vtt", "serve", "--db", str(self.db), "--port", str(self.port), *token]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "brainsynth", *command],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.process.stdout.read().decode() if self.process.stdout else ""
                raise RuntimeError(f"server exited early:\n{output}")
            try:
                httpx.get(f"{self.url}/static/vtt.css", timeout=1.0)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start within 30 s")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no flush, like a power cut to the process."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def answer_over_http(client: httpx.Client, token: str, choose: str = "real") -> int:
    """Start (when needed) and answer every image of one rater through plain HTTP requests.

    Returns the number of answers posted.
    """
    page = client.get(f"/r/{token}")
    if 'action="/r/' + token + '/start"' in page.text:
        csrf = CSRF_FIELD.search(page.text).group(1)
        client.post(f"/r/{token}/start", data={"csrf": csrf})
        page = client.get(f"/r/{token}")
    posted = 0
    while "Thank you" not in page.text:
        assert page.status_code == 200, page.text
        csrf = CSRF_FIELD.search(page.text).group(1)
        position = POSITION_FIELD.search(page.text).group(1)
        reply = client.post(
            f"/r/{token}/answer", data={"csrf": csrf, "position": position, "answer": choose}
        )
        assert reply.status_code in (200, 303), reply.text
        posted += 1
        page = client.get(f"/r/{token}")
    return posted


def blob_dataset(root: Path, **kwargs: int) -> Path:
    """``tests/conftest.py``'s ``blob_dataset`` (for module-scoped fixtures).

    Loaded by file path: the name ``conftest`` is ambiguous inside ``tests/vtt``.
    """
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "conftest.py"
    spec = importlib.util.spec_from_file_location("brainsynth_tests_root_conftest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.blob_dataset(root, **kwargs)
