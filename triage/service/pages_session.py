"""Sessions, CSRF tokens, form bodies and rendering for the review pages.

A page session is a row in the store (:mod:`triage.service.sessions`) named by a
random id; the signed cookie (Starlette's ``SessionMiddleware``, HttpOnly, Secure,
SameSite=Strict) carries that id and a CSRF token, never the key nor its id. Every
request looks the session and its key up again, so signing out or revoking the key
ends it at once (a copied cookie is refused), and a session lasts at most
:data:`SESSION_MAX_AGE` from sign-in however it is used. Secure cookies need HTTPS in
front of the service; browsers also accept them from http://127.0.0.1 and localhost.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

from fastapi import Depends, FastAPI, Request
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from triage.exceptions import PageProblem
from triage.service.auth import ApiKey, Role, find_key
from triage.service.deps import StoreDep
from triage.service.sessions import end_session, live_session, start_session
from triage.service.store import Store
from triage.settings import Settings

__all__ = [
    "CSRF_FIELD",
    "DISCLAIMER",
    "MESSAGE_BAD_FORM",
    "MESSAGE_BUSY",
    "MESSAGE_CSRF",
    "MESSAGE_UNEXPECTED",
    "MESSAGE_WRONG_ROLE",
    "SESSION_COOKIE",
    "SESSION_MAX_AGE",
    "FormDep",
    "PageProblem",
    "busy_page",
    "csrf_token",
    "install_sessions",
    "page_key",
    "render",
    "require_page",
    "sign_in",
    "sign_out",
    "unexpected_page",
    "when",
]

logger = logging.getLogger(__name__)

SESSION_COOKIE = "triage_session"
#: a session ends this long after sign-in (one shift), however it is used
SESSION_MAX_AGE = 8 * 60 * 60
CSRF_FIELD = "csrf_token"
DISCLAIMER = (
    "The model supports, not replaces, professional judgement: read each score beside "
    "the DASH grade and what you know of the case, and override it when you disagree."
)
MESSAGE_CSRF = (
    "This form has expired or did not come from this site. Reload the page and try again."
)
MESSAGE_BAD_FORM = "The form could not be read. Reload the page and try again."
MESSAGE_WRONG_ROLE = "Your key's role ({role}) may not open this page; it needs {needs}."
MESSAGE_BUSY = (
    "The service is busy saving other work, so nothing was saved. Wait {seconds} and try again."
)
MESSAGE_UNEXPECTED = (
    "Something went wrong while preparing this page. Try again; if it happens again, "
    "tell the service's operators the error id below."
)
_MAX_FORM_BYTES = 16_384
_MAX_FORM_FIELDS = 16
_TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def install_sessions(app: FastAPI, settings: Settings) -> None:
    """Signed session cookies, and HTML (never JSON) for a :class:`PageProblem`."""
    if settings.session_secret is None:
        logger.warning(
            "TRIAGE_SESSION_SECRET is not set: review-page sessions are signed with a "
            "random key and end when the service restarts"
        )
        secret = secrets.token_urlsafe(32)
    else:
        secret = settings.session_secret.get_secret_value()
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="strict",
        https_only=True,
    )
    app.add_exception_handler(PageProblem, _problem_page)


async def _problem_page(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, PageProblem):  # registered for PageProblem only
        raise exc
    if exc.status == 401:
        return RedirectResponse(_login_url(request), status_code=303)
    return render(request, "error.html", {"message": exc.message}, status=exc.status)


def busy_page(request: Request, retry_after: int) -> Response:
    """The page for a store busy with other writes (status 503): nothing was saved, and
    the same request can simply be sent again."""
    seconds = f"{retry_after} second{'s' if retry_after != 1 else ''}"
    context = {"message": MESSAGE_BUSY.format(seconds=seconds)}
    return render(request, "error.html", context, status=503)


def unexpected_page(request: Request, error_id: str) -> Response:
    """The error page for an unexpected error on a page (status 500): the error id the
    log line holds, and nothing of the error itself."""
    context = {"message": MESSAGE_UNEXPECTED, "error_id": error_id}
    return render(request, "error.html", context, status=500)


def _login_url(request: Request) -> str:
    path = request.url.path
    if request.method != "GET" or path == "/ui/":
        return "/login"
    return "/login?next=" + quote(path, safe="/")


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> Response:
    """A page with the layout's shared context and headers that keep it out of caches
    and frames."""
    session = request.scope.get("session")
    key = request.scope.get("triage.page_key")
    flash = session.pop("flash", None) if session else None
    shared = {
        "disclaimer": DISCLAIMER,
        "key": key,
        "csrf": session.get("csrf") if session else None,
        "csrf_field": CSRF_FIELD,
        "flash": flash,
    }
    response = _TEMPLATES.TemplateResponse(
        request, template, {**shared, **(context or {})}, status_code=status
    )
    response.headers.update(_SECURITY_HEADERS)
    return response


def csrf_token(request: Request) -> str:
    """The session's CSRF token (a new anonymous session gets one, for sign-in)."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def sign_in(request: Request, key: ApiKey, store: Store) -> None:
    """A fresh server-side session for ``key``: nothing carries over from before."""
    with store.session() as s:
        sid = start_session(s, key.key_id, SESSION_MAX_AGE)
    request.session.clear()
    request.session.update({"sid": sid, "csrf": secrets.token_urlsafe(32)})


