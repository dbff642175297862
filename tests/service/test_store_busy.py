"""A store held by other writers past its busy timeout: the request is answered 503
``store_busy`` with ``Retry-After``, nothing is written, and the same request goes
through once the store is free. Reads that only check a key never wait."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape
from pathlib import Path

import pytest
from service_support import PageClient, day_batch, start_service
from sqlalchemy import text
from sqlalchemy.engine import make_url

from triage.exceptions import StoreBusy
from triage.service import Store
from triage.service.pages_session import MESSAGE_BUSY


@contextmanager
def held_by_another_writer(store: Store) -> Iterator[None]:
    """The store's write turn taken by another thread until the block ends."""
    taken, release = threading.Event(), threading.Event()

    def writer() -> None:
        with store.session():
            taken.set()
            release.wait(30)

    thread = threading.Thread(target=writer)
    thread.start()
    taken.wait(30)
    try:
        yield
    finally:
        release.set()
        thread.join(30)


@pytest.fixture
def busy_store(tmp_path: Path) -> Iterator[Store]:
    st = Store(f"sqlite:///{tmp_path / 'triage.db'}", busy_timeout=0.3)
    st.create_schema()
    yield st
    st.dispose()


def test_a_writer_that_waits_past_the_busy_timeout_gets_store_busy(busy_store: Store) -> None:
    with held_by_another_writer(busy_store), pytest.raises(StoreBusy), busy_store.session():
        pass  # pragma: no cover - never reached


def test_a_lock_held_by_another_process_is_store_busy_too(busy_store: Store) -> None:
    other = sqlite3.connect(make_url(busy_store.url).database or "", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreBusy), busy_store.session() as s:
            s.execute(text("SELECT 1"))
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_busy_store_answers_503_with_retry_after_and_stores_nothing(
    busy_store: Store, tmp_path: Path
) -> None:
    with start_service(busy_store, tmp_path) as service:
        batch = day_batch(3)
        before = busy_store.counts()
        with held_by_another_writer(busy_store), service.client("ingest") as c:
            refused = c.post("/incidents", json=batch)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "1"
        assert refused.json()["error"] == "store_busy"
        assert busy_store.counts() == before
        with service.client("ingest") as c:
            again = c.post("/incidents", json=batch)
        assert again.status_code == 200
        assert again.json()["scored"] == 3


def test_a_busy_store_on_a_page_answers_an_html_page_with_retry_after(
    busy_store: Store, tmp_path: Path
) -> None:
    with start_service(busy_store, tmp_path) as service:
        with service.client("ingest") as c:
            assert c.post("/incidents", json=day_batch(2)).status_code == 200
        with PageClient(service.url) as client:
            client.login(service.keys["reviewer"], follow=False)
            with held_by_another_writer(busy_store):  # showing the queue logs it: a write
                page = client.get("/ui/queue?date=2024-03-01")
            assert page.status_code == 503
            assert page.headers["content-type"].startswith("text/html")
            assert page.headers["Retry-After"] == "1"
            assert page.headers["cache-control"] == "no-store"
            assert MESSAGE_BUSY.format(seconds="1 second") in unescape(page.text)
            assert client.get("/ui/queue?date=2024-03-01").status_code == 200
        with held_by_another_writer(busy_store), service.client("reviewer") as c:
            api = c.get("/queue", params={"date": "2024-03-01"})
        assert api.status_code == 503  # the API keeps its JSON answer
        assert api.json()["error"] == "store_busy"
