"""The reviewer's pages: the day's ranked queue, one incident with its score and
history, and the review form (through :mod:`triage.service.reading`, so each read and
decision is audited as the API audits it)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from triage.exceptions import NotFoundError, PageProblem
from triage.service import page_queries, params, reading
from triage.service.auth import ApiKey, Role
from triage.service.champions import Champions
from triage.service.deps import ChampionsDep, SettingsDep, StoreDep
from triage.service.pages_order import (
    ALLOWED,
    SORT_ORDERS,
    SORTS,
    Choice,
    Row,
    choice_from,
    neighbours,
    rows_of,
    select_rows,
)
from triage.service.pages_session import FormDep, render, require_page
from triage.service.queues import QueueDef
from triage.service.routes.queue import MAX_CAPACITY
from triage.service.schemas import Decision, ReviewIn
from triage.service.scoring import Band, Bands, Scorer
from triage.settings import Settings

__all__ = ["DECISION_LABELS", "MESSAGE_NO_MODEL", "router"]

logger = logging.getLogger(__name__)

MESSAGE_NO_MODEL = (
    "The queue {queue!r} has no model loaded, so nothing in it can be scored. An "
    "administrator promotes a model and reloads the service; until then use the DASH "
    "grade and your own judgement."
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
_RELATIONS = {"pair": "This pair", "victim": "The victim", "perpetrator": "The suspect"}

ReviewerPage = Annotated[ApiKey, Depends(require_page(Role.REVIEWER))]

router = APIRouter(prefix="/ui", include_in_schema=False)


def incident_path(incident_id: str) -> str:
    return "/ui/incidents/" + quote(incident_id, safe="")


def _day(raw: str) -> dt.date:
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


def _bands(scorer: Scorer | None) -> Bands:
    """The served model's band thresholds, for the legend (a bundle is served with the
    default thresholds unless its scorer carries its own)."""
    found = getattr(scorer, "bands", None)
    return found if isinstance(found, Bands) else Bands()


@dataclass(frozen=True)
class _Worked:
    """The queue a reviewer is working: which team's, its filters and order, and the
    parameters its links keep (the day once known, the capacity and queue if given)."""

    queue: QueueDef
    scorer: Scorer | None
    choice: Choice
    keep: dict[str, str]
    capacity: int


def _worked(request: Request, champions: Champions, settings: Settings) -> _Worked:
    """The queue parameters of a page, each checked as ``GET /queue`` checks it."""
    asked = request.query_params
    choice = choice_from(asked)
    name, date, capacity = asked.get("queue"), asked.get("date"), asked.get("capacity")
    queue = champions.spec.default
    keep = {}
    if name:
        if name not in champions.spec.names:
            names = ", ".join(champions.spec.names)
            raise PageProblem(422, f"There is no such queue: the queues are {names}.")
        queue, keep["queue"] = champions.spec.get(name), name
    if date:
        keep["date"] = _day(date).isoformat()
    if capacity:
        keep["capacity"] = str(_capacity(capacity, settings.capacity))
    cap = _capacity(capacity, queue.capacity_or(settings.capacity))
    return _Worked(queue, champions.serving(queue)[1], choice, keep, cap)


def _opening_day(store: StoreDep, date: str | None) -> tuple[dt.date, str | None]:
    """The day asked for or, with none, the latest day with incidents, and a note
    saying which day that is and why."""
    if date:
        return _day(date), None
    today = dt.datetime.now(dt.UTC).date()
    latest = page_queries.latest_day(store, today)
    if latest is None:
        return today, "No incidents are stored yet: showing today."
    if latest == today:
        return today, "No day was chosen: showing today, the latest day with incidents."
    return latest, (
        f"No day was chosen: showing {latest.isoformat()}, the latest day with incidents "
        f"(none were reported on {today.isoformat()}, today in UTC)."
    )


def _rows(
    store: StoreDep, key: ApiKey, worked: _Worked, day: dt.date, *, alerts: bool = True
) -> tuple[reading.QueueView, list[Row]]:
    """The day's queue (audited as ``GET /queue``) and its rows in rank order; without
    ``alerts`` no alert is computed (rows then carry none)."""
    if worked.scorer is None:
        raise PageProblem(503, MESSAGE_NO_MODEL.format(queue=worked.queue.title))
    view = reading.queue(
        store,
        day,
        worked.capacity,
        worked.scorer,
        key_id=key.key_id,
        grades=worked.queue.grades,
        queue_name=worked.queue.name,
        alerts=alerts,
    )
    return view, rows_of(view.items)


@router.get("/queue")
def queue_page(
    request: Request,
    key: ReviewerPage,
    store: StoreDep,
    champions: ChampionsDep,
    settings: SettingsDep,
) -> Response:
    """The day's incidents by descending probability (or the reviewer's filters and
    order), the DASH grade beside each; with no date, the latest day with incidents."""
    worked = _worked(request, champions, settings)
    day, day_note = _opening_day(store, worked.keep.get("date"))
    view, rows = _rows(store, key, worked, day)
    choice, shown = worked.choice, select_rows(rows, worked.choice)
    keep = {**worked.keep, "date": day.isoformat()}
    beyond = [r.incident_id for r in shown if not r.item.within_capacity]
    context = {
        "view": view,
        "queue": worked.queue,
        "queues": [(q, champions.serving(q)[1] is not None) for q in champions.spec.queues],
        "rows": shown,
        "total": len(rows),
        "reviewed": sum(r.item.review_status != reading.NOT_REVIEWED for r in rows),
        "labels": _labels(),
        "choice": choice,
        "allowed": ALLOWED,
        "day_note": day_note,
        "bands": _bands(worked.scorer),
        "sort_links": {k: "/ui/queue" + choice.sorted_by(k).query(**keep) for k in SORTS},
        "sort_orders": SORT_ORDERS,
        "clear_link": "/ui/queue" + Choice().query(**keep),
        "capacity_before": beyond[0] if beyond and choice.sort == "rank" else None,
        "link": {r.incident_id: incident_path(r.incident_id) + choice.query(**keep) for r in shown},
        "previous_day": "/ui/queue" + choice.query(**{**keep, "date": _shift(day, -1)}),
        "next_day": "/ui/queue" + choice.query(**{**keep, "date": _shift(day, 1)}),
    }
    return render(request, "queue.html", context)


def _shift(day: dt.date, days: int) -> str:
    return (day + dt.timedelta(days=days)).isoformat()


def _labels() -> dict[str, str]:
    labels = {d.value: text for d, text in DECISION_LABELS.items()}
    return {**labels, reading.NOT_REVIEWED: "Not reviewed"}


def _neighbours(store: StoreDep, key: ApiKey, worked: _Worked, incident_id: str) -> dict[str, Any]:
    """Where the incident sits in the queue it was opened from and its neighbours'
    links: the queue is read as the queue page reads it (and audited alike, since its
    order comes from the scores); nothing when not opened from a queue or unscored."""
    if worked.scorer is None or "date" not in worked.keep:
        return {}
    day = dt.date.fromisoformat(worked.keep["date"])
    choice = worked.choice  # alerts are computed only when they decide the order
    needed = bool(choice.alert) or choice.sort_key == "alerts"
    rows = select_rows(_rows(store, key, worked, day, alerts=needed)[1], choice)
    position, before, after = neighbours(rows, incident_id)
    query = worked.choice.query(**worked.keep)
    return {
        "position": position,
        "queue_size": len(rows),
        "previous_link": before and incident_path(before) + query,
        "next_link": after and incident_path(after) + query,
    }


def _incident(
    request: Request,
    key: ApiKey,
    store: StoreDep,
    worked: _Worked,
    incident_id: str,
    *,
    errors: list[str] | None = None,
    status: int = 200,
) -> Response:
    if len(incident_id) > _MAX_ID:
        raise PageProblem(404, MESSAGE_NOT_FOUND)
    try:
        view = reading.incident_view(store, incident_id, worked.scorer, key_id=key.key_id)
    except NotFoundError:
        raise PageProblem(404, MESSAGE_NOT_FOUND) from None
    choice, keep = worked.choice, worked.keep
    queue_date = keep.get("date") or view.reported_at.date().isoformat()
    context: dict[str, Any] = {
        "view": view,
        "labels": _labels(),
        "decisions": DECISION_LABELS,
        "bands": [b.value for b in Band],
        "errors": errors or [],
        "action": incident_path(incident_id) + "/review" + choice.query(**keep),
        "queue_date": queue_date,
        "queue_title": worked.queue.title,
        "incident_link": incident_path,
        "relations": _RELATIONS,
        "queue_link": "/ui/queue" + choice.query(**{**keep, "date": queue_date}),
        "filtered": choice.filtered,
        "position": 0,
        **_neighbours(store, key, worked, incident_id),
    }
    return render(request, "incident.html", context, status=status)


@router.get("/incidents/{incident_id}")
def incident_page(
    request: Request,
    incident_id: str,
    key: ReviewerPage,
    store: StoreDep,
    champions: ChampionsDep,
    settings: SettingsDep,
) -> Response:
    """One incident: history, score and reasons beside the DASH grade, reviews so far
    (notes are kept for the record but never shown), and the review form; opened from a
    queue, scored by that queue's model, with links to the previous and next incident
    in that queue's order."""
    worked = _worked(request, champions, settings)
    return _incident(request, key, store, worked, incident_id)


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
    champions: ChampionsDep,
    settings: SettingsDep,
) -> Response:
    """Record a decision and go back to the incident (still in the queue it came
    from); a form that breaks the rules comes back with what to fix (the note is never
    echoed)."""
    worked = _worked(request, champions, settings)
    scorer = worked.scorer
    review = _review(form)
    if isinstance(review, list):
        return _incident(request, key, store, worked, incident_id, errors=review, status=422)
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
    back = incident_path(incident_id) + worked.choice.query(**worked.keep)
    return RedirectResponse(back, status_code=303)
