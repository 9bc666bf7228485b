"""The web app through FastAPI's TestClient: the rater flow and its security properties."""

from __future__ import annotations

import re
import secrets

import pytest
from fastapi.testclient import TestClient
from vtt_helpers import ADMIN_TOKEN, CSRF_FIELD, IMAGE_SRC, POSITION_FIELD, Study

from brainsynth.vtt import db as vttdb
from brainsynth.vtt.app import create_app
from brainsynth.vtt.scoring import study_results


@pytest.fixture
def client(small_study: Study) -> TestClient:
    return TestClient(create_app(small_study.db, ADMIN_TOKEN), follow_redirects=False)


def _start(client: TestClient, token: str) -> None:
    page = client.get(f"/r/{token}")
    assert page.status_code == 200 and "Start" in page.text
    csrf = CSRF_FIELD.search(page.text).group(1)
    assert client.post(f"/r/{token}/start", data={"csrf": csrf}).status_code == 303


def _answer(client: TestClient, token: str, label: str, **override: str):
    page = client.get(f"/r/{token}")
    data = {
        "csrf": CSRF_FIELD.search(page.text).group(1),
        "position": POSITION_FIELD.search(page.text).group(1),
        "answer": label,
    } | override
    return client.post(f"/r/{token}/answer", data=data)


def _answer_rows(study: Study) -> list[dict]:
    with vttdb.opened(study.db) as conn:
        return [dict(r) for r in conn.execute("SELECT * FROM answers ORDER BY rater_id, position")]


def test_rater_completes_study_and_sees_no_score(client: TestClient, small_study: Study) -> None:
    token = small_study.tokens["alice"]
    first = client.get(f"/r/{token}")
    assert "8</strong> brain MR images" in first.text and "no time limit" in first.text
    _start(client, token)
    for k in range(1, 9):
        page = client.get(f"/r/{token}")
        assert f"{k} / 8" in page.text
        assert 'aria-label="Real"' in page.text and 'aria-label="Synthetic"' in page.text
        reply = _answer(client, token, "real" if k % 2 else "synthetic")
        assert reply.status_code == 303 and reply.headers["location"] == f"/r/{token}"
    done = client.get(f"/r/{token}")
    assert "Thank you" in done.text
    assert not re.search(r"\d+\s*%|correct|accuracy|score", done.text, re.IGNORECASE)
    rows = _answer_rows(small_study)
    assert [r["position"] for r in rows] == list(range(8))
    assert all(r["response_ms"] >= 0 and r["answered_at"] >= r["shown_at"] for r in rows)
    results = study_results(small_study.db, small_study.study_id)
    assert results["n"] == 8 and results["raters"][0]["answered"] == 8


def test_reopening_the_link_resumes_at_first_unanswered(client: TestClient, small_study: Study):
    token = small_study.tokens["bob"]
    _start(client, token)
    _answer(client, token, "real")
    _answer(client, token, "synthetic")
    fresh = TestClient(create_app(small_study.db, ADMIN_TOKEN))  # a new browser, no cookies
    assert "3 / 8" in fresh.get(f"/r/{token}").text


def test_no_truth_label_reaches_a_rater(client: TestClient, small_study: Study) -> None:
    token = small_study.tokens["alice"]
    with vttdb.opened(small_study.db) as conn:
        secrets_in_db = [r["source"] for r in conn.execute("SELECT source FROM items")]
    responses = [client.get(f"/r/{token}")]
    _start(client, token)
    skeletons, image_headers = set(), []
    for _ in range(8):
        page = client.get(f"/r/{token}")
        image = client.get(IMAGE_SRC.search(page.text).group(1))
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        responses += [page, image]
        image_headers.append(sorted(k for k in image.headers if k != "content-length"))
        # Every question page is the same text but for the image key and the counters.
        skeleton = IMAGE_SRC.sub("IMG", page.text)
        skeleton = re.sub(r'value="\d+"|\d+ / 8|Image \d+', "N", skeleton)
        skeletons.add(skeleton)
        responses.append(_answer(client, token, "real"))
    responses.append(client.get(f"/r/{token}"))
    responses.append(client.get("/static/vtt.js"))
    assert len(skeletons) == 1
    assert len({tuple(h) for h in image_headers}) == 1
    for response in responses:
        text = response.text if "image" not in response.headers.get("content-type", "") else ""
        blob = text + repr(sorted(response.headers.items())) + str(response.url)
        assert "truth" not in blob.lower()
        assert not any(source in blob for source in secrets_in_db)
        assert not re.search(r"synthetic:\d|real:t", blob)
        assert response.headers.get("cache-control") == "no-store"


