"""A case as a reviewer reads it (docs/architecture.md §10): the earlier records of the
incident's victim, perpetrator and pair, the orders known at the incident, the DASH
answers grouped as the form groups them, the ages of its people, and the
course-of-conduct alerts with their evidence.

Everything is point-in-time, as the features are (§5): only records reported
strictly before the incident, orders started strictly before it, people as the store
knew them at its ``reported_at``. Alerts come from the same engine as batch
(:func:`triage.features.alerts.build_alerts`) on the stored records of the incidents'
people, one call for a whole day. People are never named by id here: the other
people of a case are labelled ("another victim 1"), so nothing leaves the service
that could be joined with another system.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any, Protocol, cast

import pandas as pd
from sqlalchemy import and_, func, or_, select, union
from sqlalchemy.orm import Session

from triage.contract.names import BOOL_FLAGS, DASH_QUESTIONS, Extract
from triage.features.alerts import build_alerts, load_alert_spec
from triage.features.catalogue import DASH_TEXT
from triage.service.tables import IncidentRow, OrderRow, PersonRow, PersonVersionRow, in_chunks

__all__ = [
    "CHRONOLOGY_LIMIT",
    "DASH_GROUPS",
    "AlertView",
    "ChronologyEntry",
    "DashAnswer",
    "DashGroup",
    "OrderView",
    "ages_at",
    "alerts_for",
    "chronology_of",
    "dash_groups",
    "orders_at",
]

#: the newest earlier records shown: a prolific perpetrator cannot make a page huge
CHRONOLOGY_LIMIT = 200
#: the sections of the DASH (2009) form, in its order
DASH_GROUPS: tuple[tuple[str, str, tuple[int, int]], ...] = (
    ("current_situation", "Current situation", (1, 9)),
    ("children_dependants", "Children and dependants", (10, 12)),
    ("abuse_history", "Domestic abuse history", (13, 20)),
    ("abuser", "The perpetrator", (21, 27)),
)
THIS_VICTIM, THIS_PERPETRATOR, NOT_IDENTIFIED = "this victim", "this perpetrator", "not identified"


@dataclass(frozen=True)
class ChronologyEntry:
    """An earlier record: ``relation`` is ``pair`` (same victim and perpetrator),
    ``victim`` or ``perpetrator``; ``victim``/``perpetrator`` say who, as labels."""

    incident_id: str
    reported_at: datetime
    incident_type: str
    dash_grade: str
    relation: str
    flags: tuple[str, ...]
    victim: str
    perpetrator: str


@dataclass(frozen=True)
class OrderView:
    """An order started before the incident; ``active`` when not ended before it."""

    order_type: str
    start_at: datetime
    end_at: datetime | None
    active: bool
    named: str


@dataclass(frozen=True)
class AlertView:
    rule: str
    title: str
    summary: str
    action: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class DashAnswer:
    question: str
    text: str
    answer: bool | None


@dataclass(frozen=True)
class DashGroup:
    group: str
    title: str
    answers: tuple[DashAnswer, ...]


class AlertQuery(Protocol):
    """What an alert needs of the incident it is computed for."""

    incident_id: str
    reported_at: datetime
    victim_id: str
    perpetrator_id: str | None
    relationship: str
    incident_type: str


def _relation(row: Any, victim: str, perpetrator: str | None) -> str:
    if row.victim_id == victim:
        return "pair" if perpetrator is not None and row.perpetrator_id == perpetrator else "victim"
    return "perpetrator"


class _Labels:
    """Labels of the people of a case, others numbered in order of appearance."""

    def __init__(self, victim: str, perpetrator: str | None) -> None:
        self.victim, self.perpetrator = victim, perpetrator
        self.others: dict[tuple[str, str], str] = {}

    def of(self, kind: str, person: str | None) -> str:
        if person is None:
            return NOT_IDENTIFIED
        if kind == "victim" and person == self.victim:
            return THIS_VICTIM
        if kind == "perpetrator" and person == self.perpetrator:
            return THIS_PERPETRATOR
        key = (kind, person)
        if key not in self.others:
            n = 1 + sum(1 for k in self.others if k[0] == kind)
            self.others[key] = f"another {kind} {n}"
        return self.others[key]


def _theirs(row: IncidentRow) -> Any:
    """Records of the victim, the perpetrator or both, strictly before ``row``."""
    mine = IncidentRow.victim_id == row.victim_id
    if row.perpetrator_id is not None:
        mine = or_(mine, IncidentRow.perpetrator_id == row.perpetrator_id)
    return and_(IncidentRow.reported_at < row.reported_at, mine)


def chronology_of(
    session: Session, row: IncidentRow, limit: int = CHRONOLOGY_LIMIT
) -> tuple[tuple[ChronologyEntry, ...], int]:
    """The newest ``limit`` earlier records of the incident's people, newest first, and
    how many there are in all."""
    where = _theirs(row)
    total = int(session.scalar(select(func.count()).where(where)) or 0)
    columns = [getattr(IncidentRow, c) for c in ("incident_id", "reported_at", "victim_id")]
    columns += [getattr(IncidentRow, c) for c in ("perpetrator_id", "incident_type", "dash_grade")]
    columns += [getattr(IncidentRow, f) for f in BOOL_FLAGS]
    found = session.execute(
        select(*columns)
        .where(where)
        .order_by(IncidentRow.reported_at.desc(), IncidentRow.incident_id.desc())
        .limit(limit)
    )
    labels = _Labels(row.victim_id, row.perpetrator_id)
    entries = tuple(
        ChronologyEntry(
            incident_id=r.incident_id,
            reported_at=r.reported_at,
            incident_type=r.incident_type,
            dash_grade=r.dash_grade,
            relation=_relation(r, row.victim_id, row.perpetrator_id),
            flags=tuple(f for f in BOOL_FLAGS if getattr(r, f)),
            victim=labels.of("victim", r.victim_id),
            perpetrator=labels.of("perpetrator", r.perpetrator_id),
        )
        for r in found
    )
    return entries, total


def orders_at(session: Session, row: IncidentRow) -> tuple[OrderView, ...]:
    """Orders naming the victim, the perpetrator or the victim's earlier perpetrators,
    started strictly before the incident; newest first."""
    named = {row.victim_id: THIS_VICTIM}
    earlier = select(IncidentRow.perpetrator_id).where(
        IncidentRow.victim_id == row.victim_id,
        IncidentRow.reported_at < row.reported_at,
        IncidentRow.perpetrator_id.is_not(None),
    )
    for person in session.scalars(earlier.distinct()):
        if person is not None:
            named[person] = "another perpetrator of this victim"
    if row.perpetrator_id is not None:
        named[row.perpetrator_id] = THIS_PERPETRATOR
    out: list[OrderView] = []
    for chunk in in_chunks(sorted(named)):
        query = select(OrderRow).where(
            OrderRow.person_id.in_(chunk), OrderRow.start_at < row.reported_at
        )
        out += [
            OrderView(
                order_type=o.order_type,
                start_at=o.start_at,
                end_at=o.end_at,
                active=o.end_at is None or o.end_at >= row.reported_at,
                named=named[o.person_id],
            )
            for o in session.scalars(query)
        ]
    return tuple(sorted(out, key=lambda o: (o.start_at, o.order_type), reverse=True))


def dash_groups(row: IncidentRow) -> tuple[DashGroup, ...]:
    """The 27 answers (``None``: not answered) under the form's sections."""
    return tuple(
        DashGroup(
            group,
            title,
            tuple(
                DashAnswer(
                    DASH_QUESTIONS[i - 1], DASH_TEXT[i - 1], getattr(row, DASH_QUESTIONS[i - 1])
                )
                for i in range(first, last + 1)
            ),
        )
        for group, title, (first, last) in DASH_GROUPS
    )


