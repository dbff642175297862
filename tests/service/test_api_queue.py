"""The reviewer's path over real HTTP: ingest a day, read the ranked queue exactly as
docs/architecture.md §10 fixes it, open an incident, record a review, and see each read audited."""

from __future__ import annotations

import pytest
from service_support import Service, day_batch, incident, people_for

QUEUE_KEYS = {"date", "queue", "model_version", "capacity", "items"}
ITEM_KEYS = {
    "rank",
    "incident_id",
    "probability",
    "band",
    "dash_grade",
    "reasons",
    "review_status",
    "within_capacity",
    "incident_type",
    "reported_at",
    "children_present",
    "alerts",
}


def test_queue_answers_exactly_the_fixed_shape_in_descending_probability(service: Service) -> None:
    batch = day_batch(12)
    with service.client("ingest") as c:
        assert c.post("/incidents", json=batch).status_code == 200
    with service.client("reviewer") as c:
        r = c.get("/queue", params={"date": "2024-03-01", "capacity": 5})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == QUEUE_KEYS
    assert body["date"] == "2024-03-01"
    assert body["model_version"] == "stub/1"
    assert body["capacity"] == 5
    items = body["items"]
    assert len(items) == 12
    assert all(set(i) == ITEM_KEYS for i in items)
    probabilities = [i["probability"] for i in items]
    assert probabilities == sorted(probabilities, reverse=True)
    assert [i["rank"] for i in items] == list(range(1, 13))
    assert [i["within_capacity"] for i in items] == [True] * 5 + [False] * 7
    assert {i["review_status"] for i in items} == {"not_reviewed"}
    grades = {i["incident_id"]: i["dash_grade"] for i in items}
    assert grades == {r["incident_id"]: r["dash_grade"] for r in batch["incidents"]}
    assert items[0]["reasons"]
    assert set(items[0]["reasons"][0]) == {
        "feature",
        "text",
        "contribution",
    }


def test_queue_holds_only_the_days_incidents(service: Service) -> None:
    rows = [
        incident("before", "2024-02-29T23:59:59Z"),
        incident("on", "2024-03-01T00:00:00Z"),
        incident("after", "2024-03-02T00:00:00Z"),
    ]
    with service.client("ingest") as c:
        c.post("/incidents", json={"incidents": rows, "people": people_for(rows)})
    with service.client("reviewer") as c:
        items = c.get("/queue", params={"date": "2024-03-01"}).json()["items"]
    assert [i["incident_id"] for i in items] == ["on"]


@pytest.mark.parametrize("raw", ["0.0", "1709251200", "2024-3-1", "2024-02-30", "01/03/2024"])
def test_a_date_not_written_as_a_day_is_refused(service: Service, raw: str) -> None:
    """A lax parser reads ``0.0`` as a timestamp (1970-01-01): the queue answers 422."""
    with service.client("reviewer") as c:
        r = c.get("/queue", params={"date": raw})
    assert r.status_code == 422, r.text
    assert "date" in r.text


def test_history_raises_the_score_of_a_repeat_victim(service: Service) -> None:
    rows = [
        incident("first", "2024-01-01T10:00:00Z", victim="a"),
        incident("repeat", "2024-03-01T10:00:00Z", victim="a"),
        incident("new", "2024-03-01T11:00:00Z", victim="b"),
    ]
    with service.client("ingest") as c:
        c.post("/incidents", json={"incidents": rows, "people": people_for(rows)})
    with service.client("reviewer") as c:
        items = c.get("/queue", params={"date": "2024-03-01"}).json()["items"]
    assert [i["incident_id"] for i in items] == ["repeat", "new"]


def test_review_shows_in_the_queue_and_the_incident(service: Service) -> None:
    batch = day_batch(3)
    with service.client("ingest") as c:
        c.post("/incidents", json=batch)
    with service.client("reviewer") as c:
        r = c.post(
            "/incidents/d001/review",
            json={
                "decision": "refer_marac",
                "override_band": "high",
                "note": "known to children's services",
            },
        )
        assert r.status_code == 201
        review = r.json()
        assert review["decision"] == "refer_marac"
        assert review["has_note"] is True
        assert "note" not in review
        items = c.get("/queue", params={"date": "2024-03-01"}).json()["items"]
        detail = c.get("/incidents/d001").json()
    status = {i["incident_id"]: i["review_status"] for i in items}
    assert status["d001"] == "refer_marac"
    assert status["d000"] == "not_reviewed"
    assert detail["reviews"][0]["override_band"] == "high"
    assert detail["score"]["model_version"] == "stub/1"
    assert "victim_id" not in detail
    assert "perpetrator_id" not in detail


def test_an_override_without_a_note_is_refused(service: Service) -> None:
    with service.client("ingest") as c:
        c.post("/incidents", json=day_batch(1))
    with service.client("reviewer") as c:
        r = c.post("/incidents/d000/review", json={"decision": "monitor", "override_band": "high"})
    assert r.status_code == 422
    assert r.json()["error"] == "invalid_request"


def test_every_score_shown_is_in_the_audit_log(service: Service) -> None:
    with service.client("ingest") as c:
        c.post("/incidents", json=day_batch(4))
    with service.client("reviewer") as c:
        shown = [
            i["incident_id"] for i in c.get("/queue", params={"date": "2024-03-01"}).json()["items"]
        ]
        c.get("/incidents/d002")
        c.post("/incidents/d002/review", json={"decision": "monitor"})
    with service.client("auditor") as c:
        entries = c.get("/audit-log").json()["items"]
        check = c.get("/audit-log/verify").json()
    by_action = {e["action"]: e for e in entries}
    reviewer = service.key_ids["reviewer"]
    assert by_action["queue.read"]["incident_ids"] == shown
    assert by_action["queue.read"]["key_id"] == reviewer
    assert by_action["queue.read"]["model_version"] == "stub/1"
    assert by_action["incident.read"]["incident_ids"] == ["d002"]
    assert by_action["review"]["incident_ids"] == ["d002"]
    assert by_action["ingest"]["key_id"] == service.key_ids["ingest"]
    assert check["ok"] is True


def test_reload_follows_a_promotion_and_records_it(service: Service) -> None:
    with service.client("reviewer") as c:
        assert c.get("/model").json()["model_version"] == "stub/1"
    service.models.promote(2, reason="better AUC")
    with service.client("admin") as c:
        r = c.post("/admin/reload")
    assert r.json() == {"model_version": "stub/2", "previous": "stub/1", "changed": True}
    with service.client("reviewer") as c:
        assert c.get("/model").json()["metrics"] == {"pooled_model_roc_auc": 0.74}
    with service.client("auditor") as c:
        actions = [e["action"] for e in c.get("/audit-log").json()["items"]]
        report = c.get("/models/2/report").json()
        missing = c.get("/models/9/report")
    assert actions[-2:] == ["model.decision", "model.reload"]
    assert report["version"] == 2
    assert report["model_card"]
    assert missing.status_code == 404
