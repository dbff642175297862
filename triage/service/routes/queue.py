"""``GET /queue``: the day's ranked queue (``reviewer``), exactly as docs/architecture.md §10."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from triage.service import reading
from triage.service.deps import ReviewerDep, ScorerDep, SettingsDep, StoreDep
from triage.service.errors import responses
from triage.service.schemas import QueueOut

router = APIRouter(tags=["queue"])

MAX_CAPACITY = 100_000


@router.get("/queue", response_model=QueueOut, responses=responses(401, 403, 422, 503))
def get_queue(
    key: ReviewerDep,
    store: StoreDep,
    scorer: ScorerDep,
    settings: SettingsDep,
    date: Annotated[
        dt.date | None, Query(description="Day reported (UTC), YYYY-MM-DD; default today.")
    ] = None,
    capacity: Annotated[
        int | None,
        Query(ge=1, le=MAX_CAPACITY, description="Daily review capacity; default TRIAGE_CAPACITY."),
    ] = None,
) -> Response:
    """Every incident reported that day, by descending probability, with the DASH
    grade beside each score and ``within_capacity`` for the first *capacity*. The
    ids shown are written to the audit log."""
    day = date or dt.datetime.now(dt.UTC).date()
    view = reading.queue(store, day, capacity or settings.capacity, scorer, key_id=key.key_id)
    # validated once and written once: a day of thousands of items would otherwise be
    # copied by asdict, validated, dumped and validated again by the response model
    body = QueueOut.model_validate(_plain(view)).model_dump_json()
    return Response(body, media_type="application/json")


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
        }
        for i in view.items
    ]
    return {
        "date": view.date,
        "model_version": view.model_version,
        "capacity": view.capacity,
        "items": items,
    }
