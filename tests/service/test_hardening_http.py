"""The HTTP layer against a red-team pass, over real HTTP: a body limit before the key
check, short error bodies, page parameters that never give a 500, keys kept out of
the access log, strict headers, no schema unless enabled, redirects that never name
the Host header, throttled key guessing, and store files only their owner can read."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from service_support import (
    PageClient,
    Service,
    day_batch,
    incident,
    make_keys,
    people_for,
    serving,
)

from triage.service import StaticModels, Store, StubScorer, audit_log, create_app
from triage.service.errors import MAX_PROBLEMS
from triage.service.http_guards import API_HEADERS, relative_location
from triage.service.throttle import FailureLimiter
from triage.settings import Settings

LIMIT = 64 * 1024
STRICT_CSP = "default-src 'none'; frame-ancestors 'none'"


@contextmanager
def guarded(tmp_path: Path, **settings: Any) -> Iterator[Service]:
    """A real server on a fresh SQLite store holding a day's batch, with ``settings``."""
    store = Store(f"sqlite:///{tmp_path / 'triage.db'}")
    store.create_schema()
    keys, ids = make_keys(store)
    models = StaticModels({1: StubScorer("stub/1")}, 1, name="stub")
    config = Settings(
        database_url=store.url, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", **settings
    )
    try:
        with serving(create_app(config, store=store, models=models)) as url:
            svc = Service(url, keys, ids, store, models)
            with svc.client("ingest") as c:
                assert c.post("/incidents", json=day_batch(6)).status_code == 200
            yield svc
    finally:
        store.dispose()


def _audit_head(store: Store) -> int:
    with store.session() as session:
        return audit_log.head(session)[0]


def _stored_incidents(svc: Service) -> int:
    with svc.client("reviewer") as c:
        return len(c.get("/queue", params={"date": "2024-03-01"}).json()["items"])


# --- 1. the body limit, before authentication, and short error bodies -----------------