def sign_out(request: Request, store: Store) -> str | None:
    """End the request's session in the store and in the cookie; its key id, if any."""
    sid = request.session.get("sid")
    request.session.clear()
    with store.session() as s:
        row = live_session(s, sid)
        key_id = None if row is None else row.key_id
        end_session(s, sid)
    return key_id


async def _form(request: Request) -> dict[str, str]:
    """A urlencoded form body, size-capped; the CSRF token is checked here, before a
    route sees any field, so a forged post changes nothing."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if kind != "application/x-www-form-urlencoded" or len(body) > _MAX_FORM_BYTES:
        raise PageProblem(400, MESSAGE_BAD_FORM)
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=bool(body),
            max_num_fields=_MAX_FORM_FIELDS,
        )
    except ValueError:
        raise PageProblem(400, MESSAGE_BAD_FORM) from None
    fields = dict(pairs)
    expected = request.session.get("csrf")
    given = fields.pop(CSRF_FIELD, "")
    if not isinstance(expected, str) or not hmac.compare_digest(expected.encode(), given.encode()):
        raise PageProblem(403, MESSAGE_CSRF)
    return fields


FormDep = Annotated[dict[str, str], Depends(_form)]


def page_key(request: Request, store: StoreDep) -> ApiKey:
    """The signed-in key, still active and within the session's lifetime; otherwise
    the session is cleared and the browser sent to sign in."""
    session = request.session
    sid = session.get("sid")
    if sid is None:
        raise PageProblem(401, "sign in")
    with store.read_session() as s:
        row = live_session(s, sid)
        key_id = None if row is None else row.key_id
        key = None if key_id is None else find_key(s, key_id)
    if key_id is None:
        session.clear()
        raise PageProblem(401, "session ended")
    if key is None or not key.active:
        logger.info("page session of key %s ended: the key is unknown or revoked", key_id)
        session.clear()
        raise PageProblem(401, "key revoked")
    request.scope["triage.page_key"] = key
    return key


def require_page(*roles: Role) -> Callable[[ApiKey], ApiKey]:
    """A dependency admitting signed-in keys with one of ``roles`` (403 page else)."""
    allowed = frozenset(roles)
    needs = " or ".join(sorted(r.value for r in allowed))

    def check(key: Annotated[ApiKey, Depends(page_key)]) -> ApiKey:
        if key.role not in allowed:
            raise PageProblem(403, MESSAGE_WRONG_ROLE.format(role=key.role.value, needs=needs))
        return key

    return check


def when(stamp: datetime | str) -> str:
    """A time as reviewers read it: UTC, to the minute."""
    if isinstance(stamp, str):
        stamp = datetime.fromisoformat(stamp)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


_TEMPLATES.env.filters["when"] = when
_TEMPLATES.env.trim_blocks = True
_TEMPLATES.env.lstrip_blocks = True
