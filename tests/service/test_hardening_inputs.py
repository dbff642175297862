"""Ids and notes over real HTTP: an id a person cannot read (zero-width, bidirectional,
'.' or '..') is refused by the contract with its row, and an override note must say
something visible."""

from __future__ import annotations

import pytest
from service_support import Service, day_batch

from triage.contract.checks import Rule


@pytest.mark.parametrize(
    "bad_id", ["d\u200b001", "\ufeffd001", "d\u202e001", "d\u2066001\u2069", ".", ".."]
)
def test_an_unreadable_incident_id_is_refused_naming_its_row(service: Service, bad_id: str) -> None:
    batch = day_batch(3)
    batch["incidents"][1]["incident_id"] = bad_id
    before = service.store.counts()
    with service.client("ingest") as c:
        r = c.post("/incidents", json=batch)
    assert r.status_code == 422, r.text
    found = {(p["table"], p["column"], p["row"], p["rule"]) for p in r.json()["problems"]}
    assert found == {("incidents", "incident_id", 1, Rule.BAD_ID)}
    assert service.store.counts() == {**before, "audit_log": before["audit_log"] + 1}  # the refusal


def test_an_unreadable_person_id_is_refused_wherever_it_is_named(service: Service) -> None:
    batch = day_batch(2)
    old = batch["incidents"][0]["victim_id"]
    new = f"{old}\u200d"
    for row in batch["incidents"]:
        for column in ("victim_id", "perpetrator_id"):
            if row.get(column) == old:
                row[column] = new
    for row in batch["people"]:
        if row["person_id"] == old:
            row["person_id"] = new
    with service.client("ingest") as c:
        r = c.post("/incidents", json=batch)
    assert r.status_code == 422, r.text
    problems = r.json()["problems"]
    assert {p["rule"] for p in problems} == {Rule.BAD_ID}
    assert ("incidents", "victim_id", 0) in {(p["table"], p["column"], p["row"]) for p in problems}
    assert all("\\u200d" in p["value"] for p in problems)


@pytest.mark.parametrize("note", ["\u200b", " \u200b\u200c\u200d ", "\u202e\u2066\u2069", "\ufeff"])
def test_an_override_note_of_invisible_characters_is_refused(service: Service, note: str) -> None:
    with service.client("ingest") as c:
        c.post("/incidents", json=day_batch(1))
    before = service.store.counts()
    with service.client("reviewer") as c:
        r = c.post(
            "/incidents/d000/review",
            json={"decision": "monitor", "override_band": "high", "note": note},
        )
    assert r.status_code == 422, r.text
    assert "visible" in r.text
    assert service.store.counts() == before


def test_an_override_note_with_visible_text_is_taken(service: Service) -> None:
    with service.client("ingest") as c:
        c.post("/incidents", json=day_batch(1))
    with service.client("reviewer") as c:
        r = c.post(
            "/incidents/d000/review",
            json={"decision": "monitor", "override_band": "high", "note": "\u200bseen before"},
        )
    assert r.status_code in (200, 201), r.text
