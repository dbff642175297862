"""``GET /queue``: a team's ranked queue for a day, and ``GET /queues``: the teams'
queues (``reviewer``), exactly as docs/architecture.md §10."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BeforeValidator

from triage.service import reading
from triage.service.deps import ChampionsDep, ReviewerDep, SettingsDep, StoreDep
from triage.service.errors import responses
from triage.service.gc_pause import paused_gc
from triage.service.queues import QUEUE_NAME
from triage.service.schemas import QueueInfoOut, QueueOut

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _written_as_day(raw: object) -> object:
    """Refuse a ``date`` not written YYYY-MM-DD before the date parser sees it: a lax
    parser reads a number such as ``0.0`` as a timestamp (1970-01-01)."""
    if isinstance(raw, str) and not _DAY.fullmatch(raw):
        raise ValueError("a day written YYYY-MM-DD")
    return raw


router = APIRouter(tags=["queue"])

MAX_CAPACITY = 100_000


@router.get("/queues", response_model=list[QueueInfoOut], responses=responses(401, 403))
def get_queues(
    key: ReviewerDep, champions: ChampionsDep, settings: SettingsDep
) -> list[QueueInfoOut]:
    """The teams' queues, the default first: each with the version of the model that
    ranks it (null: it has no champion, so the queue is not served) and its capacity."""
    served = champions.served()
    return [
        QueueInfoOut(
            name=q.name,
            title=q.title,
            model_version=served[q.name],
            capacity=q.capacity_or(settings.capacity),
        )
        for q in champions.spec.queues
    ]


@router.get("/queue", response_model=QueueOut, responses=responses(401, 403, 404, 422, 503))
def get_queue(
    key: ReviewerDep,
    store: StoreDep,
    champions: ChampionsDep,
    settings: SettingsDep,
    date: Annotated[
        dt.date | None,
        BeforeValidator(_written_as_day),
        Query(description="Day reported (UTC), YYYY-MM-DD; default today."),
    ] = None,
    capacity: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_CAPACITY,
            description="Daily review capacity; default the queue's, else TRIAGE_CAPACITY.",
        ),
    ] = None,
    queue: Annotated[
        str | None,
        Query(pattern=QUEUE_NAME, description="The queue (GET /queues); default mash."),
    ] = None,
    alerts: Annotated[
        bool, Query(description="Compute each item's course-of-conduct alerts (default true).")
    ] = True,
) -> Response:
    """Every incident reported that day, by descending probability, with the DASH
    grade beside each score and ``within_capacity`` for the first *capacity*. The
    ids shown are written to the audit log."""
    day = date or dt.datetime.now(dt.UTC).date()
    chosen = champions.spec.default if queue is None else champions.spec.get(queue)
    scorer = champions.scorer(chosen)
    with paused_gc():  # a day's thousands of items are built and freed inside
        body = _body(
            reading.queue(
                store,
                day,
                capacity or chosen.capacity_or(settings.capacity),
                scorer,
                key_id=key.key_id,
                grades=chosen.grades,
                queue_name=chosen.name,
                alerts=alerts,
            ),
            chosen.name,
        )
    return Response(body, media_type="application/json")


def _body(view: reading.QueueView, queue: str) -> str:
    """The response, validated once and written once: a day of thousands of items
    would otherwise be copied by asdict, validated, dumped and validated again by the
    response model."""
    return QueueOut.model_validate({**_plain(view), "queue": queue}).model_dump_json()


def _plain(view: reading.QueueView) -> dict[str, Any]:
    """The view as plain dicts (what ``dataclasses.asdict`` gives, without its deep copy)."""
    items = [
        {
            "rank": i.rank,
            "incident_id": i.incident_id,
            "probability": i.probability,
            "band": i.band,
            "dash_grade": i.dash_grade,
            "reasons": [
                {"feature": r.feature, "text": r.text, "contribution": r.contribution}
                for r in i.reasons
            ],
            "review_status": i.review_status,
            "within_capacity": i.within_capacity,
            "incident_type": i.incident_type,
            "reported_at": i.reported_at,
            "children_present": i.children_present,
            "alerts": [
                {
                    "rule": a.rule,
                    "title": a.title,
                    "summary": a.summary,
                    "action": a.action,
                    "evidence": list(a.evidence),
                }
                for a in i.alerts
            ],
        }
        for i in view.items
    ]
    return {
        "date": view.date,
        "model_version": view.model_version,
        "capacity": view.capacity,
        "items": items,
    }
