"""An unexpected error while serving a page answers with the HTML error page (500),
while the same error on an API route keeps the API's JSON 500. Either way the client
gets only an error id, one log line repeats it, and neither holds a traceback, a key
or the exception's message (which may name a person)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape
from pathlib import Path

import httpx
import pandas as pd
import pytest
from service_support import PageClient, Service, csrf_in, incident, person, start_service
from sqlalchemy.orm import Session

from triage.contract.names import Extract
from triage.exceptions import TriageError
from triage.service import StaticModels, Store
from triage.service.ingest import ingest
from triage.service.pages_session import MESSAGE_UNEXPECTED
from triage.service.scoring import Score

VICTIM = "PERSON-SECRET-VICTIM"
DAY = "2024-03-01"
ERROR_ID = re.compile(r'<code id="error-id">([^<]*)</code>')


class FailingScorer:
    """A model whose scoring fails with a message naming a person."""

    model_version = "failing/1"

    def __init__(self, kind: type[Exception]) -> None:
        self.kind = kind

    def score(self, incidents: pd.DataFrame, history: Extract) -> list[Score]:
        raise self.kind(f"cannot score victim {VICTIM}")


class FailingStore(Store):
    """A store whose every transaction fails, with a person's id in the message, once
    ``failing`` is set."""

    failing = False

    @contextmanager
    def session(self) -> Iterator[Session]:
        if self.failing:
            raise OSError(f"cannot read the records of {VICTIM}")
        with super().session() as s:
            yield s


@pytest.fixture(params=[ValueError, TriageError])
def failing_scorer(
    request: pytest.FixtureRequest, sqlite_store: Store, tmp_path: Path
) -> Iterator[tuple[Service, str]]:
    """An unscored incident in the store, so reading it calls the scorer, which fails
    with an exception no handler knows (``ValueError``) or a ``TriageError`` that the
    API's handler does not map to a status."""
    incidents = pd.DataFrame.from_records([incident("err-1", f"{DAY}T09:00:00Z", victim=VICTIM)])
    people = pd.DataFrame.from_records([person(VICTIM), person("p1")])
    ingest(sqlite_store, incidents, people, scorer=None, key_id="test")
    models = StaticModels({1: FailingScorer(request.param)}, 1)
    with start_service(sqlite_store, tmp_path, models) as service:
        yield service, request.param.__name__


@pytest.fixture
def failing_store(tmp_path: Path) -> Iterator[tuple[Service, FailingStore]]:
    store = FailingStore(f"sqlite:///{tmp_path / 'triage.db'}")
    store.create_schema()
    try:
        with start_service(store, tmp_path) as service:
            yield service, store
            store.failing = False  # the server stops with a working store
    finally:
        store.dispose()


def _page_error_id(r: httpx.Response) -> str:
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-store"
    assert MESSAGE_UNEXPECTED in unescape(r.text)
    found = ERROR_ID.findall(r.text)
    assert len(found) == 1
    return str(found[0])


def _api_error_id(r: httpx.Response) -> str:
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) == {"error", "message", "error_id"}
    assert body["error"] == "internal_error"
    assert body["message"] == "an unexpected error occurred"
    return str(body["error_id"])


def _check_logged(
    caplog: pytest.LogCaptureFixture, answered: dict[str, str], error: str, service: Service
) -> None:
    """Each error id (by the route template it was raised on) is in exactly one log
    line, with the exception's type; no log line holds a traceback or a secret."""
    lines = [r.getMessage() for r in caplog.records]
    for error_id, route in answered.items():
        assert re.fullmatch(r"[0-9a-f]{12}", error_id)
        logged = [line for line in lines if error_id in line]
        assert len(logged) == 1
        assert f": {error} in " in logged[0]
        assert f" {route} " in logged[0]
    assert all(r.exc_info is None and r.exc_text is None for r in caplog.records)
    text = "\n".join(lines)
    for secret in ["Traceback", VICTIM, *service.keys.values()]:
        assert secret not in text


def _check_body(r: httpx.Response, service: Service) -> None:
    for secret in ["Traceback", 'File "', VICTIM, *service.keys.values()]:
        assert secret not in r.text


def test_a_failing_scorer_answers_html_on_pages_and_json_on_the_api(
    failing_scorer: tuple[Service, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    service, error = failing_scorer
    with PageClient(service.url) as client:
        client.login(service.keys["reviewer"], follow=False)
        queue = client.get(f"/ui/queue?date={DAY}")
        detail = client.get("/ui/incidents/err-1")
    with service.client("reviewer") as c:
        api_queue = c.get("/queue", params={"date": DAY})
        api_detail = c.get("/incidents/err-1")
    answered = {
        _page_error_id(queue): "/ui/queue",
        _page_error_id(detail): "/ui/incidents/{incident_id}",
        _api_error_id(api_queue): "/queue",
        _api_error_id(api_detail): "/incidents/{incident_id}",
    }
    assert len(answered) == 4  # a new id for each error
    for r in (queue, detail, api_queue, api_detail):
        _check_body(r, service)
    assert service.key_ids["reviewer"] in queue.text  # still signed in, with the nav
    _check_logged(caplog, answered, error, service)


def test_a_failing_store_answers_html_on_pages_and_json_on_the_api(
    failing_store: tuple[Service, FailingStore], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    service, store = failing_store
    with PageClient(service.url) as auditor, PageClient(service.url) as stranger:
        auditor.login(service.keys["auditor"], follow=False)
        token_page = stranger.get("/login")
        store.failing = True
        log_page = auditor.get("/ui/audit-log")  # fails in the sign-in check
        login = stranger.post(
            "/login",
            {"api_key": service.keys["reviewer"], "csrf_token": csrf_in(token_page.text)},
        )
    with service.client("auditor") as c:
        api_log = c.get("/audit-log")
    answered = {
        _page_error_id(log_page): "/ui/audit-log",
        _page_error_id(login): "/login",
        _api_error_id(api_log): "/audit-log",
    }
    assert len(answered) == 3  # a new id for each error
    for r in (log_page, login, api_log):
        _check_body(r, service)
    assert 'href="/login"' in login.text  # not signed in: the way back is to sign in
    _check_logged(caplog, answered, "OSError", service)
