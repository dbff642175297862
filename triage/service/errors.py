"""Every error of the API leaves the service as JSON
(:class:`~triage.service.schemas.ErrorBody`) and is documented on its route. Nothing
unexpected is shown: the client gets an error id, the log gets the same id, the
exception type and where it was raised, never the exception's message (it may hold a
person's data) nor the request. The review pages answer an unexpected error with
their own HTML page instead (:func:`install_error_page`), with the same id and the
same log line."""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from triage.exceptions import (
    AuthError,
    BundleIntegrityError,
    ConflictError,
    Forbidden,
    ModelNotFoundError,
    ModelUnavailable,
    NotFoundError,
    SchemaError,
    StoreBusy,
    TriageError,
)
from triage.service.schemas import ErrorBody, ProblemOut

__all__ = [
    "MAX_PROBLEMS",
    "MAX_SHOWN_CHARS",
    "MESSAGE_CONFLICT",
    "BusyPage",
    "ErrorPage",
    "install_error_handlers",
    "install_error_page",
    "responses",
]

logger = logging.getLogger(__name__)

#: the answer to an unexpected error on a request, given the error id already logged
ErrorPage = Callable[[Request, str], Response]
#: the answer to a busy store on a request, given the seconds to wait before retrying
BusyPage = Callable[[Request, int], Response]
#: an error lists at most this many problems, and shows at most this much of a value
MAX_PROBLEMS = 100
MAX_SHOWN_CHARS = 80
#: where :func:`install_error_page` keeps its choice, on the app's state
_STATE_ERROR_PAGE = "error_page"


@dataclass(frozen=True)
class _PageAnswers:
    claims: Callable[[Scope], bool]
    unexpected: ErrorPage
    busy: BusyPage


