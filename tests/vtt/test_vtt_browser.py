"""Real-browser tests: a rater in headless Chromium (Debian's, through Playwright)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from vtt_helpers import ADMIN_TOKEN, LiveServer, Study, blob_dataset, make_study

from brainsynth.vtt import db as vttdb

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium"),
]
RATERS = ["mouse", "keyboard", "reload", "intruder", "victim"]


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    root = tmp_path_factory.mktemp("vtt-browser")
    return make_study(blob_dataset(root / "prepared"), root / "vtt.db", RATERS)


@pytest.fixture(scope="module")
def server(study: Study) -> Iterator[LiveServer]:
    live = LiveServer(study.db)
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server: LiveServer) -> Iterator[object]:
    context = browser.new_context(base_url=server.url, viewport={"width": 1100, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


def _answers(study: Study, rater: str) -> list[str]:
    with vttdb.opened(study.db) as conn:
        rows = conn.execute(
            "SELECT a.answer FROM answers a JOIN raters r ON r.id = a.rater_id "
            "WHERE r.name = ? ORDER BY a.position",
            (rater,),
        ).fetchall()
    return [r["answer"] for r in rows]


def _expect_progress(page, k: int, n: int = 8) -> None:
    from playwright.sync_api import expect

    expect(page.locator(".progress")).to_have_text(f"{k} / {n}")


def test_rater_completes_the_study_by_mouse(page, study: Study) -> None:
    from playwright.sync_api import expect

    page.goto(f"/r/{study.tokens['mouse']}")
    expect(page.get_by_role("heading", name="Real or synthetic?")).to_be_visible()
    page.get_by_role("button", name="Start").click()
    choices = []
    for k in range(1, 9):
        _expect_progress(page, k)
        image = page.locator("img.stimulus")
        expect(image).to_be_visible()
        width = page.wait_for_function(
            "() => { const img = document.querySelector('img.stimulus');"
            " return img && img.complete && img.naturalWidth; }"
        )
        assert width.json_value() == 16  # the image really loaded, at its stored size
        box = image.bounding_box()
        assert (round(box["width"]), round(box["height"])) == (512, 512)  # fixed display size
        label = "Real" if k % 3 else "Synthetic"
        page.get_by_role("button", name=label, exact=True).click()
        choices.append(label.lower())
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    assert "%" not in page.inner_text("body")
    assert _answers(study, "mouse") == choices


def test_rater_completes_the_study_by_keyboard(page, study: Study) -> None:
    from playwright.sync_api import expect

    page.goto(f"/r/{study.tokens['keyboard']}")
    start = page.get_by_role("button", name="Start")
    if not start.evaluate("button => button === document.activeElement"):
        page.keyboard.press("Tab")  # headless windows may not honour autofocus
    expect(start).to_be_focused()
    page.keyboard.press("Enter")
    keys = ["r", "s", "s", "r", "R", "S", "r", "s"]
    for k, key in enumerate(keys, start=1):
        _expect_progress(page, k)
        page.locator("html[data-keys=ready]").wait_for(state="attached")  # shortcuts bound
        page.keyboard.press(key)
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    assert _answers(study, "keyboard") == [
        "real" if key.lower() == "r" else "synthetic" for key in keys
    ]


def test_rater_resumes_after_reload_and_cannot_go_back(page, study: Study) -> None:
    from playwright.sync_api import expect

    page.goto(f"/r/{study.tokens['reload']}")
    page.get_by_role("button", name="Start").click()
    for k in range(1, 4):
        _expect_progress(page, k)
        page.get_by_role("button", name="Real", exact=True).click()
    _expect_progress(page, 4)
    page.reload()
    _expect_progress(page, 4)
    page.go_back()
    page.reload()
    _expect_progress(page, 4)  # history leads back only to the current image
    page.context.clear_cookies()
    page.goto(f"/r/{study.tokens['reload']}")
    _expect_progress(page, 4)
    page.get_by_role("button", name="Synthetic", exact=True).click()
    _expect_progress(page, 5)
    assert _answers(study, "reload") == ["real", "real", "real", "synthetic"]
    expect(page.get_by_role("button", name="Real", exact=True)).to_have_attribute(
        "aria-keyshortcuts", "R"
    )


def test_rater_cannot_open_another_raters_session(page, study: Study) -> None:
    from playwright.sync_api import expect

    response = page.goto(f"/r/{secrets.token_urlsafe(32)}")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    response = page.goto("/admin")
    assert response.status == 401
    # Start one's own session, then point the form at another rater's session: refused.
    page.goto(f"/r/{study.tokens['intruder']}")
    page.get_by_role("button", name="Start").click()
    _expect_progress(page, 1)
    victim = study.tokens["victim"]
    page.evaluate(
        "token => { document.getElementById('answer-form').action = `/r/${token}/answer`; }",
        victim,
    )
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Real", exact=True).click()
    assert posted.value.status == 403
    expect(page.get_by_role("heading", name="Request refused")).to_be_visible()
    assert _answers(study, "victim") == [] and _answers(study, "intruder") == []


def test_admin_link_opens_the_results(page, study: Study) -> None:
    from playwright.sync_api import expect

    page.goto(f"/admin?token={ADMIN_TOKEN}")
    assert page.url.endswith("/admin")  # the token leaves the address bar
    expect(page.get_by_role("heading", name="Results")).to_be_visible()
    expect(page.get_by_role("columnheader", name="Real as Synt")).to_be_visible()
