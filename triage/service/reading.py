"""What reviewers read and record: the day's ranked queue, one incident with its
history and score, and review decisions. Each read that shows a score appends an
audit entry naming the incidents shown, inside the same transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from triage.contract.names import BOOL_FLAGS
from triage.evaluation.explain import Reason, for_unknown_suspect
from triage.exceptions import NotFoundError
from triage.service import audit_log
from triage.service._scoring_store import score_missing
from triage.service.audit_seal import review_detail
from triage.service.chronology import (
    AlertView,
    ChronologyEntry,
    DashGroup,
    OrderView,
    ages_at,
    alerts_for,
    chronology_of,
    dash_groups,
    orders_at,
)
from triage.service.day_alerts import day_alerts
from triage.service.scoring import Scorer
from triage.service.store import Store
from triage.service.tables import IncidentRow, ReviewRow, ScoreRow

__all__ = [
    "NOT_REVIEWED",
    "HistorySummary",
    "IncidentView",
    "QueueItem",
    "QueueView",
    "ReviewView",
    "ScoreView",
    "incident_view",
    "queue",
    "record_review",
]

NOT_REVIEWED = "not_reviewed"


@dataclass(frozen=True)
class ScoreView:
    model_version: str
    probability: float
    band: str
    reasons: tuple[Reason, ...]
    scored_at: datetime


@dataclass(frozen=True)
class QueueItem:
    rank: int
    incident_id: str
    probability: float
    band: str
    dash_grade: str
    reasons: tuple[Reason, ...]
    review_status: str
    within_capacity: bool
    incident_type: str
    reported_at: datetime
    children_present: bool
    alerts: tuple[AlertView, ...]


@dataclass(frozen=True)
class QueueView:
    date: date
    model_version: str
    capacity: int
    items: tuple[QueueItem, ...]


@dataclass(frozen=True)
class ReviewView:
    id: int
    incident_id: str
    decision: str
    override_band: str | None
    has_note: bool
    model_version: str | None
    key_id: str
    decided_at: datetime


@dataclass(frozen=True)
class HistorySummary:
    """Earlier records (reported strictly before this incident) of its people."""

    victim_prior_incidents: int
    perpetrator_prior_incidents: int
    pair_prior_incidents: int
    days_since_victim_last_incident: float | None


@dataclass(frozen=True)
class IncidentView:
    incident_id: str
    reported_at: datetime
    incident_type: str
    relationship: str
    dash_grade: str
    flags: dict[str, bool]
    perpetrator_known: bool
    history: HistorySummary
    score: ScoreView | None
    reviews: tuple[ReviewView, ...]
    children_present: bool
    victim_age: int | None
    perpetrator_age: int | None
    dash: tuple[DashGroup, ...]
    chronology: tuple[ChronologyEntry, ...]  # the newest earlier records, newest first
    chronology_total: int  # how many earlier records there are in all
    orders: tuple[OrderView, ...]
    alerts: tuple[AlertView, ...]


def _reasons(raw: str | list[Any], perpetrator_known: bool = True) -> tuple[Reason, ...]:
    """Stored reasons (their JSON, or already parsed); an unknown suspect's history
    never reads as a clean record."""
    parsed = json.loads(raw) if isinstance(raw, str) else raw
    found = (Reason(r["feature"], r["text"], r["contribution"], r.get("value")) for r in parsed)
    return tuple(r if perpetrator_known else for_unknown_suspect(r) for r in found)


def _parsed(raws: Sequence[str]) -> list[Any]:
    """Many stored reason lists parsed in one call: a day has thousands."""
    return list(json.loads("[" + ",".join(raws) + "]")) if raws else []


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    if day == date.max:  # the calendar's last day has no next day to stop before
        return start, datetime.max.replace(tzinfo=UTC)
    return start, start + timedelta(days=1)


def _latest_reviews(session: Session, on_day: Sequence[Any]) -> dict[str, str]:
    """The latest decision on each incident of the day that has one."""
    rows = session.execute(
        select(ReviewRow.incident_id, ReviewRow.decision)
        .join(IncidentRow, IncidentRow.incident_id == ReviewRow.incident_id)
        .where(*on_day)
        .order_by(ReviewRow.id)
    )
    return {i: d for i, d in rows}  # later decisions overwrite earlier


def _unscored_on_day(session: Session, on_day: Sequence[Any], version: str) -> list[str]:
    scored = and_(
        ScoreRow.incident_id == IncidentRow.incident_id, ScoreRow.model_version == version
    )
    query = select(IncidentRow.incident_id).outerjoin(ScoreRow, scored)
    return list(session.scalars(query.where(*on_day, ScoreRow.incident_id.is_(None))))


#: what a queue item shows of its incident beside the score, and what its alerts read
_ITEM_COLUMNS = (
    IncidentRow.incident_type,
    IncidentRow.reported_at,
    IncidentRow.children_present,
    IncidentRow.victim_id,
    IncidentRow.perpetrator_id,
    IncidentRow.relationship,
)


def queue(
    store: Store,
    day: date,
    capacity: int,
    scorer: Scorer,
    *,
    key_id: str,
    grades: Sequence[str] | None = None,
    queue_name: str | None = None,
    alerts: bool = True,
) -> QueueView:
    """Every incident reported on ``day`` (UTC) with one of ``grades`` (None: any), by
    descending probability; the first ``capacity`` are within the team's capacity.
    Unscored ones are scored first, only those the queue holds."""
    start, end = _day_bounds(day)
    version = scorer.model_version
    with store.session() as s:
        on_day: tuple[Any, ...] = IncidentRow.reported_at >= start, IncidentRow.reported_at < end
        if grades is not None:
            on_day += (IncidentRow.dash_grade.in_(list(grades)),)
        unscored = _unscored_on_day(s, on_day, version)
        if unscored:
            score_missing(s, unscored, scorer)
        rows = s.execute(
            select(
                IncidentRow.incident_id,
                IncidentRow.dash_grade,
                *_ITEM_COLUMNS,
                ScoreRow.probability,
                ScoreRow.band,
                ScoreRow.reasons_json,
            )
            .join(ScoreRow, ScoreRow.incident_id == IncidentRow.incident_id)
            .where(*on_day, ScoreRow.model_version == version)
            .order_by(ScoreRow.probability.desc(), IncidentRow.reported_at, IncidentRow.incident_id)
        ).all()
        status = _latest_reviews(s, on_day)
        # the day's, in one batch, reused until an ingest or correction changes the store
        chosen = None if grades is None else tuple(grades)
        found = day_alerts(s, rows, on_day, (day, chosen)) if alerts else {}
        reasons = _parsed([r.reasons_json for r in rows])
        items = tuple(
            QueueItem(
                rank=rank,
                incident_id=r.incident_id,
                probability=r.probability,
                band=r.band,
                dash_grade=r.dash_grade,
                reasons=_reasons(reasons[rank - 1], r.perpetrator_id is not None),
                review_status=status.get(r.incident_id, NOT_REVIEWED),
                within_capacity=rank <= capacity,
                incident_type=r.incident_type,
                reported_at=r.reported_at,
                children_present=bool(r.children_present),
                alerts=found.get(r.incident_id, ()),
            )
            for rank, r in enumerate(rows, start=1)
        )
        audit_log.append(
            s,
            key_id=key_id,
            action="queue.read",
            incident_ids=[i.incident_id for i in items],
            model_version=version,
            detail={"date": day.isoformat(), "capacity": capacity}
            | ({} if queue_name is None else {"queue": queue_name}),
        )
    return QueueView(day, version, capacity, items)


def _history(session: Session, row: IncidentRow) -> HistorySummary:
    before = IncidentRow.reported_at < row.reported_at

    def count(*where: Any) -> int:
        return int(session.scalar(select(func.count()).where(before, *where)) or 0)

    victim = IncidentRow.victim_id == row.victim_id
    perp = row.perpetrator_id
    last = session.scalar(select(func.max(IncidentRow.reported_at)).where(before, victim))
    days = None if last is None else (row.reported_at - last).total_seconds() / 86_400
    return HistorySummary(
        victim_prior_incidents=count(victim),
        perpetrator_prior_incidents=0
        if perp is None
        else count(IncidentRow.perpetrator_id == perp),
        pair_prior_incidents=0
        if perp is None
        else count(and_(victim, IncidentRow.perpetrator_id == perp)),
        days_since_victim_last_incident=None if days is None else round(days, 2),
    )


def _reviews(session: Session, incident_id: str) -> tuple[ReviewView, ...]:
    rows = session.scalars(
        select(ReviewRow).where(ReviewRow.incident_id == incident_id).order_by(ReviewRow.id)
    )
    return tuple(_review_view(r) for r in rows)


def _review_view(r: ReviewRow) -> ReviewView:
    return ReviewView(
        r.id,
        r.incident_id,
        r.decision,
        r.override_band,
        bool(r.note),
        r.model_version,
        r.key_id,
        r.decided_at,
    )


def _score(session: Session, row: IncidentRow, version: str | None) -> ScoreView | None:
    query = select(ScoreRow).where(ScoreRow.incident_id == row.incident_id)
    if version is not None:
        query = query.where(ScoreRow.model_version == version)
    score = session.scalars(query.order_by(ScoreRow.scored_at.desc()).limit(1)).first()
    if score is None:
        return None
    reasons = _reasons(score.reasons_json, row.perpetrator_id is not None)
    return ScoreView(score.model_version, score.probability, score.band, reasons, score.scored_at)


def incident_view(
    store: Store, incident_id: str, scorer: Scorer | None, *, key_id: str
) -> IncidentView:
    """One incident for a reviewer: attributes (never its people's ids or protected
    attributes), a history summary and the case's chronology, orders and alerts
    (point-in-time, :mod:`triage.service.chronology`), the current model's score and
    the reviews."""
    with store.session() as s:
        row = s.get(IncidentRow, incident_id)
        if row is None:
            raise NotFoundError(f"no incident {incident_id!r} in the store")
        if scorer is not None:
            score_missing(s, [incident_id], scorer)
        score = _score(s, row, scorer.model_version if scorer else None)
        chronology, total = chronology_of(s, row)
        victim_age, perpetrator_age = ages_at(s, row)
        view = IncidentView(
            incident_id=row.incident_id,
            reported_at=row.reported_at,
            incident_type=row.incident_type,
            relationship=row.relationship,
            dash_grade=row.dash_grade,
            flags={f: bool(getattr(row, f)) for f in BOOL_FLAGS},
            perpetrator_known=row.perpetrator_id is not None,
            history=_history(s, row),
            score=score,
            reviews=_reviews(s, incident_id),
            children_present=bool(row.children_present),
            victim_age=victim_age,
            perpetrator_age=perpetrator_age,
            dash=dash_groups(row),
            chronology=chronology,
            chronology_total=total,
            orders=orders_at(s, row),
            alerts=alerts_for(s, [row]).get(incident_id, ()),
        )
        audit_log.append(
            s,
            key_id=key_id,
            action="incident.read",
            incident_ids=[incident_id],
            model_version=None if score is None else score.model_version,
            detail={"score_shown": score is not None},
        )
    return view


def record_review(
    store: Store,
    incident_id: str,
    *,
    decision: str,
    override_band: str | None,
    note: str | None,
    model_version: str | None,
    key_id: str,
) -> ReviewView:
    """Store a decision (the note is kept but never returned or logged)."""
    with store.session() as s:
        if s.get(IncidentRow, incident_id) is None:
            raise NotFoundError(f"no incident {incident_id!r} in the store")
        row = ReviewRow(
            incident_id=incident_id,
            decision=decision,
            override_band=override_band,
            note=note or None,
            model_version=model_version,
            key_id=key_id,
            decided_at=datetime.now(UTC),
        )
        s.add(row)
        s.flush()
        audit_log.append(
            s,
            key_id=key_id,
            action="review",
            incident_ids=[incident_id],
            model_version=model_version,
            detail=review_detail(row),  # chained: a changed decision fails verify
        )
        return _review_view(row)
