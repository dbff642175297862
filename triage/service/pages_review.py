"""The reviewer's pages: the day's ranked queue, one incident with its score and
history, and the review form (through :mod:`triage.service.reading`, so each read and
decision is audited as the API audits it)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from triage.exceptions import NotFoundError, PageProblem
from triage.service import params, reading
from triage.service.auth import ApiKey, Role
from triage.service.deps import OptionalScorerDep, SettingsDep, StoreDep
from triage.service.pages_session import FormDep, render, require_page
from triage.service.routes.queue import MAX_CAPACITY
from triage.service.schemas import Decision, ReviewIn
from triage.service.scoring import Band, Scorer

__all__ = ["DECISION_LABELS", "MESSAGE_NO_MODEL", "router"]

logger = logging.getLogger(__name__)

MESSAGE_NO_MODEL = (
    "No model is loaded, so nothing can be scored. An administrator promotes a model "
    "and reloads the service; until then use the DASH grade and your own judgement."
)
MESSAGE_NOT_FOUND = "There is no such incident in the store."
DECISION_LABELS = {
    Decision.REFER_MARAC: "Refer to MARAC",
    Decision.SAFEGUARDING_ACTION: "Safeguarding action",
    Decision.MONITOR: "Monitor",
    Decision.NO_FURTHER_ACTION: "No further action",
}
_FORM_MESSAGES = {
    "decision": "Choose one of the decisions.",
    "override_band": "Choose low, medium or high as the override, or no override.",
    "note": "The note is longer than 4,000 characters.",
}
_MESSAGE_OVERRIDE_NOTE = "An override needs a note giving the reason."
_MAX_ID = 64

ReviewerPage = Annotated[ApiKey, Depends(require_page(Role.REVIEWER))]

router = APIRouter(prefix="/ui", include_in_schema=False)


def incident_path(incident_id: str) -> str:
    return "/ui/incidents/" + quote(incident_id, safe="")


def _scorer(scorer: Scorer | None) -> Scorer:
    if scorer is None:
        raise PageProblem(503, MESSAGE_NO_MODEL)
    return scorer


def _day(raw: str | None) -> dt.date:
    if not raw:
        return dt.datetime.now(dt.UTC).date()
    parsed = params.day(raw)
    if parsed is None:
        raise PageProblem(
            422,
            f"The date must be a day written YYYY-MM-DD, from {params.MIN_DAY} to "
            f"{params.MAX_DAY}.",
        )
    return parsed


def _capacity(raw: str | None, default: int) -> int:
    if not raw:
        return default
    number = params.whole_number(raw, 1, MAX_CAPACITY)  # as GET /queue reads it
    if number is None:
        raise PageProblem(422, f"The capacity must be a whole number from 1 to {MAX_CAPACITY}.")
    return number


@router.get("/queue")
def queue_page(
    request: Request,
    key: ReviewerPage,
    store: StoreDep,
    scorer: OptionalScorerDep,
    settings: SettingsDep,
    date: str | None = None,
    capacity: str | None = None,
) -> Response:
    """The day's incidents by descending probability, the DASH grade beside each."""
    day = _day(date)
    cap = _capacity(capacity, settings.capacity)
    view = reading.queue(store, day, cap, _scorer(scorer), key_id=key.key_id)
    reviewed = sum(i.review_status != reading.NOT_REVIEWED for i in view.items)
    context = {
        "view": view,
        "reviewed": reviewed,
        "labels": _labels(),
        "incident_path": incident_path,
        "previous_day": (day - dt.timedelta(days=1)).isoformat(),
        "next_day": (day + dt.timedelta(days=1)).isoformat(),
    }
    return render(request, "queue.html", context)


def _labels() -> dict[str, str]:
    labels = {d.value: text for d, text in DECISION_LABELS.items()}
    return {**labels, reading.NOT_REVIEWED: "Not reviewed"}


def _incident(
    request: Request,
    key: ApiKey,
    store: StoreDep,
    scorer: Scorer | None,
    incident_id: str,
    *,
    errors: list[str] | None = None,
    status: int = 200,
) -> Response:
    if len(incident_id) > _MAX_ID:
        raise PageProblem(404, MESSAGE_NOT_FOUND)
    try:
        view = reading.incident_view(store, incident_id, scorer, key_id=key.key_id)
    except NotFoundError:
        raise PageProblem(404, MESSAGE_NOT_FOUND) from None
    context: dict[str, Any] = {
        "view": view,
        "labels": _labels(),
        "decisions": DECISION_LABELS,
        "bands": [b.value for b in Band],
        "errors": errors or [],
        "action": incident_path(incident_id) + "/review",
        "queue_date": view.reported_at.date().isoformat(),
    }
    return render(request, "incident.html", context, status=status)


@router.get("/incidents/{incident_id}")
def incident_page(
    request: Request,
    incident_id: str,
    key: ReviewerPage,
    store: StoreDep,
    scorer: OptionalScorerDep,
) -> Response:
    """One incident: history, score and reasons beside the DASH grade, reviews so far
    (notes are kept for the record but never shown), and the review form."""
    return _incident(request, key, store, scorer, incident_id)


def _review(form: dict[str, str]) -> ReviewIn | list[str]:
    raw = {
        "decision": form.get("decision", ""),
        "override_band": form.get("override_band") or None,
        "note": form.get("note") or None,
    }
    try:
        return ReviewIn.model_validate(raw)
    except ValidationError as exc:
        messages = [
            _FORM_MESSAGES.get(str(err["loc"][0]) if err["loc"] else "", _MESSAGE_OVERRIDE_NOTE)
            for err in exc.errors()
        ]
        return list(dict.fromkeys(messages))


@router.post("/incidents/{incident_id}/review")
def review_form(
    request: Request,
    incident_id: str,
    key: ReviewerPage,
    form: FormDep,
    store: StoreDep,
    scorer: OptionalScorerDep,
) -> Response:
    """Record a decision and go back to the incident; a form that breaks the rules
    comes back with what to fix (the note is never echoed)."""
    review = _review(form)
    if isinstance(review, list):
        return _incident(request, key, store, scorer, incident_id, errors=review, status=422)
    try:
        reading.record_review(
            store,
            incident_id,
            decision=review.decision.value,
            override_band=None if review.override_band is None else review.override_band.value,
            note=review.note,
            model_version=None if scorer is None else scorer.model_version,
            key_id=key.key_id,
        )
    except NotFoundError:
        raise PageProblem(404, MESSAGE_NOT_FOUND) from None
    request.session["flash"] = f"Review recorded: {DECISION_LABELS[review.decision]}."
    return RedirectResponse(incident_path(incident_id), status_code=303)