def test_csrf_token_is_required(client: TestClient, small_study: Study) -> None:
    token = small_study.tokens["alice"]
    assert client.post(f"/r/{token}/start", data={}).status_code == 403
    _start(client, token)
    assert _answer(client, token, "real", csrf="").status_code == 403
    assert _answer(client, token, "real", csrf=secrets.token_urlsafe(32)).status_code == 403
    bob_page = client.get(f"/r/{small_study.tokens['bob']}")
    bob_csrf = CSRF_FIELD.search(bob_page.text).group(1)
    assert _answer(client, token, "real", csrf=bob_csrf).status_code == 403
    assert _answer_rows(small_study) == []


def test_retry_is_idempotent_and_change_is_refused(client: TestClient, small_study: Study):
    token = small_study.tokens["alice"]
    _start(client, token)
    page = client.get(f"/r/{token}")
    data = {"csrf": CSRF_FIELD.search(page.text).group(1), "position": "0", "answer": "real"}
    assert client.post(f"/r/{token}/answer", data=data).status_code == 303
    assert client.post(f"/r/{token}/answer", data=data).status_code == 303  # retried post
    changed = client.post(f"/r/{token}/answer", data=data | {"answer": "synthetic"})
    assert changed.status_code == 409 and "cannot be changed" in changed.text
    rows = _answer_rows(small_study)
    assert len(rows) == 1 and rows[0]["answer"] == "real"


@pytest.mark.parametrize(
    "override",
    [
        {"answer": "maybe"},
        {"answer": ""},
        {"position": "-1"},
        {"position": "x"},
        {"position": "5"},
        {"position": "99999999999"},
    ],
)
def test_invalid_answers_are_refused(client: TestClient, small_study: Study, override) -> None:
    token = small_study.tokens["alice"]
    _start(client, token)
    assert _answer(client, token, "real", **override).status_code == 400
    assert _answer_rows(small_study) == []


def test_an_image_cannot_be_answered_before_it_is_shown(client: TestClient, small_study: Study):
    token = small_study.tokens["alice"]
    start_page = client.get(f"/r/{token}")
    csrf = CSRF_FIELD.search(start_page.text).group(1)
    client.post(f"/r/{token}/start", data={"csrf": csrf})
    # Not shown yet (no GET after start): refused.
    reply = client.post(
        f"/r/{token}/answer", data={"csrf": csrf, "position": "0", "answer": "real"}
    )
    assert reply.status_code == 400


def test_unknown_tokens_get_the_same_404(client: TestClient, small_study: Study) -> None:
    bodies = set()
    for path in [
        f"/r/{secrets.token_urlsafe(32)}",
        "/r/short",
        "/r/" + "x" * 43 + "/answer",
        f"/i/{secrets.token_urlsafe(24)}",
        "/i/../../etc/passwd",
        "/nothing",
    ]:
        response = client.get(path) if not path.endswith("/answer") else client.post(path)
        assert response.status_code in (404, 405)
        if response.status_code == 404:
            bodies.add(response.text)
    assert len(bodies) == 1
    assert small_study.study_id not in bodies.pop()


def test_admin_pages_need_the_admin_token(client: TestClient, small_study: Study) -> None:
    for path in ["/admin", "/admin/results.json", "/admin/answers.csv"]:
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"X-Admin-Token": "wrong" * 8}).status_code == 401
    assert client.get("/admin?token=wrong").status_code == 401
    login = client.get(f"/admin?token={ADMIN_TOKEN}")
    assert login.status_code == 303 and login.headers["location"] == "/admin"
    assert "httponly" in login.headers["set-cookie"].lower()
    page = client.get("/admin")  # cookie now set
    assert page.status_code == 200 and "T1 (DCGAN, 16x16)" in page.text
    assert "Real as Synt" in page.text and "alice" in page.text


def test_admin_results_and_csv(client: TestClient, small_study: Study) -> None:
    token = small_study.tokens["alice"]
    _start(client, token)
    for _ in range(3):
        _answer(client, token, "synthetic")
    headers = {"X-Admin-Token": ADMIN_TOKEN}
    results = client.get(f"/admin/results.json?study={small_study.study_id}", headers=headers)
    (study,) = results.json()
    assert study["n"] == 3 and study["synthetic_as_synthetic"] + study["real_as_synthetic"] == 3
    assert [r["name"] for r in study["raters"]] == ["alice", "bob"]
    csv_text = client.get("/admin/answers.csv", headers=headers).text.splitlines()
    assert csv_text[0].startswith("study_id,study_name,sequence,rater,position")
    assert len(csv_text) == 4
    assert client.get("/admin/results.json?study=zzz", headers=headers).status_code == 404
