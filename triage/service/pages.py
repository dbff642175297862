"""Server-rendered pages for people (Jinja2), beside the JSON API and outside its
OpenAPI schema: sign in with an API key, then reviewers read the day's queue and
record decisions, and auditors read model reports and the audit log.

The pages call the same reading functions as the API, so every score shown, queue
read and review lands in the audit log under the signed-in key's id. Forms post back
with a per-session CSRF token and answer with a redirect (post-redirect-get).

    /login, /logout                 sign in and out (any active key)
    /ui/queue, /ui/incidents/{id}   reviewer
    /ui/models, /ui/audit-log       auditor
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from triage.exceptions import AuthError, PageProblem
from triage.service import auth
from triage.service.auth import ApiKey, Role
from triage.service.deps import StoreDep
from triage.service.errors import install_error_page
from triage.service.pages_audit import router as audit_router
from triage.service.pages_review import router as review_router
from triage.service.pages_session import (
    FormDep,
    busy_page,
    csrf_token,
    install_sessions,
    page_key,
    render,
    sign_in,
    sign_out,
    unexpected_page,
)
from triage.settings import Settings

__all__ = ["MESSAGE_LOGIN_REFUSED", "install_pages", "is_page"]

logger = logging.getLogger(__name__)

MESSAGE_LOGIN_REFUSED = "That key is unknown or has been revoked. Check it and try again."
_MAX_NEXT = 200
_HOME = {Role.REVIEWER: "/ui/queue", Role.AUDITOR: "/ui/audit-log"}
_PAGE_PATHS = frozenset({"/", "/login", "/logout"})

router = APIRouter(include_in_schema=False)


def install_pages(app: FastAPI, settings: Settings) -> None:
    """Mount the pages, their stylesheet and signed session cookies on ``app``; an
    unexpected error on a page answers with the HTML error page, not the API's JSON."""
    install_sessions(app, settings)
    install_error_page(app, is_page, unexpected_page, busy_page)
    app.include_router(router)
    app.include_router(review_router)
    app.include_router(audit_router)
    static = Path(__file__).parent / "static"
    app.mount("/ui/static", StaticFiles(directory=static), name="static")


def is_page(scope: Scope) -> bool:
    """Whether a request is for a page (or the pages' stylesheet), not the API."""
    path = str(scope.get("path", ""))
    return path in _PAGE_PATHS or path.startswith("/ui/")


def _next_page(raw: str | None) -> str:
    """Where to go after sign-in: only a page of this site (no open redirect)."""
    if (
        raw
        and len(raw) <= _MAX_NEXT
        and raw.startswith("/ui/")
        and "//" not in raw
        and "\\" not in raw
        and raw.isprintable()
    ):
        return raw
    return "/ui/"


@router.get("/")
def root() -> Response:
    return RedirectResponse("/ui/", status_code=303)


@router.get("/login")
def login_form(
    request: Request, next: str | None = None, signed_out: str | None = None
) -> Response:
    context = {
        "login_csrf": csrf_token(request),
        "next": _next_page(next),
        "notice": "You have signed out." if signed_out == "true" else None,
    }
    return render(request, "login.html", context)


@router.post("/login")
def login(request: Request, form: FormDep, store: StoreDep) -> Response:
    """Check the key exactly as the API does; a good one starts a fresh session."""
    try:
        with store.session() as session:
            key = auth.authenticate(session, form.get("api_key"))
    except AuthError:
        logger.info("page sign-in refused")
        context = {
            "login_csrf": csrf_token(request),
            "next": _next_page(form.get("next")),
            "error": MESSAGE_LOGIN_REFUSED,
        }
        return render(request, "login.html", context, status=401)
    sign_in(request, key, store)
    logger.info("page sign-in: key %s (%s)", key.key_id, key.role.value)
    return RedirectResponse(quote(_next_page(form.get("next")), safe="/"), status_code=303)


@router.post("/logout")
def logout(request: Request, form: FormDep, store: StoreDep) -> Response:
    key_id = sign_out(request, store)
    if isinstance(key_id, str):
        logger.info("page sign-out: key %s", key_id)
    return RedirectResponse("/login?signed_out=true", status_code=303)


@router.get("/ui/")
def home(request: Request, store: StoreDep) -> Response:
    """Each role's first page; roles without pages are told so."""
    key: ApiKey = page_key(request, store)
    target = _HOME.get(key.role)
    if target is None:
        raise PageProblem(
            403,
            f"Keys with role {key.role.value} have no pages here: the pages are for "
            "reviewers and auditors. Use the API instead.",
        )
    return RedirectResponse(target, status_code=303)
