"""A live server in a subprocess: 20 raters at once, and SIGKILL in the middle of a study."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from vtt_helpers import CSRF_FIELD, POSITION_FIELD, LiveServer, answer_over_http, make_study

from brainsynth.vtt import db as vttdb


def _count_answers(db: Path) -> dict[str, int]:
    with vttdb.opened(db) as conn:
        rows = conn.execute(
            "SELECT r.name, COUNT(a.position) AS n, COUNT(DISTINCT a.item_id) AS items "
            "FROM raters r LEFT JOIN answers a ON a.rater_id = r.id GROUP BY r.id"
        ).fetchall()
    assert all(r["n"] == r["items"] for r in rows)
    return {r["name"]: r["n"] for r in rows}


def test_twenty_raters_at_once_are_all_recorded_exactly_once(
    blob_prepared: Path, tmp_path: Path, live_server_factory: type[LiveServer]
) -> None:
    raters = [f"rater{i:02d}" for i in range(20)]
    study = make_study(blob_prepared, tmp_path / "vtt.db", raters, n_real=10, n_fake=10)
    server = live_server_factory(study.db)
    server.start()

    def rate(name: str) -> int:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            return answer_over_http(
                client, study.tokens[name], "real" if name[-1] in "02468" else "synthetic"
            )

    with ThreadPoolExecutor(max_workers=20) as pool:
        posted = list(pool.map(rate, raters))
    assert posted == [20] * 20
    assert _count_answers(study.db) == dict.fromkeys(raters, 20)


def test_retried_posts_from_many_threads_count_once(
    blob_prepared: Path, tmp_path: Path, live_server_factory: type[LiveServer]
) -> None:
    study = make_study(blob_prepared, tmp_path / "vtt.db", ["alice"], n_real=2, n_fake=2)
    server = live_server_factory(study.db)
    server.start()
    token = study.tokens["alice"]
    with httpx.Client(base_url=server.url) as client:
        page = client.get(f"/r/{token}")
        client.post(f"/r/{token}/start", data={"csrf": CSRF_FIELD.search(page.text).group(1)})
        page = client.get(f"/r/{token}")
    data = {"csrf": CSRF_FIELD.search(page.text).group(1), "position": "0", "answer": "real"}

    def post(_: int) -> int:
        with httpx.Client(base_url=server.url) as client:
            return client.post(f"/r/{token}/answer", data=data).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        codes = list(pool.map(post, range(30)))
    assert codes == [303] * 30
    assert _count_answers(study.db) == {"alice": 1}


def test_sigkill_mid_study_loses_no_submitted_answer(
    blob_prepared: Path, tmp_path: Path, live_server_factory: type[LiveServer]
) -> None:
    study = make_study(blob_prepared, tmp_path / "vtt.db", ["alice"], n_real=20, n_fake=20)
    server = live_server_factory(study.db)
    server.start()
    token = study.tokens["alice"]
    acknowledged: list[str] = []
    some_answered = threading.Event()

    def rate() -> None:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            try:
                page = client.get(f"/r/{token}")
                csrf = CSRF_FIELD.search(page.text).group(1)
                client.post(f"/r/{token}/start", data={"csrf": csrf})
                while True:
                    page = client.get(f"/r/{token}")
                    position = POSITION_FIELD.search(page.text).group(1)
                    reply = client.post(
                        f"/r/{token}/answer",
                        data={"csrf": csrf, "position": position, "answer": "real"},
                    )
                    if reply.status_code == 303:
                        acknowledged.append(position)
                    if len(acknowledged) >= 5:
                        some_answered.set()
            except (httpx.TransportError, AttributeError):
                return  # the server died under us

    worker = threading.Thread(target=rate)
    worker.start()
    assert some_answered.wait(30)
    server.kill()
    worker.join(30)
    assert 5 <= len(acknowledged) < 40

    restarted = live_server_factory(study.db)
    restarted.start()
    saved = _count_answers(study.db)["alice"]
    assert saved >= len(acknowledged)  # every acknowledged answer survived
    assert saved <= len(acknowledged) + 1  # at most the one in flight when killed
    with httpx.Client(base_url=restarted.url) as client:
        assert f"{saved + 1} / 40" in client.get(f"/r/{token}").text
        assert answer_over_http(client, token) == 40 - saved
    assert _count_answers(study.db) == {"alice": 40}


def test_serve_generates_stores_and_prints_an_admin_token(
    small_study, live_server_factory: type[LiveServer]
) -> None:
    tokens = []
    for _ in range(2):  # the second start reuses the token stored in the database
        server = live_server_factory(small_study.db, admin_token=None)
        server.start()
        line = server.process.stdout.readline().decode()
        assert line.startswith(f"admin results: {server.url}/admin?token=")
        tokens.append(line.split("token=", 1)[1].strip())
        with httpx.Client() as client:
            assert client.get(line.split(": ", 1)[1].strip()).status_code == 303
            assert client.get(f"{server.url}/admin").status_code == 200  # cookie set
        server.stop()
    assert tokens[0] == tokens[1] and len(tokens[0]) >= 43
