"""Fixtures for the service: stores on SQLite and PostgreSQL, API keys for every
role, and a real uvicorn server with a stub model behind it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_support import Service, fresh_database, local_postgres, start_service

from triage.service import Store

POSTGRES_ENV = "TRIAGE_TEST_POSTGRES_URL"
MESSAGE_NO_POSTGRES = (
    f"PostgreSQL is not available: set {POSTGRES_ENV} to a server URL "
    "(postgresql+psycopg://user@host:port/db, with CREATEDB) or install Debian's "
    "postgresql package so initdb and pg_ctl exist"
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _unavailable(reason: str) -> None:
    """Skip locally; in CI a missing backend is a failure, never a silent skip."""
    if _in_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str | None]:
    """A PostgreSQL server URL for the whole session, or None."""
    given = os.environ.get(POSTGRES_ENV)
    if given:
        yield given
        return
    try:
        import psycopg  # noqa: F401
    except ImportError:
        yield None
        return
    with local_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'triage.db'}"
        return
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("the psycopg driver is not installed (package psycopg[binary])")
    server = request.getfixturevalue("postgres_server")
    if server is None:
        _unavailable(MESSAGE_NO_POSTGRES)
    with fresh_database(server) as url:
        yield url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    st = Store(database_url)
    st.create_schema()
    yield st
    st.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    st = Store(f"sqlite:///{tmp_path / 'triage.db'}")
    st.create_schema()
    yield st
    st.dispose()


@pytest.fixture
def service(sqlite_store: Store, tmp_path: Path) -> Iterator[Service]:
    """A running service on SQLite (the API's behaviour does not depend on the backend;
    the store tests cover both)."""
    with start_service(sqlite_store, tmp_path) as running:
        yield running
