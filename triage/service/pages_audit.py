"""The auditor's pages: any model version's report and card (what
``GET /models/{version}/report`` answers), and the audit log with its chain check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from triage.exceptions import ModelNotFoundError, NotFoundError, PageProblem
from triage.service import audit_log
from triage.service.auth import ApiKey, Role
from triage.service.deps import LoadedDep, ModelsDep, StoreDep
from triage.service.pages_session import render, require_page
from triage.service.params import whole_number
from triage.service.schemas import MAX_INT

__all__ = ["PAGE_SIZE", "router"]

PAGE_SIZE = 100

AuditorPage = Annotated[ApiKey, Depends(require_page(Role.AUDITOR))]

router = APIRouter(prefix="/ui", include_in_schema=False)


def _version(raw: str) -> int | None:
    return whole_number(raw, 1, MAX_INT)  # as GET /models/{version}/report reads it


@router.get("/models")
def models_page(
    request: Request,
    key: AuditorPage,
    loaded: LoadedDep,
    version: str | None = None,
) -> Response:
    """The served model, and a way to open any version's report."""
    if version:
        number = _version(version)
        if number is None:
            raise PageProblem(422, "A model version is a whole number from 1.")
        return RedirectResponse(f"/ui/models/{number}", status_code=303)
    info, scorer = loaded.get()
    served = None if scorer is None else scorer.model_version
    return render(request, "models.html", {"info": info, "served": served})


@router.get("/models/{version}")
def model_report_page(
    request: Request, version: str, key: AuditorPage, models: ModelsDep
) -> Response:
    """A version's metrics, report files and model card."""
    number = _version(version)
    if number is None:
        raise PageProblem(404, "There is no such model version.")
    try:
        report = models.report(number)
    except (ModelNotFoundError, NotFoundError):
        raise PageProblem(404, f"There is no model version {number}.") from None
    return render(request, "model_report.html", {"report": report, "info": report.info})


def _after(raw: str | None, head: int) -> int:
    """Entries after this seq; by default the newest page."""
    if raw is None or raw == "":
        return max(0, head - PAGE_SIZE)
    number = whole_number(raw, 0, MAX_INT)  # as GET /audit-log reads it
    if number is None:
        raise PageProblem(422, "'after' must be a whole number (an entry's seq).")
    return min(number, head)


@router.get("/audit-log")
def audit_log_page(
    request: Request,
    key: AuditorPage,
    store: StoreDep,
    after: str | None = None,
    verify: str | None = None,
) -> Response:
    """Who saw which score when, a page at a time (newest page first); on request,
    the hash chain recomputed from the first entry."""
    with store.session() as session:
        head_seq, head_hash = audit_log.head(session)
        start = _after(after, head_seq)
        found = audit_log.entries(session, after=start, limit=PAGE_SIZE)
    check = store.verify_audit_log() if verify == "true" else None
    context = {
        "entries": found,
        "head_seq": head_seq,
        "head_hash": head_hash,
        "earlier": max(0, start - PAGE_SIZE) if start > 0 else None,
        "later": start + PAGE_SIZE if start + PAGE_SIZE < head_seq else None,
        "after": start,
        "check": check,
    }
    return render(request, "audit_log.html", context)
