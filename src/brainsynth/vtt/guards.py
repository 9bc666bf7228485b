"""ASGI guards around the whole Visual Turing Test app, outside every other layer.

- :class:`BodyLimit` refuses request bodies over a small limit before they are read: by their
  ``Content-Length`` at once, and by counting the bytes of a streamed (chunked) body, for
  every route, known or not. The rater forms are a few hundred bytes; nothing else is posted.
- :class:`SecurityHeaders` puts the security headers on every response, including the error
  pages of the innermost error handler (it wraps Starlette's ``ServerErrorMiddleware``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY_BYTES = 16 * 1024
"""Largest request body accepted (a rater's answer form is about 150 bytes)."""

SECURITY_HEADERS: dict[str, str] = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}

TOO_LARGE_PAGE = (
    b"<!doctype html><html lang=en><meta charset=utf-8><title>Request too large</title>"
    b"<h1>Request too large</h1><p>This server accepts only its own small forms.</p></html>"
)


def too_large() -> HTTPException:
    """Raised from ``receive`` when a streamed body passes the limit: the app's own error
    handler answers it with its 413 page, as for any refused request."""
    return HTTPException(413, "This server accepts only its own small forms.")


class BodyLimit:
    """Refuse bodies over ``limit`` bytes with 413 before reading them."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            if not length.isdigit():
                await plain_response(send, 400, b"Bad Content-Length")
                return
            if int(length) > self.limit:
                await plain_response(send, 413, TOO_LARGE_PAGE, html=True)
                return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise too_large()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except HTTPException as exc:
            if exc.status_code != 413 or started:
                raise
            await plain_response(send, 413, TOO_LARGE_PAGE, html=True)


class SecurityHeaders:
    """Add :data:`SECURITY_HEADERS` to every response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {key.lower() for key, _ in headers}
                for key, value in SECURITY_HEADERS.items():
                    if key.lower().encode() not in present:
                        headers.append((key.lower().encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


async def plain_response(send: Send, status: int, body: bytes, html: bool = False) -> None:
    kind = b"text/html; charset=utf-8" if html else b"text/plain; charset=utf-8"
    headers = [
        (b"content-type", kind),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
