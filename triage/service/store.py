"""The service's store: SQLite by default, PostgreSQL by URL (SQLAlchemy 2).

Every write is one transaction: a batch of incidents lands whole or not at all,
together with its scores and its audit entry. On SQLite each transaction begins
``IMMEDIATE`` (writers queue up rather than fail half-way), in WAL mode, with
foreign keys on; a process killed mid-write leaves the last committed state.

Writers of one process queue on a lock before they ask SQLite for its own, so they
are served in turn instead of polling SQLite's busy handler; a writer that has
waited ``busy_timeout`` seconds gives up with :class:`StoreBusy` (the service
answers 503 with ``Retry-After``), as does one that SQLite itself finds locked.
Reads that write nothing (:meth:`Store.read_session`) take neither lock: in WAL
mode they see the last committed state while a writer works.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from triage.exceptions import ConfigError, ConflictError, NotFoundError, StoreBusy
from triage.paths import create_private_file
from triage.service import audit_log
from triage.service.audit_seal import (
    HEAD_INFO,
    SEAL_INFO,
    Seal,
    read_anchor,
    seal_for,
    write_anchor,
)
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

__all__ = ["ConflictError", "NotFoundError", "Store", "StoreBusy", "check_database_url"]

logger = logging.getLogger(__name__)

_SUPPORTED = ("sqlite", "postgresql")
MESSAGE_MEMORY_DB = (
    "an in-memory SQLite database loses every incident, review and audit entry when the "
    "process ends; give a file (sqlite:///path/triage.db) or a PostgreSQL URL"
)


#: PostgreSQL's lock_not_available, serialization_failure and deadlock_detected
_PG_BUSY = frozenset({"55P03", "40001", "40P01"})
MESSAGE_BUSY = "the store is busy with other writes; nothing was written, try again"


def _is_busy(exc: OperationalError) -> bool:
    orig = exc.orig
    if isinstance(orig, sqlite3.OperationalError):
        text = str(orig).lower()
        return "database is locked" in text or "database is busy" in text
    return getattr(orig, "pgcode", None) in _PG_BUSY


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


def _sqlite_engine(url: str, busy_timeout: float, *, begin: str) -> Engine:
    parsed = make_url(url)
    if parsed.database:
        create_private_file(parsed.database)  # 0600 before SQLite creates it
    engine = create_engine(url, connect_args={"timeout": busy_timeout, "check_same_thread": False})

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
        conn.exec_driver_sql(begin)

    return engine


class Store:
    """Incidents, people, orders, scores, reviews, API keys and the audit log."""

    def __init__(self, url: str, *, busy_timeout: float = 30.0, seal: Seal | None = None) -> None:
        self.backend = check_database_url(url)
        self.url = url
        self.busy_timeout = busy_timeout
        #: the audit log's anchor file, checkpoint key and interval (:mod:`audit_seal`)
        self.seal = seal or seal_for(url)
        if self.backend == "sqlite":
            self.engine = _sqlite_engine(url, busy_timeout, begin="BEGIN IMMEDIATE")
            self._read_engine = _sqlite_engine(url, busy_timeout, begin="BEGIN")
        else:
            self.engine = self._read_engine = create_engine(url, pool_pre_ping=True)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._reads = sessionmaker(self._read_engine, expire_on_commit=False)
        self._writer = threading.RLock()

    def __repr__(self) -> str:
        return f"Store({safe_url(self.url)!r})"

    def create_schema(self) -> None:
        """Create missing tables (existing ones are left as they are)."""
        Base.metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
        self._read_engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed if the block ends normally, else rolled back.

        Transactions run one at a time on both backends (SQLite: ``BEGIN IMMEDIATE``;
        PostgreSQL: a transaction-scoped advisory lock), so "is this id stored?" and
        the insert that follows cannot race. A hub's handful of reviewers is far
        below what that costs. ``StoreBusy`` if the turn does not come in time."""
        if not self._writer.acquire(timeout=self.busy_timeout):
            raise StoreBusy(MESSAGE_BUSY)
        try:
            with self._sessions() as session:
                with session.begin():
                    session.info[SEAL_INFO] = self.seal
                    if self.backend == "postgresql":
                        audit_log.lock(session)
                    yield session
                head = session.info.pop(HEAD_INFO, None)
                if head is not None and self.seal.anchor is not None:
                    self._anchor(session, head, self.seal.anchor)
        except OperationalError as exc:
            if _is_busy(exc):
                raise StoreBusy(MESSAGE_BUSY) from None
            raise
        finally:
            self._writer.release()

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A transaction that only reads: no write lock, a consistent snapshot
        (SQLite WAL; PostgreSQL's read committed sees each statement's). Anything it
        writes is rolled back."""
        with self._reads() as session:
            try:
                yield session
            finally:
                session.rollback()

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

    def _anchor(self, session: Session, head: tuple[int, str], path: Path) -> None:
        """After a commit that appended to the audit log, still holding the writer
        lock: move the anchor file to the new head (see :func:`audit_seal.write_anchor`)."""
        try:
            anchored = read_anchor(path)
        except ValueError:
            anchored = None
        with session.begin():
            found = None if anchored is None else audit_log.hash_at(session, anchored[0])
        try:
            write_anchor(path, head, found)
        except OSError as exc:
            logger.error("cannot write the audit anchor %s (%s)", path, exc.strerror)

    def verify_audit_log(self, expect_head: str | None = None) -> audit_log.ChainCheck:
        with self.session() as s:
            return audit_log.verify(s, self.seal, expect_head)
