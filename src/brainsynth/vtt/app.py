"""The Visual Turing Test web app (paper §3.3): rater pages, opaque images, admin results.

Rater flow: ``/r/<token>`` shows the protocol and a Start button, then one image at a time
with Real / Synthetic buttons (keys R and S) and a ``k / N`` progress line, then a Thank you
page without a score. Each answer is committed (WAL, ``synchronous=FULL``) before the
redirect that shows the next image, so a crash loses nothing already submitted; reopening the
link resumes at the first unanswered image. The response time of an answer runs from the last
time its image page was served to the answer's arrival (both server clocks). No truth label
ever reaches a rater: images are served at per-rater random keys, re-encoded identically, with
no label in any page, header or URL. Admin pages (``/admin``) need the admin token as cookie,
``X-Admin-Token`` header or a one-time ``?token=`` login that sets the cookie.

Every form field is validated (a 4xx page, never a 500), request bodies over a few kilobytes
are refused before they are read, every response carries the security headers (see
:mod:`brainsynth.vtt.guards`), and a database that disappears while serving gives a
"temporarily unavailable" page (503) with the reason on the server's stderr.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from brainsynth.errors import BrainsynthError
from brainsynth.paper import IMAGE_SET_LABELS
from brainsynth.vtt import db as vttdb
from brainsynth.vtt import export
from brainsynth.vtt.guards import SECURITY_HEADERS, BodyLimit, SecurityHeaders
from brainsynth.vtt.scoring import LABELS, list_studies, study_results
from brainsynth.vtt.study import TOKEN_PATTERN

HERE = Path(__file__).parent
ADMIN_COOKIE = "vtt_admin"
IMAGE_KEY = re.compile(r"^[A-Za-z0-9_-]{32}$")
STUDY_ID = re.compile(r"^[0-9a-f]{16}$")
DISPLAY_PX = 512
"""Fixed on-screen size of every image (CSS pixels), whatever its stored size."""

POSITION = re.compile(r"^[0-9]{1,6}$")
"""An image number as the answer form sends it (ASCII digits only: int() accepts '²')."""
ERROR_PAGES: dict[int, tuple[str, str]] = {
    400: ("Request refused", "The form was incomplete. Reload your link to go on."),
    404: ("Not found", "There is nothing at this address. Check the link you were sent."),
    401: ("Admin token required", "Open the admin link printed by 'vtt serve'."),
    405: ("Not allowed", "This address does not accept that kind of request."),
    409: ("Already answered", "Answers cannot be changed. Reload your link to go on."),
    413: ("Request too large", "This server accepts only its own small forms."),
    503: (
        "Temporarily unavailable",
        "The study cannot be reached right now. Your answers so far are saved; please try "
        "again later.",
    ),
}
__all__ = ["SECURITY_HEADERS", "create_app"]


class VttApp(FastAPI):
    """FastAPI with the guards of :mod:`brainsynth.vtt.guards` outside every other layer."""

    def build_middleware_stack(self):  # type: ignore[no-untyped-def]
        return SecurityHeaders(BodyLimit(super().build_middleware_stack()))


class NotFound(StarletteHTTPException):
    def __init__(self) -> None:
        super().__init__(status_code=404)


def create_app(db: Path | str, admin_token: str) -> FastAPI:
    """The FastAPI app serving the studies in ``db``; ``admin_token`` guards ``/admin``."""
    if len(admin_token) < 16:
        raise ValueError("the admin token must have at least 16 characters")
    db = Path(db)
    vttdb.connect(db).close()  # fail early on a missing or foreign database
    app = VttApp(
        title="brainsynth Visual Turing Test", docs_url=None, redoc_url=None, openapi_url=None
    )
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, context, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        title, text = ERROR_PAGES.get(exc.status_code, ("Request refused", str(exc.detail)))
        if exc.status_code in (400, 403, 413) and exc.detail:
            text = str(exc.detail)
        return page(request, "message.html", exc.status_code, title=title, text=text)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        title = "Something went wrong"
        text = "The server could not answer. Your answers so far are saved; reload to go on."
        return page(request, "message.html", 500, title=title, text=text)

    @app.exception_handler(BrainsynthError)
    @app.exception_handler(sqlite3.Error)
    async def unavailable(request: Request, exc: Exception) -> Response:
        # The database was moved, deleted or broken while serving: the reason goes to the
        # admin's terminal, the rater gets a page that reveals nothing.
        print(f"brainsynth: error: serving {request.url.path}: {exc}", file=sys.stderr)
        title, text = ERROR_PAGES[503]
        return page(request, "message.html", 503, title=title, text=text)

    def rater_row(conn: Any, token: str) -> Any:
        if not TOKEN_PATTERN.match(token):
            raise NotFound()
        row = conn.execute(
            "SELECT r.*, s.n_real + s.n_fake AS n_items FROM raters r "
            "JOIN studies s ON s.id = r.study_id WHERE r.token = ?",
            (token,),
        ).fetchone()
        if row is None or not secrets.compare_digest(row["token"], token):
            raise NotFound()
        return row

    def next_position(conn: Any, rater_id: int) -> Any:
        return conn.execute(
            "SELECT position, image_key FROM assignments WHERE rater_id = ? AND position NOT IN "
            "(SELECT position FROM answers WHERE rater_id = ?) ORDER BY position LIMIT 1",
            (rater_id, rater_id),
        ).fetchone()

    def check_csrf(form: dict[str, Any], rater: Any) -> None:
        csrf = form.get("csrf")
        if not isinstance(csrf, str) or not secrets.compare_digest(
            csrf.encode("utf-8", "replace"), str(rater["csrf"]).encode()
        ):
            raise StarletteHTTPException(403, "The form expired or did not come from this page.")

    @app.get("/r/{token}", response_class=HTMLResponse)
    def rater_page(request: Request, token: str) -> Response:
        with vttdb.opened(db) as conn:
            rater = rater_row(conn, token)
            common = {"token": token, "csrf": rater["csrf"], "total": rater["n_items"]}
            if rater["started_at"] is None:
                return page(request, "instructions.html", **common)
            with vttdb.transaction(conn):
                current = next_position(conn, rater["id"])
                if current is not None:
                    conn.execute(
                        "UPDATE assignments SET shown_at = ? WHERE rater_id = ? AND position = ?",
                        (vttdb.now(), rater["id"], current["position"]),
                    )
            if current is None:
                return page(request, "thanks.html", **common)
            return page(
                request,
                "question.html",
                **common,
                position=current["position"],
                number=current["position"] + 1,
                image_url=f"/i/{current['image_key']}",
                display_px=DISPLAY_PX,
            )

    def start_sync(token: str, form: dict[str, Any]) -> None:
        with vttdb.opened(db) as conn:
            rater = rater_row(conn, token)
            check_csrf(form, rater)
            with vttdb.transaction(conn):
                conn.execute(
                    "UPDATE raters SET started_at = ? WHERE id = ? AND started_at IS NULL",
                    (vttdb.now(), rater["id"]),
                )

    def answer_sync(token: str, form: dict[str, Any]) -> None:
        with vttdb.opened(db) as conn:
            rater = rater_row(conn, token)
            check_csrf(form, rater)
            label, position = form.get("answer"), form.get("position")
            if label not in LABELS:
                raise StarletteHTTPException(400, "Choose Real or Synthetic.")
            if not isinstance(position, str) or not POSITION.match(position):
                raise StarletteHTTPException(400, "The form is missing the image number.")
            record_answer(conn, rater, int(position), str(label))

    @app.post("/r/{token}/start")
    async def start(request: Request, token: str) -> Response:
        form = dict(await request.form())
        await run_in_threadpool(start_sync, token, form)
        return RedirectResponse(f"/r/{token}", status_code=303)

    @app.post("/r/{token}/answer")
    async def answer(request: Request, token: str) -> Response:
        form = dict(await request.form())
        await run_in_threadpool(answer_sync, token, form)
        return RedirectResponse(f"/r/{token}", status_code=303)

    @app.get("/i/{key}")
    def image(key: str) -> Response:
        if not IMAGE_KEY.match(key):
            raise NotFound()
        with vttdb.opened(db) as conn:
            row = conn.execute(
                "SELECT i.png FROM assignments a JOIN items i ON i.id = a.item_id "
                "WHERE a.image_key = ?",
                (key,),
            ).fetchone()
        if row is None:
            raise NotFound()
        return Response(content=bytes(row["png"]), media_type="image/png")

    def require_admin(request: Request) -> None:
        given = request.headers.get("x-admin-token") or request.cookies.get(ADMIN_COOKIE) or ""
        if not secrets.compare_digest(given.encode(), admin_token.encode()):
            raise StarletteHTTPException(401)

    @app.get("/admin", response_class=HTMLResponse)
    def admin(request: Request, token: str | None = None) -> Response:
        if token is not None:
            if not secrets.compare_digest(token.encode(), admin_token.encode()):
                raise StarletteHTTPException(401)
            response = RedirectResponse("/admin", status_code=303)
            response.set_cookie(ADMIN_COOKIE, admin_token, httponly=True, samesite="strict")
            return response
        require_admin(request)
        studies = [
            study_results(db, s["id"]) | {"created_at": s["created_at"]} for s in list_studies(db)
        ]
        return page(
            request, "admin.html", studies=studies, fmt=export.format_cell, labels=IMAGE_SET_LABELS
        )

    @app.get("/admin/results.json")
    def results_json(request: Request, study: str | None = None) -> Response:
        require_admin(request)
        ids = _study_ids(db, study)
        body = [study_results(db, i) for i in ids]
        return Response(json.dumps(body, indent=2), media_type="application/json")

    @app.get("/admin/answers.csv")
    def answers_csv(request: Request, study: str | None = None) -> Response:
        require_admin(request)
        return PlainTextResponse(
            export.answers_csv(db, _study_ids(db, study)),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="vtt-answers.csv"'},
        )

    return app


def _study_ids(db: Path, study: str | None) -> list[str]:
    ids = [s["id"] for s in list_studies(db)]
    if study is None:
        return ids
    if not STUDY_ID.match(study) or study not in ids:
        raise NotFound()
    return [study]


def record_answer(conn: Any, rater: Any, position: int, label: str) -> None:
    """Store one answer exactly once (``BEGIN IMMEDIATE`` + primary key on rater, position).

    A retry of the same answer is accepted silently; a different answer to an answered image,
    or an answer to an image not yet shown, is refused with 409 / 400.
    """
    with vttdb.transaction(conn):
        done = conn.execute(
            "SELECT answer FROM answers WHERE rater_id = ? AND position = ?",
            (rater["id"], position),
        ).fetchone()
        if done is not None:
            if done["answer"] != label:
                raise StarletteHTTPException(409)
            return
        current = conn.execute(
            "SELECT position, item_id, shown_at FROM assignments WHERE rater_id = ? AND "
            "position NOT IN (SELECT position FROM answers WHERE rater_id = ?) "
            "ORDER BY position LIMIT 1",
            (rater["id"], rater["id"]),
        ).fetchone()
        if current is None or current["position"] != position or current["shown_at"] is None:
            raise StarletteHTTPException(400, "This is not the image on your screen; reload.")
        answered = vttdb.now()
        conn.execute(
            "INSERT INTO answers (rater_id, position, item_id, answer, shown_at, answered_at, "
            "response_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                rater["id"],
                position,
                current["item_id"],
                label,
                current["shown_at"],
                answered,
                max(0, round(1000 * (answered - current["shown_at"]))),
            ),
        )
