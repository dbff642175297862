"""Incidents: ingest a batch (``ingest``), read one and record a review (``reviewer``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Path

from triage.exceptions import StoreBusy
from triage.service import ingest as ingesting
from triage.service import reading
from triage.service.deps import IngestDep, OptionalScorerDep, ReviewerDep, StoreDep
from triage.service.errors import responses
from triage.service.schemas import (
    STORABLE_TEXT,
    IncidentBatch,
    IncidentOut,
    IngestOut,
    ReviewIn,
    ReviewOut,
    Scalar,
)
from triage.service.store import MESSAGE_BUSY, Store

router = APIRouter(tags=["incidents"])

IncidentId = Annotated[
    str,
    Path(min_length=1, max_length=64, pattern=STORABLE_TEXT, description="The incident's id."),
]


#: Ingesting is CPU-bound Python (validation, features, the model), so requests that
#: share the GIL only slow each other down: one at a time per process serves more of
#: them a second (measured: 72 ms of CPU a request one at a time, 100 ms when 16 run
#: together). A request that waits past the store's busy timeout is refused as busy.
_INGESTING = threading.Lock()


@contextmanager
def _ingest_turn(store: Store) -> Iterator[None]:
    if not _INGESTING.acquire(timeout=store.busy_timeout):
        raise StoreBusy(MESSAGE_BUSY)
    try:
        yield
    finally:
        _INGESTING.release()


def _frame(rows: Sequence[Mapping[str, Scalar]]) -> pd.DataFrame:
    return pd.DataFrame.from_records(rows) if rows else pd.DataFrame()


@router.post(
    "/incidents",
    response_model=IngestOut,
    status_code=200,
    responses=responses(400, 401, 403, 422, 503),
)
def post_incidents(
    batch: IncidentBatch, key: IngestDep, store: StoreDep, scorer: OptionalScorerDep
) -> IngestOut:
    """Store a batch whole or not at all, scoring each new incident.

    Checked by the same data contract as `triage validate`: one bad row and nothing
    is stored, with every problem listed (table, column, row, value, rule). Re-sending
    an incident changes nothing and lists it as unchanged, whether or not its content
    differs: a stored record is never changed by a batch, and a different one is kept
    as a correction request in the audit log for the hub to act on.
    """
    orders = None if batch.orders is None else _frame(batch.orders)
    with _ingest_turn(store):
        result = ingesting.ingest(
            store,
            _frame(batch.incidents),
            _frame(batch.people),
            orders,
            scorer=scorer,
            key_id=key.key_id,
            on_change="record",
        )
    return IngestOut(
        received=result.received,
        stored=list(result.stored),
        unchanged=list(result.unchanged),
        people_stored=result.people_stored,
        orders_stored=result.orders_stored,
        scored=result.scored,
        model_version=result.model_version,
    )


@router.get(
    "/incidents/{incident_id}",
    response_model=IncidentOut,
    responses=responses(401, 403, 404, 422, 503),
)
def get_incident(
    incident_id: IncidentId, key: ReviewerDep, store: StoreDep, scorer: OptionalScorerDep
) -> IncidentOut:
    """One incident: its attributes, a summary of its people's earlier records, its
    chronology (the newest 200 earlier records of its victim, perpetrator and pair,
    newest first), the orders known at it, its DASH answers by section, the ages of
    its people, its course-of-conduct alerts with their evidence, the served model's
    score with reasons, and the reviews so far. Everything is as of the incident's
    report time. Person ids and protected attributes are never shown."""
    view = reading.incident_view(store, incident_id, scorer, key_id=key.key_id)
    body = asdict(view)
    for reason in [] if body["score"] is None else body["score"]["reasons"]:
        reason.pop("value")  # the feature's raw value stays inside: the text says it
    return IncidentOut.model_validate(body)


@router.post(
    "/incidents/{incident_id}/review",
    response_model=ReviewOut,
    status_code=201,
    responses=responses(400, 401, 403, 404, 422, 503),
)
def post_review(
    incident_id: IncidentId,
    review: ReviewIn,
    key: ReviewerDep,
    store: StoreDep,
    scorer: OptionalScorerDep,
) -> ReviewOut:
    """Record a decision, optionally overriding the model's band (with a note). The
    note is stored for the record but never returned or logged."""
    view = reading.record_review(
        store,
        incident_id,
        decision=review.decision.value,
        override_band=None if review.override_band is None else review.override_band.value,
        note=review.note,
        model_version=None if scorer is None else scorer.model_version,
        key_id=key.key_id,
    )
    return ReviewOut.model_validate(asdict(view))