MESSAGE_CONFLICT = (
    "the batch conflicts with stored records: an incident or order cannot be changed once "
    "stored; nothing was stored"
)
_DESCRIPTIONS = {
    400: "The body cannot be read as JSON (it is not UTF-8, or is nested too deeply).",
    401: "No API key, or an unknown or revoked one (X-API-Key header).",
    403: "The key's role may not use this route.",
    404: "No such incident or model version.",
    409: (
        "The batch conflicts with stored records (an incident or order re-sent with other "
        "content; nothing was stored), or a reload refused a champion whose bundle failed "
        "its checks (the served model stays)."
    ),
    413: "The request body is over TRIAGE_MAX_BODY_BYTES; it was not read.",
    422: "The request breaks the data contract or the request schema; nothing was stored.",
    429: (
        "Too many failed sign-ins or unknown keys from this address in the last minute; "
        "wait the `Retry-After` seconds."
    ),
    500: "An unexpected error; quote the error id to the operators.",
    503: (
        "No champion model is loaded (promote one, then POST /admin/reload), or the store "
        "stayed busy with other writes past its busy timeout (error `store_busy`, with a "
        "`Retry-After` header; nothing was written, so the same request can be sent again)."
    ),
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error codes a route can answer; 413 and 429 (answered
    in front of every route, :mod:`triage.service.http_guards`) and 500 always."""
    return {
        code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]}
        for code in sorted({*codes, 413, 429, 500})
    }


def _json(status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> JSONResponse:
    """Absent parts of the body are left out; a problem keeps its nulls (its fields
    are always there, as its schema says)."""
    content = {k: v for k, v in body.model_dump(mode="json").items() if v is not None}
    return JSONResponse(status_code=status, content=content, headers=headers)


def _excerpt(text: str | None) -> str | None:
    """A submitted text cut to a short excerpt: an error never echoes a whole body."""
    if text is None or len(text) <= MAX_SHOWN_CHARS:
        return text
    return f"{text[:MAX_SHOWN_CHARS]}... ({len(text):,} characters)"


def _counted(message: str, total: int) -> str:
    """The message, saying how many problems past :data:`MAX_PROBLEMS` were left out."""
    if total <= MAX_PROBLEMS:
        return message
    return f"{message}; the first {MAX_PROBLEMS} are listed, {total - MAX_PROBLEMS:,} left out"


def _problems(exc: SchemaError) -> list[ProblemOut]:
    return [
        ProblemOut(
            table=p.table,
            column=_excerpt(p.column),
            row=p.row,
            value=_excerpt(p.value),
            rule=p.rule,
        )
        for p in exc.problems[:MAX_PROBLEMS]
    ]


def _request_problems(errors: Iterable[Any]) -> list[ProblemOut]:
    """Schema errors of a request, located but without echoing the input."""
    out = []
    for err in errors:
        loc = [str(x) for x in err.get("loc", ())]
        row = next((int(x) for x in loc if x.isdigit()), None)
        out.append(
            ProblemOut(
                table="request",
                column=_excerpt(".".join(loc) or None),
                row=row,
                value=None,
                rule=_excerpt(str(err.get("msg", "invalid"))) or "invalid",
            )
        )
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TriageError)
    async def _triage(request: Request, exc: TriageError) -> Response:
        if isinstance(exc, SchemaError):
            return _json(
                422,
                ErrorBody(
                    error="contract_violation",
                    message=_counted(str(exc), len(exc.problems)),
                    problems=_problems(exc),
                ),
            )
        if isinstance(exc, ConflictError):  # never which ids or fields: no oracle
            return _json(409, ErrorBody(error="conflict", message=MESSAGE_CONFLICT))
        if isinstance(exc, BundleIntegrityError):  # a refused reload: the old model stays
            return _json(409, ErrorBody(error="model_refused", message=str(exc)))
        if isinstance(exc, NotFoundError | ModelNotFoundError):
            return _json(404, ErrorBody(error="not_found", message=str(exc)))
        if isinstance(exc, Forbidden):
            return _json(403, ErrorBody(error="forbidden", message=str(exc)))
        if isinstance(exc, AuthError):
            return _json(401, ErrorBody(error="unauthenticated", message=str(exc)))
        if isinstance(exc, ModelUnavailable):
            return _json(503, ErrorBody(error="model_unavailable", message=str(exc)))
        if isinstance(exc, StoreBusy):
            retry = {"Retry-After": str(exc.retry_after)}
            answers = _page_answers(request.scope)
            if answers is not None:
                page = answers.busy(request, exc.retry_after)
                page.headers.update(retry)
                return page
            return _json(503, ErrorBody(error="store_busy", message=str(exc)), retry)
        return _unexpected(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        return _json(
            422,
            ErrorBody(
                error="invalid_request",
                message=_counted("the request does not match its schema", len(errors)),
                problems=_request_problems(errors[:MAX_PROBLEMS]),
            ),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _json(exc.status_code, ErrorBody(error="http_error", message=str(exc.detail)))

    app.add_middleware(_ErrorIdMiddleware)


def install_error_page(
    app: FastAPI, claims: Callable[[Scope], bool], page: ErrorPage, busy: BusyPage
) -> None:
    """Answer an unexpected error on a request that ``claims`` picks with ``page``, and
    a busy store with ``busy`` (the review pages' HTML), rather than the API's JSON;
    the error id and its log line, the status and ``Retry-After`` are the same either
    way. Call after :func:`install_error_handlers`."""
    setattr(app.state, _STATE_ERROR_PAGE, _PageAnswers(claims, page, busy))


def _page_answers(scope: Scope) -> _PageAnswers | None:
    chosen = getattr(getattr(scope.get("app"), "state", None), _STATE_ERROR_PAGE, None)
    return chosen if isinstance(chosen, _PageAnswers) and chosen.claims(scope) else None


def _log_unexpected(scope: Scope, exc: Exception) -> str:
    """Log an unexpected error without its message or the request; its new id."""
    error_id = uuid.uuid4().hex[:12]
    frames = traceback.extract_tb(exc.__traceback__)[-4:]
    where = " <- ".join(
        f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in reversed(frames)
    )
    route = getattr(scope.get("route"), "path", None)  # the template, never the ids in a path
    logger.error(
        "error %s: %s in %s %s at %s",
        error_id,
        type(exc).__name__,
        scope.get("method", "?"),
        route or "an unrouted path",
        where,
    )
    return error_id


def _unexpected(request: Request, exc: Exception) -> Response:
    error_id = _log_unexpected(request.scope, exc)
    answers = _page_answers(request.scope)
    if answers is not None:
        try:
            return answers.unexpected(request, error_id)
        except Exception as failed:  # the JSON answer below still carries the id
            logger.error(
                "error %s: its error page failed too (%s)", error_id, type(failed).__name__
            )
    body = ErrorBody(
        error="internal_error", message="an unexpected error occurred", error_id=error_id
    )
    return _json(500, body)


class _ErrorIdMiddleware:
    """Catch what no handler did, before Starlette's outer middleware re-raises it
    for the server to log with its message and traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            response = _unexpected(Request(scope, receive), exc)
            if not started:  # otherwise the client sees a cut-off response
                await response(scope, receive, send)
