"""``GET /queue``: the day's ranked queue (``reviewer``), exactly as DESIGN §10."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query

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
) -> QueueOut:
    """Every incident reported that day, by descending probability, with the DASH
    grade beside each score and ``within_capacity`` for the first *capacity*. The
    ids shown are written to the audit log."""
    day = date or dt.datetime.now(dt.UTC).date()
    view = reading.queue(store, day, capacity or settings.capacity, scorer, key_id=key.key_id)
    return QueueOut.model_validate(asdict(view))
