"""Every route against every kind of caller, over real HTTP: a role grants exactly
its routes; no key, a revoked key or a forged one is 401, the wrong role 403. The
OpenAPI schema documents every error each route can answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from service_support import Service, incident, people_for, populated_service

OPEN = "open"
BATCH = {
    "incidents": [incident("x", "2024-03-01T09:00:00Z")],
    "people": people_for([incident("x")]),
}

#: (method, path, body, roles allowed)
ROUTES: list[tuple[str, str, dict[str, Any] | None, frozenset[str]]] = [
    ("GET", "/health", None, frozenset({OPEN})),
    ("POST", "/incidents", BATCH, frozenset({"ingest"})),
    ("GET", "/queue?date=2024-03-01", None, frozenset({"reviewer"})),
    ("GET", "/queue?date=2024-03-01&queue=mash", None, frozenset({"reviewer"})),
    ("GET", "/queues", None, frozenset({"reviewer"})),
    ("GET", "/incidents/x", None, frozenset({"reviewer"})),
    ("POST", "/incidents/x/review", {"decision": "monitor"}, frozenset({"reviewer"})),
    ("GET", "/model", None, frozenset({"reviewer", "auditor"})),
    ("GET", "/models/1/report", None, frozenset({"auditor"})),
    ("GET", "/audit-log", None, frozenset({"auditor"})),
    ("GET", "/audit-log/verify", None, frozenset({"auditor"})),
    ("POST", "/admin/reload", None, frozenset({"admin"})),
]
CALLERS = ["no key", "forged", "revoked", "ingest", "reviewer", "auditor", "admin"]
FORGED = "trk.000000000000.not-a-real-secret"


@pytest.fixture(scope="module")
def matrix_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with populated_service(tmp_path_factory.mktemp("roles"), BATCH) as svc:
        yield svc


def _headers(svc: Service, caller: str) -> dict[str, str]:
    if caller == "no key":
        return {}
    if caller == "forged":
        return {"X-API-Key": FORGED}
    return {"X-API-Key": svc.keys[caller]}


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES]
)
def test_route_admits_exactly_its_roles(
    matrix_service: Service,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    allowed: frozenset[str],
    caller: str,
) -> None:
    r = httpx.request(
        method, matrix_service.url + path, json=body, headers=_headers(matrix_service, caller)
    )
    if OPEN in allowed or caller in allowed:
        assert r.status_code in (200, 201), r.text
        return
    expected = 401 if caller in ("no key", "forged", "revoked") else 403
    assert r.status_code == expected
    error = r.json()
    assert error["error"] == ("unauthenticated" if expected == 401 else "forbidden")
    assert set(error) <= {"error", "message", "problems", "conflicts", "error_id"}


def test_the_matrix_covers_every_route(matrix_service: Service) -> None:
    schema = httpx.get(matrix_service.url + "/openapi.json").json()
    served = {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
    }
    listed = {
        (
            m,
            p.split("?")[0]
            .replace("/incidents/x", "/incidents/{incident_id}")
            .replace("/models/1", "/models/{version}"),
        )
        for m, p, _, _ in ROUTES
    }
    assert served == listed


def test_openapi_documents_every_error_with_the_error_body(matrix_service: Service) -> None:
    schema = httpx.get(matrix_service.url + "/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            codes = {int(c) for c in op["responses"] if c != "default"}
            assert 500 in codes, (method, path)
            if path != "/health":
                assert {401, 403} <= codes, (method, path)
            if op.get("parameters") or op.get("requestBody"):
                assert 422 in codes, (method, path)
            for code in codes - {200, 201}:
                ref = op["responses"][str(code)]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorBody"), (method, path, code)
            if path != "/health":
                assert op["security"] == [{"APIKeyHeader": []}], (method, path)
