"""A day's alerts are computed once for each state of the store, over real HTTP: a
second read and a review reuse them; an ingest of an earlier record or a correction of
a person computes them again, and the queue then shows the new evidence. The queue
is built with the cyclic garbage collector paused, and the collector runs again after.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from service_support import Service, incident, people_for, person, populated_service

from triage.service import day_alerts, reading
from triage.service.gc_pause import paused_gc

DAY = "2024-03-01"
#: v1 harassed by her ex-partner p1 three times before the day; q1 is the day's
HISTORY = [
    incident("h1", "2024-01-05T10:00:00Z"),
    incident("h2", "2024-01-20T10:00:00Z", incident_type="malicious_communications"),
    incident("h3", "2024-02-10T10:00:00Z"),
    incident("q1", f"{DAY}T09:00:00Z"),
    incident("q2", f"{DAY}T11:00:00Z", victim="v2", perpetrator="p2"),
]


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with populated_service(tmp_path, {"incidents": HISTORY, "people": people_for(HISTORY)}) as s:
        yield s


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times the day's alerts were computed (the server runs in this process)."""
    calls: list[int] = []
    compute = day_alerts.alerts_for

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return compute(*args, **kwargs)

    monkeypatch.setattr(day_alerts, "alerts_for", counted)
    return calls


def _stalking_evidence(service: Service) -> list[str]:
    with service.client("reviewer") as c:
        r = c.get("/queue", params={"date": DAY})
    assert r.status_code == 200, r.text
    items = {i["incident_id"]: i for i in r.json()["items"]}
    assert set(items) == {"q1", "q2"}
    assert items["q2"]["alerts"] == []
    found = [a for a in items["q1"]["alerts"] if a["rule"] == "possible_stalking"]
    assert len(found) == 1
    evidence: list[str] = found[0]["evidence"]
    return evidence


def _ingest(service: Service, batch: dict[str, Any]) -> None:
    with service.client("ingest") as c:
        r = c.post("/incidents", json=batch)
    assert r.status_code == 200, r.text


def test_reads_and_reviews_reuse_the_days_alerts(service: Service, computed: list[int]) -> None:
    assert _stalking_evidence(service) == ["h3", "h2", "h1"]
    assert _stalking_evidence(service) == ["h3", "h2", "h1"]
    with service.client("reviewer") as c:
        r = c.post("/incidents/q1/review", json={"decision": "monitor"})
    assert r.status_code == 201, r.text
    assert _stalking_evidence(service) == ["h3", "h2", "h1"]
    assert len(computed) == 1


def test_an_ingest_of_an_earlier_record_shows_in_the_next_read(
    service: Service, computed: list[int]
) -> None:
    assert _stalking_evidence(service) == ["h3", "h2", "h1"]
    # reported before the day, so not one of the day's incidents: only the history changes
    late = incident("h4", "2024-02-25T10:00:00Z", incident_type="stalking")
    _ingest(service, {"incidents": [late], "people": []})
    assert _stalking_evidence(service) == ["h4", "h3", "h2", "h1"]
    assert len(computed) == 2
    # a re-sent batch stores nothing: the alerts are reused
    _ingest(service, {"incidents": [late], "people": []})
    assert _stalking_evidence(service) == ["h4", "h3", "h2", "h1"]
    assert len(computed) == 2


def test_a_correction_of_a_person_computes_the_alerts_again(
    service: Service, computed: list[int]
) -> None:
    _stalking_evidence(service)
    # h1 re-sent unchanged with its perpetrator corrected: only a person version is added
    corrected = [person("p1", sex="male", birth_year=1980)]
    _ingest(service, {"incidents": [HISTORY[0]], "people": corrected})
    assert _stalking_evidence(service) == ["h3", "h2", "h1"]
    assert len(computed) == 2


def test_another_database_never_sees_these_alerts(tmp_path: Path) -> None:
    """Two stores served at once, the same ids and counts: each has its own alerts."""
    other = [*HISTORY[:3], incident("q1", f"{DAY}T09:00:00Z", victim="v9", perpetrator="p9")]
    other.append(HISTORY[4])
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    with (
        populated_service(tmp_path / "a", {"incidents": other, "people": people_for(other)}) as a,
        populated_service(
            tmp_path / "b", {"incidents": HISTORY, "people": people_for(HISTORY)}
        ) as b,
    ):
        with a.client("reviewer") as c:
            r = c.get("/queue", params={"date": DAY})
        assert r.status_code == 200, r.text
        assert [i["alerts"] for i in r.json()["items"]] == [[], []]
        assert _stalking_evidence(b) == ["h3", "h2", "h1"]


def test_the_queue_is_built_with_the_collector_paused(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    build = reading.queue

    def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return build(*args, **kwargs)

    monkeypatch.setattr(reading, "queue", watched)
    assert gc.isenabled()
    _stalking_evidence(service)
    assert seen == [False]
    assert gc.isenabled()


def test_pauses_nest_across_threads_and_keep_a_collector_already_stopped() -> None:
    assert gc.isenabled()
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with paused_gc():
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=other)
    with paused_gc():
        thread.start()
        assert inside.wait(10)
    assert not gc.isenabled()  # the other thread's build is still running
    release.set()
    thread.join(10)
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # stopped before: left stopped
    finally:
        gc.enable()
