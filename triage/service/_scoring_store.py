"""Scoring stored incidents: load just the history their people have (every record
naming any of them as victim or perpetrator, their people and orders), score with
the same feature builders as training, and keep one score per model version.

A batch can be scored before its write transaction (:func:`prepare_scores`), on the
history the store will hold once the batch is in: the stored rows plus the batch's
new ones. Inside the transaction the same history is read again and compared
(:class:`HistoryKey`: the ids of every incident, person and order it holds, and
whether the store holds orders at all); only if a concurrent writer changed it are
the features built again, under the lock. Stored rows never change or go, so equal
ids mean equal rows and the prepared scores are the ones the transaction would
compute itself.

People's corrections are versions (``person_versions``): each incident is scored
with its people's attributes as the store knew them at its ``reported_at`` (the
latest version stored by then, else the first), so a correction never changes an
earlier incident's features, and incidents of people never corrected are scored
exactly as before."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exists, insert, or_, select
from sqlalchemy.orm import Session

from triage.contract.names import Extract
from triage.service._frames import Record, extract_from_records
from triage.service.scoring import Score, Scorer
from triage.service.tables import (
    IncidentRow,
    OrderRow,
    PersonRow,
    PersonVersionRow,
    ScoreRow,
    in_chunks,
)

__all__ = ["HistoryKey", "PreparedScores", "history_for", "prepare_scores", "score_missing"]

logger = logging.getLogger(__name__)


_INCIDENTS = IncidentRow.__table__
_PEOPLE = PersonRow.__table__
_ORDERS = OrderRow.__table__


#: batch rows not stored yet, by table, read as if they were
Pending = Mapping[str, Sequence[Record]]
_ORDER_KEY = ("person_id", "order_type", "start_at")


@dataclass(frozen=True)
class HistoryKey:
    """What a history holds, by id: equal keys, equal histories (rows never change)."""

    incidents: frozenset[str]
    people: frozenset[str]
    orders: frozenset[tuple[Any, ...]] | None
    versions: frozenset[tuple[str, int]] = frozenset()


@dataclass(frozen=True)
class PreparedScores:
    """Scores computed before the write transaction, and the history they saw."""

    ids: tuple[str, ...]
    key: HistoryKey
    scores: dict[str, Score] = field(default_factory=dict)


def _rows(session: Session, table: Any, column: Any, ids: Iterable[str]) -> list[dict[str, Any]]:
    wanted = sorted(set(ids))
    found: list[dict[str, Any]] = []
    for chunk in in_chunks(wanted):
        found += [
            dict(r) for r in session.execute(select(table).where(column.in_(chunk))).mappings()
        ]
    return found


def _history_rows(
    session: Session, incident_ids: Sequence[str], pending: Pending
) -> tuple[list[Record], list[Record], list[Record] | None]:
    """Rows of ``incident_ids`` and every record of their people, the ``pending``
    rows counted as stored."""
    new_incidents = pending.get("incidents", ())
    wanted = set(incident_ids)
    queried = _rows(session, _INCIDENTS, _INCIDENTS.c.incident_id, wanted)
    queried += [r for r in new_incidents if r["incident_id"] in wanted]
    persons = sorted(
        ({r["victim_id"] for r in queried} | {r["perpetrator_id"] for r in queried}) - {None}
    )
    incidents: dict[str, Record] = {}
    for chunk in in_chunks(persons):
        clause = or_(_INCIDENTS.c.victim_id.in_(chunk), _INCIDENTS.c.perpetrator_id.in_(chunk))
        for row in session.execute(select(_INCIDENTS).where(clause)).mappings():
            incidents[row["incident_id"]] = dict(row)
    chosen = set(persons)
    for r in new_incidents:
        if r["victim_id"] in chosen or r["perpetrator_id"] in chosen:
            incidents.setdefault(r["incident_id"], _stored(r, _INCIDENTS))
    named = {r["victim_id"] for r in incidents.values()}
    named |= {r["perpetrator_id"] for r in incidents.values() if r["perpetrator_id"]}
    people = {r["person_id"]: r for r in _rows(session, _PEOPLE, _PEOPLE.c.person_id, named)}
    for r in pending.get("people", ()):
        if r["person_id"] in named:
            people.setdefault(r["person_id"], _stored(r, _PEOPLE))
    new_orders = pending.get("orders", ())
    if not new_orders and not session.scalar(select(exists().select_from(_ORDERS))):
        return list(incidents.values()), list(people.values()), None
    orders = {_order_key(r): r for r in _rows(session, _ORDERS, _ORDERS.c.person_id, named)}
    for r in new_orders:
        if r["person_id"] in named:
            orders.setdefault(_order_key(r), _stored(r, _ORDERS))
    return list(incidents.values()), list(people.values()), list(orders.values())


def _stored(record: Record, table: Any) -> Record:
    """A pending record as the store hands it back (its table's columns only)."""
    return {c.name: record.get(c.name) for c in table.columns}


def _order_key(row: Record) -> tuple[Any, ...]:
    start = row["start_at"]
    return (row["person_id"], row["order_type"], start.astimezone(UTC).replace(tzinfo=None))


def _key(
    incidents: Sequence[Record], people: Sequence[Record], orders: Sequence[Record] | None
) -> HistoryKey:
    return HistoryKey(
        frozenset(r["incident_id"] for r in incidents),
        frozenset(r["person_id"] for r in people),
        None if orders is None else frozenset(_order_key(r) for r in orders),
    )


#: each corrected person's versions, oldest first: (valid_from, record in people's columns)
Versions = dict[str, list[tuple[datetime, Record]]]


def _versions(session: Session, people: Sequence[Record]) -> Versions:
    found: Versions = {}
    v = PersonVersionRow
    for chunk in in_chunks(sorted({r["person_id"] for r in people})):
        query = select(v).where(v.person_id.in_(chunk)).order_by(v.person_id, v.version)
        for row in session.scalars(query):
            record = {c: getattr(row, c) for c in ("person_id", "sex", "birth_year", "ethnicity")}
            found.setdefault(row.person_id, []).append((row.valid_from, record))
    return found


def _version_key(versions: Versions) -> frozenset[tuple[str, int]]:
    return frozenset((p, len(vs)) for p, vs in versions.items())


def _known_at(versions: Versions, person: str | None, at: datetime) -> int:
    """How many of ``person``'s corrections the store held at ``at`` (0: the first)."""
    if person is None or person not in versions:
        return 0
    return sum(1 for valid_from, _ in versions[person] if valid_from <= at)


def _people_as_of(
    people: Sequence[Record], versions: Versions, chosen: Mapping[str, int]
) -> list[Record]:
    """``people`` with each person in ``chosen`` at that version (0: as first stored)."""
    out = []
    for r in people:
        n = chosen.get(r["person_id"], 0)
        out.append(r if n == 0 else {**r, **versions[r["person_id"]][n - 1][1]})
    return out


def history_for(session: Session, incident_ids: Sequence[str]) -> Extract:
    """An extract holding ``incident_ids`` and every stored record of their people."""
    return extract_from_records(*_history_rows(session, incident_ids, {}))


def _unscored(session: Session, incident_ids: Iterable[str], version: str) -> list[str]:
    wanted = sorted(set(incident_ids))
    done: set[str] = set()
    for chunk in in_chunks(wanted):
        done |= set(
            session.scalars(
                select(ScoreRow.incident_id).where(
                    ScoreRow.model_version == version, ScoreRow.incident_id.in_(chunk)
                )
            )
        )
    return [i for i in wanted if i not in done]


def _score_rows(
    scorer: Scorer,
    todo: Sequence[str],
    rows: tuple[list[Record], list[Record], list[Record] | None],
    versions: Versions,
) -> dict[str, Score]:
    """Scores of ``todo``, each with its people as known at its ``reported_at``: the
    incidents are grouped by the versions they need, one pass per group."""
    incidents, people, orders = rows
    groups: dict[tuple[tuple[str, int], ...], list[str]] = {}
    wanted = set(todo)
    for r in incidents:
        if r["incident_id"] in wanted:
            at = r["reported_at"]
            at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
            key = tuple(
                (p, n)
                for p in (r["victim_id"], r["perpetrator_id"])
                if p is not None and (n := _known_at(versions, p, at))
            )
            groups.setdefault(key, []).append(r["incident_id"])
    scores: dict[str, Score] = {}
    for key, ids in groups.items():
        as_of = _people_as_of(people, versions, dict(key)) if key else people
        scores.update(_score(scorer, ids, extract_from_records(incidents, as_of, orders)))
    return scores


def _score(scorer: Scorer, todo: Sequence[str], history: Extract) -> dict[str, Score]:
    frame = history.incidents
    queries = frame[frame["incident_id"].isin(todo)].reset_index(drop=True)
    scores = scorer.score(queries, history)
    if sorted(s.incident_id for s in scores) != sorted(todo):
        raise RuntimeError("the scorer did not return exactly one score per incident")
    return {s.incident_id: s for s in scores}


def prepare_scores(
    session: Session, incident_ids: Sequence[str], scorer: Scorer, pending: Pending
) -> PreparedScores:
    """Scores of those of ``incident_ids`` not yet scored by the scorer's version, on
    the history the store will hold with ``pending`` in it (read in ``session``,
    which need not hold the write lock)."""
    todo = _unscored(session, incident_ids, scorer.model_version)
    if not todo:
        return PreparedScores((), HistoryKey(frozenset(), frozenset(), None))
    rows = _history_rows(session, todo, pending)
    versions = _versions(session, rows[1])
    scores = _score_rows(scorer, todo, rows, versions)
    key = replace(_key(*rows), versions=_version_key(versions))
    return PreparedScores(tuple(todo), key, scores)


def score_missing(
    session: Session,
    incident_ids: Sequence[str],
    scorer: Scorer,
    *,
    prepared: PreparedScores | None = None,
) -> int:
    """Score those of ``incident_ids`` the scorer's version has not scored yet,
    taking the ``prepared`` scores when their history is still the store's."""
    version = scorer.model_version
    todo = _unscored(session, incident_ids, version)
    if not todo:
        return 0
    scores: dict[str, Score] = {}
    if prepared is not None and set(todo) <= set(prepared.ids):
        rows = _history_rows(session, prepared.ids, {})
        versions = _versions(session, rows[1])
        if replace(_key(*rows), versions=_version_key(versions)) == prepared.key:
            scores = {i: prepared.scores[i] for i in todo}
        else:
            logger.info("history changed while scoring; scoring again under the lock")
    if not scores:
        rows = _history_rows(session, todo, {})
        scores = _score_rows(scorer, todo, rows, _versions(session, rows[1]))
    now = datetime.now(UTC)
    session.execute(insert(ScoreRow), [_score_row(scores[i], version, now) for i in todo])
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
