"""What a curious rater or a careless admin tried in issue 11: no 500, no leak, no repeats."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from vtt_helpers import ADMIN_TOKEN, CSRF_FIELD, POSITION_FIELD, Study, fake_images

from brainsynth.cli import main
from brainsynth.imageio import save_png
from brainsynth.vtt import db as vttdb
from brainsynth.vtt.app import create_app
from cli_run import one_line_error, read_only, run_cli

HEADERS = ("content-security-policy", "x-frame-options", "x-content-type-options", "cache-control")


def assert_secure(response: httpx.Response) -> None:
    assert response.status_code != 500, response.text[:300]
    for header in HEADERS:
        assert header in response.headers, (response.status_code, header)


@pytest.fixture
def client(small_study: Study) -> TestClient:
    return TestClient(create_app(small_study.db, ADMIN_TOKEN), follow_redirects=False)


@pytest.fixture
def fake16(tmp_path: Path) -> Path:
    folder = tmp_path / "fake16"
    folder.mkdir()
    for i, image in enumerate(fake_images(12)):
        save_png(folder / f"{i:03d}.png", image)
    return folder


def create(db, prepared, fake, *extra: str, name: str = "T1 (DCGAN, 16x16)") -> list[str]:
    return ["vtt", "create", "--db", str(db), "--name", name, "--real", str(prepared),
            "--sequence", "t1", "--fake", str(fake), "--n-real", "8", "--n-fake", "4",
            *extra]  # fmt: skip


def real_pngs(db: Path, study: str) -> set[bytes]:
    with vttdb.opened(db) as conn:
        rows = conn.execute(
            "SELECT png FROM items WHERE study_id = ? AND truth = 'real'", (study,)
        ).fetchall()
    return {bytes(r["png"]) for r in rows}


def test_two_default_studies_share_no_real_image(blob_prepared, fake16, tmp_path, capsys):
    db = tmp_path / "vtt.db"
    assert main(create(db, blob_prepared, fake16)) == 0
    first = capsys.readouterr().out.split()[-1]
    assert main(create(db, blob_prepared, fake16, name="T1 again")) == 0
    second = capsys.readouterr().out.split()[-1]
    a, b = real_pngs(db, first), real_pngs(db, second)
    assert len(a) == len(b) == 8 and not a & b
    # 24 T1 images: 16 used, 8 left; 9 more cannot be drawn without repeating
    code = main([*create(db, blob_prepared, fake16, name="third"), "--n-real", "9"])
    assert code == 2
    err = capsys.readouterr().err
    assert "needs 9 real images that no other study of this database showed" in err
    assert "only 8 of 24 are unused" in err and "--allow-repeats" in err
    assert main([*create(db, blob_prepared, fake16, name="third"), "--n-real", "9",
                 "--allow-repeats"]) == 0  # fmt: skip
    third = capsys.readouterr().out.split()[-1]
    assert len(real_pngs(db, third) - a - b) == 8  # every unused image first, then one repeat


def test_real_images_are_not_upsampled_silently(blob_prepared, tmp_path, capsys):
    fake32 = tmp_path / "fake32"
    fake32.mkdir()
    for i, image in enumerate(fake_images(8, size=32)):
        save_png(fake32 / f"{i:03d}.png", image)
    db = tmp_path / "vtt.db"
    assert main(create(db, blob_prepared, fake32)) == 2
    err = capsys.readouterr().err
    assert "--real images are 16 px but --fake images are 32 px" in err
    assert "--allow-upsample" in err
    assert main([*create(db, blob_prepared, fake32), "--allow-upsample"]) == 0


@pytest.mark.parametrize("name", ["two\nlines", "red \x1b[31m alert", "tab\there"])
def test_study_names_are_printable_text(blob_prepared, fake16, tmp_path, capsys, name):
    assert main(create(tmp_path / "vtt.db", blob_prepared, fake16, name=name)) == 2
    assert "--name: give a printable name" in capsys.readouterr().err
    assert not (tmp_path / "vtt.db").exists()


def test_another_programs_sqlite_file_is_not_touched(blob_prepared, fake16, tmp_path, capsys):
    import sqlite3

    other = tmp_path / "app.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    before = other.read_bytes()
    assert main(create(other, blob_prepared, fake16)) == 2
    assert "not a brainsynth study database" in capsys.readouterr().err
    assert other.read_bytes() == before


def start(client: TestClient, token: str) -> str:
    page = client.get(f"/r/{token}")
    csrf = CSRF_FIELD.search(page.text).group(1)
    client.post(f"/r/{token}/start", data={"csrf": csrf})
    return csrf


@pytest.mark.parametrize(
    ("field", "value", "status"),
    [
        ("position", "²", 400),
        ("position", "٣", 400),
        ("position", "", 400),
        ("csrf", "é", 403),
        ("csrf", "", 403),
        ("answer", "réal", 400),
    ],
)
def test_non_ascii_and_empty_form_fields_are_4xx(client, small_study, field, value, status):
    token = small_study.tokens["alice"]
    csrf = start(client, token)
    page = client.get(f"/r/{token}")
    data = {"csrf": csrf, "position": POSITION_FIELD.search(page.text).group(1), "answer": "real"}
    reply = client.post(f"/r/{token}/answer", data=data | {field: value})
    assert reply.status_code == status
    assert_secure(reply)
    assert client.post(f"/r/{token}/start", data={"csrf": value}).status_code == 403


def test_non_ascii_csrf_on_start_and_multipart_fields(client, small_study):
    token = small_study.tokens["bob"]
    reply = client.post(f"/r/{token}/start", files={"csrf": ("x.txt", b"\xff\xfe")})
    assert reply.status_code == 403
    assert_secure(reply)


def test_large_bodies_are_refused_before_they_are_read(client, small_study):
    big = b"x" * (64 * 1024)
    for path in (f"/r/{'a' * 43}/answer", f"/r/{small_study.tokens['alice']}/answer", "/nowhere"):
        reply = client.post(path, content=big, headers={"content-type": "multipart/form-data"})
        assert reply.status_code == 413
        assert_secure(reply)
    reply = client.get("/static/vtt.css", headers={"content-length": "300000000"})
    assert reply.status_code == 413


def asgi_post(app, path: str, chunks: int, headers: list) -> tuple[int, int]:
    """POST a streamed body of ``chunks`` x 1 KiB straight into the ASGI app.

    Returns (status, chunks the app pulled): nothing but the ASGI protocol in between.
    """
    pulled = 0
    status = 0

    async def receive():
        nonlocal pulled
        if pulled >= chunks:
            raise AssertionError("read the whole body")
        pulled += 1
        return {"type": "http.request", "body": b"a=" + b"x" * 1022, "more_body": True}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 1), "server": ("t", 80),
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    return status, pulled


def test_streamed_bodies_are_counted_and_cut_off(small_study):
    app = create_app(small_study.db, ADMIN_TOKEN)
    form = [(b"content-type", b"application/x-www-form-urlencoded")]
    status, pulled = asgi_post(app, f"/r/{small_study.tokens['alice']}/answer", 300_000, form)
    assert status == 413 and pulled <= 17  # 16 KiB limit, 1 KiB chunks
    declared = [*form, (b"content-length", b"300000000")]
    status, pulled = asgi_post(app, f"/r/{'a' * 43}/answer", 300_000, declared)
    assert status == 413 and pulled == 0


def test_moving_the_database_away_gives_a_clear_page(client, small_study, capfd):
    token = small_study.tokens["alice"]
    assert client.get(f"/r/{token}").status_code == 200
    small_study.db.rename(small_study.db.with_name("moved.db"))
    for reply in (client.get(f"/r/{token}"), client.post(f"/r/{token}/start", data={"csrf": "x"})):
        assert reply.status_code == 503 and "Temporarily unavailable" in reply.text
        assert "vtt.db" not in reply.text
        assert_secure(reply)
    assert "no such study database" in capfd.readouterr().err


def test_error_pages_carry_the_security_headers(client):
    for reply in (
        client.get("/nowhere"),
        client.get("/admin"),
        client.delete("/admin"),
        client.get("/i/" + "x" * 32),
    ):
        assert reply.status_code in (401, 404, 405)
        assert_secure(reply)


def test_serve_on_a_busy_port_writes_and_prints_nothing(small_study):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = run_cli(["vtt", "serve", "--db", str(small_study.db), "--port", str(port)])
    line = one_line_error(result)
    assert f"--port {port}: cannot listen on 127.0.0.1" in line
    assert result.stdout == b""  # no admin link for a server that never ran
    with vttdb.opened(small_study.db) as conn:
        assert vttdb.get_meta(conn, "admin_token") is None


def test_results_into_a_closed_pipe_ends_quietly(small_study):
    env_cmd = [sys.executable, "-m", "brainsynth", "vtt", "results", "--db", str(small_study.db)]
    process = subprocess.Popen(
        [*env_cmd, "--format", "csv"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    process.stdout.close()  # like `| head -1` exiting before brainsynth writes
    _, err = process.communicate(timeout=120)
    assert err.decode() == "" and process.returncode == 141


def test_results_escape_control_characters_of_old_names(small_study, capsys):
    with vttdb.opened(small_study.db) as conn, vttdb.transaction(conn):
        conn.execute("UPDATE studies SET name = ?", ("evil\x1b[2J\nname",))
    assert main(["vtt", "results", "--db", str(small_study.db)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "evil\\x1b[2J\\nname" in out


def test_fake_images_follow_the_shared_size_rule(blob_prepared, tmp_path, capsys):
    np.save(tmp_path / "s.npy", np.full((8, 1, 24, 24), 0.5, np.float32))
    assert main(create(tmp_path / "vtt.db", blob_prepared, tmp_path / "s.npy")) == 2
    assert "image side 24: image sides must be a power of two" in capsys.readouterr().err


def test_read_only_database_folder_is_one_line_before_any_work(small_study, fake16, tmp_path):
    locked = small_study.db.parent
    args = create(small_study.db, tmp_path / "prepared", fake16)
    with read_only(locked):
        created = run_cli(args, unprivileged=True)
        served = run_cli(["vtt", "serve", "--db", str(small_study.db)], unprivileged=True)
    for result in (created, served):
        assert (
            "--db" in one_line_error(result) and "folder is not writable" in result.stderr.decode()
        )
    assert served.stdout == b""
