"""Scoring stored incidents: load just the history their people have (every record
naming any of them as victim or perpetrator, their people and orders), score with
the same feature builders as training, and keep one score per model version."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import exists, insert, or_, select
from sqlalchemy.orm import Session

from triage.contract import Extract
from triage.service._frames import extract_from_records
from triage.service.scoring import Score, Scorer
from triage.service.tables import IncidentRow, OrderRow, PersonRow, ScoreRow

__all__ = ["history_for", "score_missing"]

logger = logging.getLogger(__name__)

_CHUNK = 500  # ids per IN (...) list, well under every backend's parameter limit
T = TypeVar("T")

_INCIDENTS = IncidentRow.__table__
_PEOPLE = PersonRow.__table__
_ORDERS = OrderRow.__table__


def _chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _rows(session: Session, table: Any, column: Any, ids: Iterable[str]) -> list[dict[str, Any]]:
    wanted = sorted(set(ids))
    found: list[dict[str, Any]] = []
    for chunk in _chunks(wanted):
        found += [
            dict(r) for r in session.execute(select(table).where(column.in_(chunk))).mappings()
        ]
    return found


def history_for(session: Session, incident_ids: Sequence[str]) -> Extract:
    """An extract holding ``incident_ids`` and every stored record of their people."""
    queried = _rows(session, _INCIDENTS, _INCIDENTS.c.incident_id, incident_ids)
    persons = sorted(
        ({r["victim_id"] for r in queried} | {r["perpetrator_id"] for r in queried}) - {None}
    )
    incidents: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(persons):
        clause = or_(_INCIDENTS.c.victim_id.in_(chunk), _INCIDENTS.c.perpetrator_id.in_(chunk))
        for row in session.execute(select(_INCIDENTS).where(clause)).mappings():
            incidents[row["incident_id"]] = dict(row)
    named = {r["victim_id"] for r in incidents.values()}
    named |= {r["perpetrator_id"] for r in incidents.values() if r["perpetrator_id"]}
    people = _rows(session, _PEOPLE, _PEOPLE.c.person_id, named)
    any_orders = session.scalar(select(exists().select_from(_ORDERS)))
    orders = _rows(session, _ORDERS, _ORDERS.c.person_id, named) if any_orders else None
    return extract_from_records(list(incidents.values()), people, orders)


def score_missing(session: Session, incident_ids: Sequence[str], scorer: Scorer) -> int:
    """Score those of ``incident_ids`` the scorer's version has not scored yet."""
    version = scorer.model_version
    done: set[str] = set()
    for chunk in _chunks(sorted(set(incident_ids))):
        done |= set(
            session.scalars(
                select(ScoreRow.incident_id).where(
                    ScoreRow.model_version == version, ScoreRow.incident_id.in_(chunk)
                )
            )
        )
    todo = sorted(set(incident_ids) - done)
    if not todo:
        return 0
    history = history_for(session, todo)
    frame = history.incidents
    queries = frame[frame["incident_id"].isin(todo)].reset_index(drop=True)
    scores = scorer.score(queries, history)
    if sorted(s.incident_id for s in scores) != todo:
        raise RuntimeError("the scorer did not return exactly one score per incident")
    now = datetime.now(UTC)
    session.execute(insert(ScoreRow), [_score_row(s, version, now) for s in scores])
    logger.info("scored %d incident(s) with %s", len(scores), version)
    return len(scores)


def _score_row(score: Score, version: str, at: datetime) -> dict[str, Any]:
    return {
        "incident_id": score.incident_id,
        "model_version": version,
        "probability": float(score.probability),
        "band": str(score.band),
        "reasons_json": json.dumps([asdict(r) for r in score.reasons]),
        "scored_at": at,
    }