def _birth_year(session: Session, person: str | None, at: datetime) -> int | None:
    """The birth year as the store knew it at ``at`` (its latest correction by then)."""
    if person is None:
        return None
    v = PersonVersionRow
    corrected = session.execute(
        select(v.birth_year)
        .where(v.person_id == person, v.valid_from <= at)
        .order_by(v.version.desc())
        .limit(1)
    ).first()
    if corrected is None:
        born = session.scalar(select(PersonRow.birth_year).where(PersonRow.person_id == person))
    else:
        born = corrected.birth_year
    return None if born is None else int(born)


def ages_at(session: Session, row: IncidentRow) -> tuple[int | None, int | None]:
    """Victim's and perpetrator's age in calendar years at the incident, as the
    features count it: the year of ``reported_at`` minus the birth year."""
    year = row.reported_at.year
    born = [_birth_year(session, p, row.reported_at) for p in (row.victim_id, row.perpetrator_id)]
    victim, perpetrator = (None if b is None else year - b for b in born)
    return victim, perpetrator


# --- alerts --------------------------------------------------------------------------

_ALERT_COLUMNS = (
    "incident_id",
    "reported_at",
    "victim_id",
    "perpetrator_id",
    "relationship",
    "incident_type",
)
_ALERT_VALUES = attrgetter(*_ALERT_COLUMNS)
_STRING = pd.StringDtype()