def test_a_body_over_the_limit_is_refused_413_before_the_key_check(tmp_path: Path) -> None:
    big = b'{"incidents": [' + b" " * (2 * LIMIT) + b"]}"
    with guarded(tmp_path, max_body_bytes=LIMIT) as svc:
        before = _audit_head(svc.store)
        with httpx.Client(base_url=svc.url, timeout=30) as client:
            small = client.post("/incidents", content=b"{}", headers={"content-type": "x"})
            assert small.status_code == 401  # under the limit, the key check answers
            for headers in ({}, {"X-API-Key": "trk.000000000000.forged"}):
                r = client.post(
                    "/incidents",
                    content=big,
                    headers={**headers, "content-type": "application/json"},
                )
                assert r.status_code == 413, r.text
                assert r.json()["error"] == "payload_too_large"
                assert f"{LIMIT:,} bytes" in r.json()["message"]
            chunked = client.post("/incidents", content=iter([b" " * 4096] * 40))
            assert chunked.status_code == 413  # no Content-Length: counted as it streams
            assert chunked.json()["error"] == "payload_too_large"
            form = client.post(
                "/login",
                content=b"api_key=" + b"a" * (2 * LIMIT),
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            assert form.status_code == 413
            assert form.headers["content-type"].startswith("text/html")
            assert f"{LIMIT:,} bytes" in form.text
        with svc.client("ingest") as c:  # a good key gets the same answer, nothing stored
            batch = day_batch(40, day="2024-03-02", prefix="x")
            batch["people"] += [{"person_id": "pad", "sex": "x" * LIMIT}]
            assert c.post("/incidents", json=batch).status_code == 413
        assert _audit_head(svc.store) == before
        assert _stored_incidents(svc) == 6


def test_a_chunked_body_under_the_limit_still_reaches_the_route(tmp_path: Path) -> None:
    batch = json.dumps(day_batch(3, day="2024-03-01", prefix="c")).encode()
    with guarded(tmp_path, max_body_bytes=LIMIT) as svc, svc.client("ingest") as c:
        parts = [batch[i : i + 100] for i in range(0, len(batch), 100)]
        r = c.post("/incidents", content=iter(parts), headers={"content-type": "application/json"})
        assert r.status_code == 200, r.text
        assert _stored_incidents(svc) == 9


def test_a_large_invalid_batch_gets_a_short_422_that_counts_what_it_left_out(
    service: Service,
) -> None:
    rows = [
        incident(f"bad{i:04d}", dash_grade="z" * 500, relationship="q" * 500) for i in range(800)
    ]
    with service.client("ingest") as c:
        r = c.post("/incidents", json={"incidents": rows, "people": people_for(rows)})
    assert r.status_code == 422
    body = r.json()
    assert len(body["problems"]) == MAX_PROBLEMS
    assert "1,500 left out" in body["message"]
    assert all(len(p["value"] or "") <= 100 for p in body["problems"])
    assert len(r.content) < 40_000
    with service.client("ingest") as c:  # a schema error lists no more either
        r = c.post("/incidents", json={"incidents": [[i] for i in range(5000)], "people": []})
    assert r.status_code == 422
    assert len(r.json()["problems"]) == MAX_PROBLEMS
    assert "left out" in r.json()["message"]


# --- 6. page parameters -----------------------------------------------------------------

BAD_PAGES = [
    ("reviewer", "/ui/queue?capacity=%C2%B2", 422),
    ("reviewer", "/ui/queue?capacity=%D9%A3", 422),
    ("reviewer", "/ui/queue?capacity=0", 422),
    ("reviewer", "/ui/queue?date=0001-01-01", 422),
    ("reviewer", "/ui/queue?date=9999-12-31", 422),
    ("reviewer", "/ui/queue?date=2024-13-45", 422),
    ("reviewer", "/ui/queue?date=20240301", 422),
    ("reviewer", "/ui/queue?date=%D9%A2%D9%A0%D9%A2%D9%A4-03-01", 422),
    ("reviewer", "/ui/queue?date=garbage", 422),
    ("auditor", "/ui/models/%C2%B2", 404),
    ("auditor", "/ui/models/99999999999999999999", 404),
    ("auditor", "/ui/models?version=%C2%B2", 422),
    ("auditor", "/ui/audit-log?after=%C2%B3", 422),
    ("auditor", "/ui/audit-log?after=-1", 422),
]


def test_bad_page_parameters_get_the_error_page_and_write_no_audit_entry(
    tmp_path: Path,
) -> None:
    with guarded(tmp_path) as svc:
        clients = {role: PageClient(svc.url) for role in ("reviewer", "auditor")}
        try:
            for role, client in clients.items():
                assert client.login(svc.keys[role], follow=False).status_code == 303
            for role, path, status in BAD_PAGES:
                before = _audit_head(svc.store)
                r = clients[role].get(path)
                assert r.status_code == status, (path, r.status_code)
                assert r.headers["content-type"].startswith("text/html"), path
                assert 'id="problem"' in r.text, path
                assert "error-id" not in r.text, path  # a refusal, not an unexpected error
                assert _audit_head(svc.store) == before, path
            with svc.client("reviewer") as api:  # the API answers the calendar's ends too
                for edge in ("0001-01-01", "9999-12-31"):
                    assert api.get("/queue", params={"date": edge}).status_code == 200, edge
                assert api.get("/queue", params={"capacity": "²"}).status_code == 422
            ok = clients["reviewer"].get("/ui/queue?date=2024-03-01&capacity=3")
            assert ok.status_code == 200
            assert "d000" in ok.text
        finally:
            for client in clients.values():
                client.http.close()


# --- 7. leaks and headers -----------------------------------------------------------------


def test_keys_in_a_query_string_never_reach_the_access_log(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    key = service.keys["reviewer"]
    with service.client("reviewer") as c:
        assert c.get("/queue", params={"date": "2024-03-01", "key": key}).status_code == 200
    httpx.get(service.url + "/health", params={"api_key": key, "probe": "1"})
    httpx.get(service.url + "/model", params={"X-API-Key": key})
    access = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    text = "\n".join(access)
    assert len(access) == 3, access
    assert key not in text
    assert key.rsplit(".", 1)[1] not in text
    assert "/queue?[hidden]" in text
    assert "/model?[hidden]" in text
    assert "/health?api_key=[hidden]&probe=1" in text


def test_json_answers_carry_no_store_nosniff_and_a_strict_csp(service: Service) -> None:
    with service.client("reviewer") as c:
        answers = [c.get("/queue?date=2024-03-01"), c.get("/incidents/nope")]
    answers += [httpx.get(service.url + "/health"), httpx.get(service.url + "/queue")]
    assert [r.status_code for r in answers] == [200, 404, 200, 401]
    for r in answers:
        assert r.headers["content-type"] == "application/json"
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-security-policy"] == STRICT_CSP
    page = httpx.get(service.url + "/login")
    assert "style-src 'self'" in page.headers["content-security-policy"]  # the pages' own
    assert API_HEADERS["Content-Security-Policy"] == STRICT_CSP


def test_the_schema_and_docs_are_off_unless_enabled_and_never_load_a_cdn(
    tmp_path: Path,
) -> None:
    with guarded(tmp_path / "off") as svc:
        for path in ("/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"):
            assert httpx.get(svc.url + path).status_code == 404, path
    with guarded(tmp_path / "on", api_docs=True) as svc:
        schema = httpx.get(svc.url + "/openapi.json")
        assert schema.status_code == 200
        for path, operations in schema.json()["paths"].items():
            for method, operation in operations.items():  # the guards answer on every route
                assert {"413", "429"} <= set(operation["responses"]), (method, path)
        for path in ("/docs", "/redoc"):  # their pages would load scripts from a CDN
            r = httpx.get(svc.url + path)
            assert r.status_code == 404, path
            assert "cdn" not in r.text.lower(), path


def test_a_redirect_never_reflects_the_host_header(service: Service) -> None:
    evil = {"Host": "evil.example"}
    for path in ("/ui", "/", "/queue/", "/ui/queue"):
        r = httpx.get(service.url + path, headers=evil, follow_redirects=False)
        assert r.is_redirect, (path, r.status_code)
        location = r.headers["location"]
        assert "evil" not in location, (path, location)
        assert location.startswith("/"), (path, location)
        assert not location.startswith(("//", "/\\")), (path, location)
    assert relative_location("http://evil.example//other.example/x?a=1") == "/other.example/x?a=1"
    assert relative_location("/\\evil.example") == "/evil.example"
    assert relative_location("\\\\evil.example/x") == "/evil.example/x"


def test_failed_sign_ins_and_bad_keys_are_throttled_per_address(tmp_path: Path) -> None:
    with guarded(tmp_path, auth_failures_per_minute=3) as svc:
        forged = {"X-API-Key": "trk.000000000000.forged"}
        with httpx.Client(base_url=svc.url, timeout=30) as client:
            for _ in range(3):
                assert client.get("/queue", headers=forged).status_code == 401
                assert client.get("/queue").status_code == 401  # no key: nothing guessed
            r = client.get("/queue", headers=forged)
            assert r.status_code == 429
            assert r.json()["error"] == "too_many_attempts"
            assert 1 <= int(r.headers["retry-after"]) <= 60
            good = client.get("/queue", headers={"X-API-Key": svc.keys["reviewer"]})
            assert good.status_code == 429  # the address waits, whatever it sends
            assert client.get("/health").status_code == 200
        with PageClient(svc.url) as page:
            r = page.login("trk.000000000000.forged")
            assert r.status_code == 429
            assert r.headers["content-type"].startswith("text/html")
            assert "Too many failed sign-ins" in r.text
            assert "retry-after" in r.headers


def test_a_page_sign_in_failure_counts_towards_the_limit(tmp_path: Path) -> None:
    with guarded(tmp_path, auth_failures_per_minute=2) as svc, PageClient(svc.url) as page:
        assert [page.login("wrong").status_code for _ in range(3)] == [401, 401, 429]


def test_the_limiter_forgets_quiet_addresses_and_holds_a_bounded_number() -> None:
    now = [0.0]
    limiter = FailureLimiter(3, window=60, max_clients=100, clock=lambda: now[0])
    for i in range(1000):
        limiter.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter) == 100  # the most recent addresses only
    for _ in range(5):
        limiter.failed("10.9.9.9")
    assert limiter.retry_after("10.9.9.9") == 60
    now[0] = 30.5
    assert limiter.retry_after("10.9.9.9") == 30
    now[0] = 61.0
    assert limiter.retry_after("10.9.9.9") is None


def test_the_store_and_mlflow_database_files_are_created_0600(tmp_path: Path) -> None:
    db, tracking = tmp_path / "new" / "triage.db", tmp_path / "new" / "mlflow.db"
    settings = Settings(database_url=f"sqlite:///{db}", tracking_uri=f"sqlite:///{tracking}")
    umask = os.umask(0o022)  # the usual one, under which a file is otherwise 0644
    try:
        with serving(create_app(settings)) as url:  # its own store and the registry's champion
            assert httpx.get(url + "/health").json()["model_version"] is None
    finally:
        os.umask(umask)
    for path in (db, tracking):
        assert path.exists(), path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, (path, oct(path.stat().st_mode))
