"""Reading the audit log as an auditor does (docs/architecture.md §10): newest first, a
page at a time, narrowed by kind of action, key, day range and incident. The chain
itself is read and checked by :mod:`audit_log`; this only selects rows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from triage.service.audit_log import AuditEntry, _entry
from triage.service.tables import AuditRow

__all__ = ["KINDS", "AuditFilter", "AuditSlice", "kind_of", "search"]

#: the kinds an auditor filters by, in words; a kind is an action's first word
KINDS: dict[str, str] = {
    "ingest": "Incidents sent in",
    "queue": "Queue read",
    "incident": "Incident read",
    "review": "Review recorded",
    "model": "Model loaded, promoted or refused",
    "key": "Key created or revoked",
}


def kind_of(action: str) -> str:
    """``model.decision`` is of kind ``model``."""
    return action.split(".", 1)[0]


@dataclass(frozen=True)
class AuditFilter:
    """What to show; ``None`` means no restriction. ``since``/``until`` are UTC days,
    both included."""

    kind: str | None = None
    key_id: str | None = None
    since: date | None = None
    until: date | None = None
    incident_id: str | None = None
    #: only entries with a seq below this (paging back), or above ``after``
    before: int | None = None
    after: int | None = None


@dataclass(frozen=True)
class AuditSlice:
    entries: list[AuditEntry]
    #: how many entries match the filter (all pages)
    matching: int
    #: ``before`` for the next older page, and for the next newer one (None: no such page)
    older: int | None
    newer: int | None


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(f: AuditFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.kind:
        where.append(or_(AuditRow.action == f.kind, AuditRow.action.like(f"{f.kind}.%")))
    if f.key_id:
        where.append(AuditRow.key_id == f.key_id)
    if f.since:
        where.append(AuditRow.at >= f.since.isoformat())
    if f.until:
        where.append(AuditRow.at < (f.until + timedelta(days=1)).isoformat())
    if f.incident_id:
        # ids are stored as a JSON list: match the id as a whole JSON string
        where.append(AuditRow.incident_ids.like(_like(json.dumps(f.incident_id)), escape="\\"))
    if f.after is not None:
        where.append(AuditRow.seq > f.after)
    return where


def _newest(where: list[ColumnElement[bool]], limit: int) -> Select[AuditRow]:
    return select(AuditRow).where(*where).order_by(AuditRow.seq.desc()).limit(limit)


def search(session: Session, f: AuditFilter, *, limit: int = 100) -> AuditSlice:
    """One page of matching entries, newest first, and the cursors around it."""
    where = _conditions(f)
    matching = int(session.scalar(select(func.count()).select_from(AuditRow).where(*where)) or 0)
    page = where if f.before is None else [*where, AuditRow.seq < f.before]
    rows = list(session.scalars(_newest(page, limit + 1)))
    shown = rows[:limit]
    older = shown[-1].seq if len(rows) > limit else None
    newer = None
    if shown and f.before is not None:
        above = [*where, AuditRow.seq > shown[0].seq]
        ahead = list(
            session.scalars(
                select(AuditRow.seq).where(*above).order_by(AuditRow.seq).limit(limit + 1)
            )
        )
        if ahead:
            # the newer page ends just above the entries shown; the newest needs no cursor
            newer = ahead[-1] + 1 if len(ahead) > limit else 0
    return AuditSlice([_entry(r) for r in shown], matching, older, newer)
