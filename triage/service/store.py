"""The service's store: SQLite by default, PostgreSQL by URL (SQLAlchemy 2).

Every write is one transaction: a batch of incidents lands whole or not at all,
together with its scores and its audit entry. On SQLite each transaction begins
``IMMEDIATE`` (writers queue up rather than fail half-way), in WAL mode, with
foreign keys on; a process killed mid-write leaves the last committed state.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from triage.exceptions import ConfigError, TriageError
from triage.service import audit_log
from triage.service.tables import (
    ApiKeyRow,
    AuditRow,
    Base,
    IncidentRow,
    OrderRow,
    PersonRow,
    ReviewRow,
    ScoreRow,
)

__all__ = ["ConflictError", "NotFoundError", "Store", "check_database_url"]

_SUPPORTED = ("sqlite", "postgresql")
MESSAGE_MEMORY_DB = (
    "an in-memory SQLite database loses every incident, review and audit entry when the "
    "process ends; give a file (sqlite:///path/triage.db) or a PostgreSQL URL"
)


class ConflictError(TriageError):
    """Re-sent rows differ from what the store holds under the same ids."""

    def __init__(self, conflicts: dict[str, list[str]]) -> None:
        self.conflicts = conflicts
        named = "; ".join(f"{t}: {', '.join(ids)}" for t, ids in conflicts.items())
        super().__init__(f"already stored with different content ({named})")


class NotFoundError(TriageError):
    """No such incident (or other record) in the store."""


def check_database_url(url: str) -> str:
    """Refuse a URL the service must not run on; return the backend name."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError("TRIAGE_DATABASE_URL is not a database URL") from None
    backend = parsed.get_backend_name()
    if backend not in _SUPPORTED:
        raise ConfigError(f"TRIAGE_DATABASE_URL: backend {backend!r} is not one of {_SUPPORTED}")
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise ConfigError(f"TRIAGE_DATABASE_URL: {MESSAGE_MEMORY_DB}")
    if backend == "sqlite" and "mode=memory" in str(parsed.query):
        raise ConfigError(f"TRIAGE_DATABASE_URL: {MESSAGE_MEMORY_DB}")
    return backend


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.database:
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Store:
    """Incidents, people, orders, scores, reviews, API keys and the audit log."""

    def __init__(self, url: str) -> None:
        self.backend = check_database_url(url)
        self.url = url
        if self.backend == "sqlite":
            self.engine = _sqlite_engine(url)
        else:
            self.engine = create_engine(url, pool_pre_ping=True)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"Store({safe_url(self.url)!r})"

    def create_schema(self) -> None:
        """Create missing tables (existing ones are left as they are)."""
        Base.metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed if the block ends normally, else rolled back.

        Transactions run one at a time on both backends (SQLite: ``BEGIN IMMEDIATE``;
        PostgreSQL: a transaction-scoped advisory lock), so "is this id stored?" and
        the insert that follows cannot race. A hub's handful of reviewers is far
        below what that costs."""
        with self._sessions() as session, session.begin():
            if self.backend == "postgresql":
                audit_log.lock(session)
            yield session

    def counts(self) -> dict[str, int]:
        """Rows per table (for health checks and tests)."""
        tables = {
            "incidents": IncidentRow,
            "people": PersonRow,
            "orders": OrderRow,
            "scores": ScoreRow,
            "reviews": ReviewRow,
            "api_keys": ApiKeyRow,
            "audit_log": AuditRow,
        }
        with self.session() as s:
            return {
                name: int(s.scalar(select(func.count()).select_from(row)) or 0)
                for name, row in tables.items()
            }

    def verify_audit_log(self) -> audit_log.ChainCheck:
        with self.session() as s:
            return audit_log.verify(s)
