"""POST /incidents over real HTTP: the data contract of `triage validate`, all or
nothing, every problem at once, and idempotent re-sends."""

from __future__ import annotations

from service_support import Service, day_batch, incident, people_for, person
from sqlalchemy import select

from triage.contract.checks import Rule
from triage.service.tables import IncidentRow


def _counts(service: Service) -> dict[str, int]:
    return service.store.counts()


def test_one_bad_row_stores_nothing_and_every_problem_is_returned(service: Service) -> None:
    batch = day_batch(20)
    rows = batch["incidents"]
    rows[3]["relationship"] = "spouse"
    rows[7]["reported_at"] = "yesterday"
    rows[11]["victim_id"] = "nobody"
    rows[15]["deprivation_decile"] = 11
    batch["people"][0]["birth_year"] = 1850
    before = _counts(service)
    with service.client("ingest") as c:
        r = c.post("/incidents", json=batch)
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "contract_violation"
    found = {(p["table"], p["column"], p["row"], p["rule"]) for p in body["problems"]}
    assert found == {
        ("incidents", "relationship", 3, Rule.UNKNOWN_CATEGORY),
        ("incidents", "reported_at", 7, Rule.UNPARSEABLE_TIMESTAMP),
        ("incidents", "victim_id", 11, Rule.UNKNOWN_PERSON),
        ("incidents", "deprivation_decile", 15, Rule.DECILE_OUT_OF_RANGE),
        ("people", "birth_year", 0, Rule.IMPLAUSIBLE_BIRTH_YEAR),
    }
    assert {p["value"] for p in body["problems"] if p["row"] == 3} == {"spouse"}
    assert _counts(service) == {**before, "audit_log": before["audit_log"] + 1}  # the refusal


def test_missing_and_unknown_columns_are_contract_problems(service: Service) -> None:
    row = incident("a")
    del row["dash_grade"]
    row["notes"] = "free text"
    with service.client("ingest") as c:
        r = c.post("/incidents", json={"incidents": [row], "people": people_for([row])})
    problems = {(p["column"], p["rule"]) for p in r.json()["problems"]}
    assert r.status_code == 422
    assert problems == {("dash_grade", Rule.MISSING_COLUMN), ("notes", Rule.UNKNOWN_COLUMN)}


def test_resending_the_same_batch_is_a_no_op(service: Service) -> None:
    batch = day_batch(5)
    with service.client("ingest") as c:
        first = c.post("/incidents", json=batch).json()
        counts = _counts(service)
        again = c.post("/incidents", json=batch).json()
    assert sorted(first["stored"]) == [f"d{i:03d}" for i in range(5)]
    assert first["scored"] == 5
    assert first["model_version"] == "stub/1"
    assert again["stored"] == []
    assert sorted(again["unchanged"]) == sorted(first["stored"])
    assert again["scored"] == 0
    after = _counts(service)
    assert {k: v for k, v in after.items() if k != "audit_log"} == {
        k: v for k, v in counts.items() if k != "audit_log"
    }


def test_resending_an_id_with_other_content_keeps_the_stored_record(
    service: Service,
) -> None:
    batch = day_batch(3)
    with service.client("ingest") as c:
        c.post("/incidents", json=batch)
        counts = _counts(service)
        batch["incidents"][1]["injury"] = True
        batch["incidents"].append(incident("brand-new", victim="dv0", perpetrator=None))
        r = c.post("/incidents", json=batch)
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == ["brand-new"]
    assert r.json()["unchanged"] == ["d000", "d001", "d002"]  # as for an identical re-send
    with service.store.read_session() as s:
        injury = s.execute(select(IncidentRow.injury).where(IncidentRow.incident_id == "d001"))
        assert injury.scalar_one() is False  # a stored record never changes
    # the new incident, its score, the ingest and the correction request were recorded
    assert _counts(service) == {
        **counts,
        "incidents": counts["incidents"] + 1,
        "scores": counts["scores"] + 1,
        "audit_log": counts["audit_log"] + 2,
    }


def test_people_already_stored_may_be_left_out(service: Service) -> None:
    first = [incident("a", "2024-03-01T08:00:00Z", victim="v", perpetrator="p")]
    later = [incident("b", "2024-03-01T09:00:00Z", victim="v", perpetrator="q")]
    with service.client("ingest") as c:
        assert (
            c.post("/incidents", json={"incidents": first, "people": people_for(first)}).status_code
            == 200
        )
        r = c.post("/incidents", json={"incidents": later, "people": [person("q")]})
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == ["b"]


def test_a_request_that_is_not_a_batch_is_422_without_echoing_input(service: Service) -> None:
    with service.client("ingest") as c:
        r = c.post("/incidents", json={"incidents": "secret-person-id"})
        empty = c.post("/incidents", json={"incidents": []})
        broken = c.post(
            "/incidents", content=b"{not json", headers={"Content-Type": "application/json"}
        )
    for response in (r, empty, broken):
        assert response.status_code == 422
        assert response.json()["error"] == "invalid_request"
    assert "secret-person-id" not in r.text


def test_unknown_routes_and_ids_answer_json_errors(service: Service) -> None:
    with service.client("reviewer") as c:
        missing_route = c.get("/nowhere")
        missing_incident = c.get("/incidents/none")
        review_missing = c.post("/incidents/none/review", json={"decision": "monitor"})
    assert missing_route.status_code == 404
    assert missing_route.json()["error"] == "http_error"
    assert missing_incident.status_code == 404
    assert missing_incident.json()["error"] == "not_found"
    assert review_missing.status_code == 404


def test_queue_without_a_model_is_503(service: Service) -> None:
    service.models._champion = None  # the registry lost its champion; reload follows it
    with service.client("admin") as c:
        assert c.post("/admin/reload").json()["model_version"] is None
    with service.client("reviewer") as c:
        r = c.get("/queue", params={"date": "2024-03-01"})
    assert r.status_code == 503
    assert r.json()["error"] == "model_unavailable"
    with service.client("ingest") as c:
        stored = c.post("/incidents", json=day_batch(2)).json()
    assert stored["scored"] == 0
    assert stored["model_version"] is None
