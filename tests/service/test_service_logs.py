"""No key and no personal field reaches a log line or an error response: not on a
good batch, a bad one, a conflict, nor an unexpected failure (which answers with an
error id that the log repeats, and no traceback)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from service_support import Service, incident, logged_text, person, start_service

from triage.contract.names import Extract
from triage.service import StaticModels, Store
from triage.service.scoring import Score

VICTIM = "PERSON-SECRET-VICTIM"
SUSPECT = "PERSON-SECRET-SUSPECT"
BIRTH_YEAR = 1937


class ExplodingScorer:
    """A model that fails with a message holding a person's id, as a careless one might."""

    model_version = "boom/1"

    def score(self, incidents: pd.DataFrame, history: Extract) -> list[Score]:
        raise ValueError(f"cannot score victim {incidents['victim_id'].iloc[0]}")


@pytest.fixture
def exploding(sqlite_store: Store, tmp_path: Path) -> Iterator[Service]:
    with start_service(sqlite_store, tmp_path, StaticModels({1: ExplodingScorer()}, 1)) as running:
        yield running


def _batch(incident_id: str = "log-1", **overrides: Any) -> dict[str, list[dict[str, object]]]:
    row = incident(incident_id, victim=VICTIM, perpetrator=SUSPECT, **overrides)
    return {"incidents": [row], "people": [person(VICTIM, birth_year=BIRTH_YEAR), person(SUSPECT)]}


def test_no_key_or_personal_field_in_logs(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with service.client("ingest") as c:
        assert c.post("/incidents", json=_batch()).status_code == 200
        assert c.post("/incidents", json=_batch(weapon=True)).status_code == 200  # kept as is
        assert c.post("/incidents", json=_batch("log-2", dash_grade="x")).status_code == 422
    with service.client("reviewer") as c:
        c.get("/queue", params={"date": "2024-03-01"})
        detail = c.get("/incidents/log-1")
        c.post(
            "/incidents/log-1/review", json={"decision": "monitor", "note": f"spoke to {VICTIM}"}
        )
    with service.client("auditor") as c:
        audit = c.get("/audit-log").text
    logs = logged_text(caplog)
    assert "POST /incidents" in logs  # the capture works: uvicorn's access lines are here
    for secret in [VICTIM, SUSPECT, *service.keys.values()]:
        assert secret not in logs
        assert secret not in detail.text
        assert secret not in audit
    # the birth year as a value of its own, not four digits inside a hash, a port or a time
    year = re.compile(rf"(?<![\w.]){BIRTH_YEAR}(?!\w|\.\d)")
    for text in (logs, detail.text, audit):
        assert not year.search(text), year.search(text)


def test_an_unexpected_error_answers_an_error_id_only(
    exploding: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with exploding.client("ingest") as c:
        r = c.post("/incidents", json=_batch())
    assert r.status_code == 500
    body = r.json()
    assert set(body) == {"error", "message", "error_id"}
    assert VICTIM not in r.text
    assert "Traceback" not in r.text
    logs = logged_text(caplog)
    assert body["error_id"] in logs
    assert "ValueError" in logs
    assert VICTIM not in logs
    assert exploding.store.counts()["incidents"] == 0  # the failed batch left nothing