def _frame(rows: Iterable[Any]) -> pd.DataFrame:
    records = list(map(_ALERT_VALUES, rows))  # one C call a row, not one per column
    frame = pd.DataFrame.from_records(records, columns=list(_ALERT_COLUMNS))
    out = pd.DataFrame(
        {
            "incident_id": frame["incident_id"].astype(_STRING),
            "reported_at": pd.to_datetime(frame["reported_at"], utc=True).astype(
                "datetime64[ns, UTC]"
            ),
            "victim_id": frame["victim_id"].astype(_STRING),
            "perpetrator_id": frame["perpetrator_id"].astype(_STRING),
            "relationship": frame["relationship"].astype(object),
            "incident_type": frame["incident_type"].astype(object),
        }
    )
    # an extract's own order, so evidence at equal instants is ordered as in batch
    return out.sort_values(["reported_at", "incident_id"], kind="stable").reset_index(drop=True)


def _history(session: Session, queries: Sequence[AlertQuery], where: Sequence[Any]) -> Extract:
    """The stored records naming a person of ``queries`` (as victim or perpetrator)
    reported before the latest of them, and the orders naming their perpetrators: all
    the alert rules read. ``where`` selects the queries in the store (a day): their
    people are then found by the database in one statement, not id by id."""
    columns = [getattr(IncidentRow, c) for c in _ALERT_COLUMNS]
    before = IncidentRow.reported_at < max(q.reported_at for q in queries)
    groups: list[Any]
    if where:
        on_day = select(IncidentRow.victim_id).where(*where)
        groups = [union(on_day, select(IncidentRow.perpetrator_id).where(*where))]
    else:
        people = {q.victim_id for q in queries} | {q.perpetrator_id for q in queries}
        groups = list(in_chunks(sorted(p for p in people if p is not None)))
    records: dict[str, Any] = {}
    for group in groups:
        clause = or_(IncidentRow.victim_id.in_(group), IncidentRow.perpetrator_id.in_(group))
        for r in session.execute(select(*columns).where(before, clause)):
            records[r.incident_id] = r
    incidents = _frame(records.values())
    perpetrators = sorted({q.perpetrator_id for q in queries if q.perpetrator_id is not None})
    orders: list[Any] = []
    for chunk in in_chunks(perpetrators):
        orders += session.scalars(select(OrderRow).where(OrderRow.person_id.in_(chunk)))
    order_frame = pd.DataFrame(
        {
            "person_id": pd.array([o.person_id for o in orders], dtype=_STRING),
            "order_type": pd.Series([o.order_type for o in orders], dtype=object),
            "start_at": pd.to_datetime([o.start_at for o in orders], utc=True).astype(
                "datetime64[ns, UTC]"
            ),
            "end_at": pd.to_datetime([o.end_at for o in orders], utc=True).astype(
                "datetime64[ns, UTC]"
            ),
        }
    )
    return Extract(incidents=incidents, people=pd.DataFrame(), orders=order_frame)


def alerts_for(
    session: Session, queries: Sequence[AlertQuery], where: Sequence[Any] = ()
) -> dict[str, tuple[AlertView, ...]]:
    """The alerts of each of ``queries`` (stored incidents; ``where``, if given, the
    clause that selects them), in one call of the batch engine on the stored records of
    their people; incidents without one are left out."""
    if not queries:
        return {}
    history = _history(session, queries, where)
    found = build_alerts(history, _frame(queries), load_alert_spec())
    out: dict[str, list[AlertView]] = {}
    for r in found.itertuples(index=False):
        evidence = tuple(str(e) for e in cast(Iterable[Any], r.evidence))
        view = AlertView(str(r.rule), str(r.title), str(r.summary), str(r.action), evidence)
        out.setdefault(str(r.incident_id), []).append(view)
    return {k: tuple(v) for k, v in out.items()}
