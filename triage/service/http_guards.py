"""Guards in front of every route (docs/architecture.md §10), as plain ASGI middleware
so they act before routing, sessions, key checks and body parsing.

- :class:`BodyLimit` refuses a body over ``TRIAGE_MAX_BODY_BYTES`` with 413 without
  reading it (by its ``Content-Length``), and stops a chunked body at the limit: an
  unauthenticated client cannot make the service hold a large body.
- :class:`SecureHeaders` gives every answer ``no-store``, ``nosniff`` and a CSP that
  loads nothing (pages keep their own), and turns a redirect's absolute ``Location``
  into a path, so a forged ``Host`` header is never sent back.
- :class:`AuthThrottle` answers 429 with ``Retry-After`` to an address that keeps
  failing sign-in or sending bad keys (:mod:`triage.service.throttle`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from triage.service.access_log import install_access_log_filter
from triage.service.schemas import ErrorBody
from triage.service.throttle import FailureLimiter
from triage.settings import Settings

__all__ = [
    "API_HEADERS",
    "MESSAGE_TOO_LARGE",
    "MESSAGE_TOO_MANY",
    "AuthThrottle",
    "BodyLimit",
    "SecureHeaders",
    "install_guards",
    "relative_location",
]

logger = logging.getLogger(__name__)

#: what every answer carries unless it sets its own (the pages set a CSP of their own)
API_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
MESSAGE_TOO_LARGE = "The request body is larger than {limit:,} bytes; send it in smaller parts."
MESSAGE_TOO_MANY = (
    "Too many failed sign-ins or unknown keys from this address. Wait {seconds} seconds "
    "and try again."
)
#: answers a refusal on a page (HTML) given the status and the message
PageRefusal = Callable[[Request, int, str], Response]
Claims = Callable[[Scope], bool]


def _refusal(
    scope: Scope, claims: Claims, page: PageRefusal, status: int, error: str, message: str
) -> Response:
    if claims(scope):
        response = page(Request(scope), status, message)
    else:
        body = ErrorBody(error=error, message=message).model_dump(mode="json", exclude_none=True)
        response = JSONResponse(body, status_code=status)
    for name, value in API_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


class BodyLimit:
    """Refuse a request body over ``limit`` bytes (413), before anything reads it."""

    def __init__(self, app: ASGIApp, limit: int, claims: Claims, page: PageRefusal) -> None:
        self.app, self.limit, self.claims, self.page = app, limit, claims, page

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        logger.info("request body over %d bytes refused: %s", self.limit, scope.get("method"))
        message = MESSAGE_TOO_LARGE.format(limit=self.limit)
        response = _refusal(scope, self.claims, self.page, 413, "payload_too_large", message)
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        if length is not None:
            # the server reads exactly Content-Length bytes, so the header is the size
            if not length.isdigit() or len(length) > 18 or int(length) > self.limit:
                await self._refuse(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if b"chunked" not in (_header(scope, b"transfer-encoding") or b"").lower():
            await self.app(scope, receive, send)  # no body
            return
        chunks: list[bytes] = []
        size = 0
        while True:  # a chunked body has no size up front: count it, up to the limit
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = bytes(message.get("body", b""))
            size += len(chunk)
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives ``body`` once, then what the server sends (a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def relative_location(location: str) -> str:
    """A redirect target as a path on this site: never another host, whatever the
    request's ``Host`` header said (``//host`` and ``/\\host`` are hosts to a browser)."""
    parts = urlsplit(location)
    if not (parts.scheme or parts.netloc or location.startswith(("/", "\\"))):
        return location  # relative to the current page: stays on this site
    path = "/" + parts.path.lstrip("/\\")
    return f"{path}?{parts.query}" if parts.query else path


class SecureHeaders:
    """No caching, no sniffing, nothing loaded; redirects as paths."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in API_HEADERS.items():
                    headers.setdefault(name, value)
                location = headers.get("location")
                if location is not None:
                    headers["location"] = relative_location(location)
            await send(message)

        await self.app(scope, receive, guarded)


class AuthThrottle:
    """Count 401s to requests that tried a key (an ``X-API-Key`` header, or a posted
    sign-in) per client address; over the limit, such requests get 429 unanswered."""

    def __init__(
        self, app: ASGIApp, limiter: FailureLimiter, claims: Claims, page: PageRefusal
    ) -> None:
        self.app, self.limiter, self.claims, self.page = app, limiter, claims, page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _tries_a_key(scope):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        wait = self.limiter.retry_after(address)
        if wait is not None:
            message = MESSAGE_TOO_MANY.format(seconds=wait)
            response = _refusal(scope, self.claims, self.page, 429, "too_many_attempts", message)
            response.headers["Retry-After"] = str(wait)
            await response(scope, receive, send)
            return
        status = 0

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await self.app(scope, receive, watched)
        if status == 401:
            self.limiter.failed(address)
            logger.info("failed sign-in or bad key from a client (%s)", scope.get("method"))


def _tries_a_key(scope: Scope) -> bool:
    if _header(scope, b"x-api-key") is not None:
        return True
    return scope.get("method") == "POST" and scope.get("path") == "/login"


def install_guards(app: FastAPI, settings: Settings, claims: Claims, page: PageRefusal) -> None:
    """Add the guards outside every middleware already on ``app`` (call last): the body
    limit first, then the headers, then the throttle; and keep keys out of the access
    log. ``claims`` picks the requests answered with ``page`` (HTML) rather than JSON."""
    limiter = FailureLimiter(settings.auth_failures_per_minute)
    app.add_middleware(AuthThrottle, limiter=limiter, claims=claims, page=page)
    app.add_middleware(SecureHeaders)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes, claims=claims, page=page)
    install_access_log_filter()
