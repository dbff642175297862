"""The store's tables (SQLAlchemy 2 declarative models).

Incidents, people and orders keep the data contract's columns (docs/architecture.md §3) plus the
SHA-256 of their canonical content, which makes a re-sent row a no-op and a changed
one a conflict. Timestamps are UTC on every backend (:class:`UtcDateTime`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from triage.contract.names import BOOL_FLAGS, DASH_QUESTIONS

__all__ = [
    "IN_CHUNK",
    "ApiKeyRow",
    "AuditCheckpointRow",
    "AuditRow",
    "Base",
    "IncidentRow",
    "OrderRow",
    "PersonRow",
    "PersonVersionRow",
    "ReviewRow",
    "ScoreRow",
    "SessionRow",
    "UtcDateTime",
    "in_chunks",
]

_ID = 64
_HASH = 64


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime everywhere: SQLite keeps naive text, so values are
    converted to UTC on the way in and marked UTC on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a UTC time")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stamp: datetime = value
        return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class PersonRow(Base):
    __tablename__ = "people"

    person_id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    sex: Mapped[str] = mapped_column(String(16))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    ethnicity: Mapped[str] = mapped_column(String(16))
    content_sha256: Mapped[str] = mapped_column(String(_HASH))


class PersonVersionRow(Base):
    """A later version of a person's attributes (a correction): ``people`` keeps the
    first one. Scoring uses, for each incident, the version known at its
    ``reported_at``: the latest whose ``valid_from`` (when the store learnt it) is not
    after it, else the first."""

    __tablename__ = "person_versions"

    person_id: Mapped[str] = mapped_column(ForeignKey("people.person_id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    valid_from: Mapped[datetime] = mapped_column(UtcDateTime)
    sex: Mapped[str] = mapped_column(String(16))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    ethnicity: Mapped[str] = mapped_column(String(16))
    content_sha256: Mapped[str] = mapped_column(String(_HASH))
    key_id: Mapped[str] = mapped_column(String(64))


class IncidentRow(Base):
    __tablename__ = "incidents"

    incident_id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    occurred_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    victim_id: Mapped[str] = mapped_column(ForeignKey("people.person_id"), index=True)
    perpetrator_id: Mapped[str | None] = mapped_column(ForeignKey("people.person_id"), index=True)
    relationship: Mapped[str] = mapped_column(String(32))
    incident_type: Mapped[str] = mapped_column(String(64))
    injury: Mapped[bool] = mapped_column(Boolean)
    weapon: Mapped[bool] = mapped_column(Boolean)
    strangulation: Mapped[bool] = mapped_column(Boolean)
    children_present: Mapped[bool] = mapped_column(Boolean)
    substance_misuse: Mapped[bool] = mapped_column(Boolean)
    dash_grade: Mapped[str] = mapped_column(String(16))
    deprivation_decile: Mapped[int | None] = mapped_column(Integer)
    content_sha256: Mapped[str] = mapped_column(String(_HASH))
    ingested_at: Mapped[datetime] = mapped_column(UtcDateTime)


for _q in DASH_QUESTIONS:  # 27 nullable answers, declared in a loop to stay in step
    setattr(IncidentRow, _q, mapped_column(_q, Boolean, nullable=True))
assert all(hasattr(IncidentRow, f) for f in BOOL_FLAGS)


class OrderRow(Base):
    """A protective order, keyed by person, type and start (the contract has no id)."""

    __tablename__ = "orders"

    person_id: Mapped[str] = mapped_column(ForeignKey("people.person_id"), primary_key=True)
    order_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    start_at: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    end_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    content_sha256: Mapped[str] = mapped_column(String(_HASH))


class ScoreRow(Base):
    """One model version's score of one incident; the queue ranks by probability."""

    __tablename__ = "scores"
    __table_args__ = (Index("ix_scores_version_probability", "model_version", "probability"),)

    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.incident_id"), primary_key=True)
    model_version: Mapped[str] = mapped_column(String(128), primary_key=True)
    probability: Mapped[float] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(16))
    reasons_json: Mapped[str] = mapped_column(Text)
    scored_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ReviewRow(Base):
    """A reviewer's decision; the latest one per incident is its review status."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.incident_id"), index=True)
    decision: Mapped[str] = mapped_column(String(32))
    override_band: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    model_version: Mapped[str | None] = mapped_column(String(128))
    key_id: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ApiKeyRow(Base):
    """An API key's salted SHA-256; the key itself is shown once and never stored."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    salt: Mapped[str] = mapped_column(String(64))
    secret_sha256: Mapped[str] = mapped_column(String(_HASH))
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SessionRow(Base):
    """A review-page session: the signed cookie carries only ``id``, so signing out or
    revoking the key ends it here, and a copied cookie is dead from then on."""

    __tablename__ = "page_sessions"

    id: Mapped[str] = mapped_column(String(_HASH), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AuditRow(Base):
    """One append-only audit entry. Every field is text or an integer so the hash is
    recomputed from exactly what is stored, on any backend."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    key_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    incident_ids: Mapped[str] = mapped_column(Text)
    model_version: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(_HASH))
    hash: Mapped[str] = mapped_column(String(_HASH), unique=True)


class AuditCheckpointRow(Base):
    """Every ``N``-th audit entry's hash, with its HMAC-SHA256 under the operators' key
    (``signature`` None when none was set): a chain recomputed by someone who can
    write the store but not read the key no longer matches it."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(_HASH))
    signature: Mapped[str | None] = mapped_column(String(_HASH))


#: keys per ``IN (...)`` list: well under every backend's bound-parameter limit, even
#: for composite keys of several columns
IN_CHUNK = 300

_T = TypeVar("_T")


def in_chunks(items: Sequence[_T], size: int = IN_CHUNK) -> Iterator[Sequence[_T]]:
    """``items`` in consecutive slices of at most ``size``, for ``IN (...)`` lookups."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
