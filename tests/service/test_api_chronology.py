"""A case as a reviewer reads it over HTTP: the chronology of an incident's people
(newest first, relations, nothing at or after the incident), the orders known at it,
the DASH answers by section, ages, the alerts (equal to the batch engine's), the
new fields of the queue's items, and reasons that never give an unknown suspect a
clean record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from features_support import at, make_extract
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_support import Service, start_service

from triage.contract.names import Extract
from triage.evaluation.explain import UNKNOWN_SUSPECT_TEXT
from triage.features.alerts import alerts_by_incident, build_alerts
from triage.service import StaticModels, Store
from triage.service.chronology import CHRONOLOGY_LIMIT
from triage.service.scoring import Band, Reason, Score

HARASS = "harassment"
#: the case: v1 harassed by her ex-partner p1, who also abused v2; one incident of v1
#: with no suspect named; i0005 is the incident read, i0006 at its very instant and
#: i0007 later must never show in its case
CASE = [
    {"day": 10, "incident_type": HARASS, "relationship": "ex_partner"},
    {"day": 40, "incident_type": "malicious_communications", "relationship": "ex_partner"},
    {"day": 60, "victim_id": "v2", "injury": True},
    {"day": 70, "incident_type": "stalking", "relationship": "ex_partner", "dash_grade": "high"},
    {"day": 80, "incident_type": HARASS, "perpetrator_id": None},
    {
        "day": 100,
        "incident_type": "criminal_damage",
        "relationship": "ex_partner",
        "children_present": True,
        "dash_q01": True,
        "dash_q10": False,
        "dash_q27": True,
    },
    {"day": 100, "incident_type": HARASS, "relationship": "ex_partner"},
    {"day": 200, "incident_type": HARASS, "relationship": "ex_partner"},
]
ORDERS = [
    {"person_id": "p1", "order_type": "non_molestation", "start": 20, "end": 45},
    {"person_id": "p1", "order_type": "dvpo", "start": 50, "end": None},
    {"person_id": "p1", "order_type": "restraining", "start": 150, "end": None},
]
PEOPLE = {"v1": {"birth_year": 1990}, "p1": {"birth_year": 1985}}


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Contract rows as a feed sends them: ISO times, null for missing."""
    rows: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", date_format="iso"))
    return rows


def _batch(extract: Extract) -> dict[str, Any]:
    batch: dict[str, Any] = {
        "incidents": _rows(extract.incidents),
        "people": _rows(extract.people),
    }
    if extract.orders is not None:
        batch["orders"] = _rows(extract.orders)
    return batch


class _SuspectHistoryScorer:
    """A model whose top reason is the perpetrator's record, worded as a record."""

    model_version = "suspect/1"

    def score(self, incidents: pd.DataFrame, history: Extract) -> list[Score]:
        reason = Reason(
            "perpetrator_count_all", "0 earlier incidents involving this perpetrator", -1.0, 0
        )
        return [
            Score(str(i), 0.2, Band.MEDIUM, (reason,), self.model_version)
            for i in incidents["incident_id"]
        ]


@pytest.fixture
def case(tmp_path: Path) -> Iterator[tuple[Service, Extract]]:
    extract = make_extract(CASE, PEOPLE, ORDERS)
    store = Store(f"sqlite:///{tmp_path / 'triage.db'}")
    store.create_schema()
    models = StaticModels({1: _SuspectHistoryScorer()}, 1, name="stub")
    try:
        with start_service(store, tmp_path, models) as service:
            with service.client("ingest") as c:
                r = c.post("/incidents", json=_batch(extract))
                assert r.status_code == 200, r.text
            yield service, extract
    finally:
        store.dispose()


def _get(service: Service, path: str, **params: Any) -> Any:
    with service.client("reviewer") as c:
        r = c.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_chronology_is_every_earlier_record_of_the_case_newest_first(
    case: tuple[Service, Extract],
) -> None:
    service, _ = case
    body = _get(service, "/incidents/i0005")
    got = [
        (e["incident_id"], e["relation"], e["victim"], e["perpetrator"]) for e in body["chronology"]
    ]
    assert got == [
        ("i0004", "victim", "this victim", "not identified"),
        ("i0003", "pair", "this victim", "this perpetrator"),
        ("i0002", "perpetrator", "another victim 1", "this perpetrator"),
        ("i0001", "pair", "this victim", "this perpetrator"),
        ("i0000", "pair", "this victim", "this perpetrator"),
    ]
    assert body["chronology_total"] == 5
    first = {e["incident_id"]: e for e in body["chronology"]}
    assert first["i0003"]["incident_type"] == "stalking"
    assert first["i0003"]["dash_grade"] == "high"
    assert first["i0002"]["flags"] == ["injury"]
    assert first["i0000"]["reported_at"].startswith("2020-01-11T00:00:00")
    # a later incident of the same people, and one at the same instant, never show
    later = _get(service, "/incidents/i0007")
    assert {"i0005", "i0006"} <= {e["incident_id"] for e in later["chronology"]}
    assert body["perpetrator_known"] is True
    text = json.dumps(body)
    assert '"v1"' not in text  # people are labels, never ids
    assert '"p1"' not in text


def test_an_unknown_suspects_chronology_is_the_victims_alone(
    case: tuple[Service, Extract],
) -> None:
    service, _ = case
    body = _get(service, "/incidents/i0004")
    assert [e["relation"] for e in body["chronology"]] == ["victim"] * 3
    assert [e["incident_id"] for e in body["chronology"]] == ["i0003", "i0001", "i0000"]
    assert body["perpetrator_age"] is None
    assert body["orders"] == [
        {
            "order_type": "dvpo",
            "start_at": body["orders"][0]["start_at"],
            "end_at": None,
            "active": True,
            "named": "another perpetrator of this victim",
        },
        {
            "order_type": "non_molestation",
            "start_at": body["orders"][1]["start_at"],
            "end_at": body["orders"][1]["end_at"],
            "active": False,
            "named": "another perpetrator of this victim",
        },
    ]


def test_orders_known_at_the_incident_are_active_or_past_never_future(
    case: tuple[Service, Extract],
) -> None:
    service, _ = case
    orders = _get(service, "/incidents/i0005")["orders"]
    got = [(o["order_type"], o["active"], o["named"]) for o in orders]
    assert got == [
        ("dvpo", True, "this perpetrator"),
        ("non_molestation", False, "this perpetrator"),
    ]
    assert orders[1]["end_at"].startswith("2020-02-15")
    later = _get(service, "/incidents/i0007")["orders"]
    assert (later[0]["order_type"], later[0]["active"]) == ("restraining", True)


def test_dash_answers_by_section_children_and_ages(case: tuple[Service, Extract]) -> None:
    service, _ = case
    body = _get(service, "/incidents/i0005")
    groups = {g["group"]: g for g in body["dash"]}
    assert list(groups) == ["current_situation", "children_dependants", "abuse_history", "abuser"]
    answers = {a["question"]: a["answer"] for g in body["dash"] for a in g["answers"]}
    assert list(answers) == [f"dash_q{i:02d}" for i in range(1, 28)]
    assert (answers["dash_q01"], answers["dash_q10"], answers["dash_q27"]) == (True, False, True)
    assert answers["dash_q02"] is None
    assert groups["children_dependants"]["answers"][0]["question"] == "dash_q10"
    assert body["children_present"] is True
    assert (body["victim_age"], body["perpetrator_age"]) == (30, 35)


def _batch_alerts(extract: Extract) -> dict[str, list[dict[str, object]]]:
    return alerts_by_incident(build_alerts(extract))


def _shown(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: a[k] for k in ("rule", "summary", "action", "evidence")} for a in alerts]


def test_alerts_online_equal_the_batch_engine_on_the_whole_extract(
    case: tuple[Service, Extract],
) -> None:
    service, extract = case
    batch = _batch_alerts(extract)
    rules = {a["rule"] for a in batch["i0005"]}
    assert {"possible_stalking", "order_breach", "serial_perpetrator"} <= rules
    for incident_id in extract.incidents["incident_id"]:
        body = _get(service, f"/incidents/{incident_id}")
        assert _shown(body["alerts"]) == batch.get(str(incident_id), []), incident_id
    stalking = next(a for a in batch["i0005"] if a["rule"] == "possible_stalking")
    assert stalking["evidence"] == ["i0003", "i0001", "i0000"]


def test_queue_items_carry_type_time_children_and_the_days_alerts(
    case: tuple[Service, Extract],
) -> None:
    service, extract = case
    batch = _batch_alerts(extract)
    items = _get(service, "/queue", date=at(100).date().isoformat())["items"]
    by_id = {i["incident_id"]: i for i in items}
    assert set(by_id) == {"i0005", "i0006"}
    assert by_id["i0005"]["incident_type"] == "criminal_damage"
    assert by_id["i0005"]["children_present"] is True
    assert by_id["i0006"]["children_present"] is False
    assert by_id["i0005"]["reported_at"].startswith("2020-04-10T00:00:00")
    for incident_id, item in by_id.items():
        assert _shown(item["alerts"]) == batch.get(incident_id, [])
    assert by_id["i0005"]["alerts"]
    assert all(a["title"] for a in by_id["i0005"]["alerts"])
    without = _get(service, "/queue", date=at(100).date().isoformat(), alerts="false")["items"]
    assert [i["alerts"] for i in without] == [[], []]
    assert [i["incident_id"] for i in without] == [i["incident_id"] for i in items]


def test_a_reason_never_gives_an_unknown_suspect_a_clean_record(
    case: tuple[Service, Extract],
) -> None:
    service, _ = case
    unknown = _get(service, "/incidents/i0004")["score"]["reasons"]
    known = _get(service, "/incidents/i0003")["score"]["reasons"]
    assert [r["text"] for r in unknown] == [UNKNOWN_SUSPECT_TEXT]
    assert [r["text"] for r in known] == ["0 earlier incidents involving this perpetrator"]
    items = _get(service, "/queue", date=at(80).date().isoformat())["items"]
    assert [r["text"] for r in items[0]["reasons"]] == [UNKNOWN_SUSPECT_TEXT]


def test_a_long_chronology_is_capped_with_its_total(tmp_path: Path) -> None:
    rows = [{"day": d / 10, "incident_type": HARASS} for d in range(CHRONOLOGY_LIMIT + 30)]
    extract = make_extract(rows)
    last = str(extract.incidents["incident_id"].iloc[-1])
    store = Store(f"sqlite:///{tmp_path / 'triage.db'}")
    store.create_schema()
    try:
        with start_service(store, tmp_path) as service:
            with service.client("ingest") as c:
                assert c.post("/incidents", json=_batch(extract)).status_code == 200
            body = _get(service, f"/incidents/{last}")
    finally:
        store.dispose()
    assert body["chronology_total"] == CHRONOLOGY_LIMIT + 29
    assert len(body["chronology"]) == CHRONOLOGY_LIMIT
    stamps = [e["reported_at"] for e in body["chronology"]]
    assert stamps == sorted(stamps, reverse=True)
    assert body["chronology"][0]["incident_id"] == str(extract.incidents["incident_id"].iloc[-2])


# --- property: nothing at or after the incident -----------------------------------------

_EVENT = st.fixed_dictionaries(
    {
        "day": st.integers(0, 60),
        "victim_id": st.sampled_from(["v1", "v2", "v3"]),
        "perpetrator_id": st.sampled_from(["p1", "p2", None]),
        "incident_type": st.sampled_from([HARASS, "stalking", "common_assault"]),
        "relationship": st.sampled_from(["ex_partner", "current_partner"]),
    }
)
_ORDER = st.fixed_dictionaries(
    {
        "person_id": st.sampled_from(["p1", "p2"]),
        "start": st.integers(0, 60),
        "end": st.one_of(st.none(), st.integers(61, 90)),
    }
)


def test_no_chronology_entry_nor_alert_evidence_is_at_or_after_the_incident(
    tmp_path: Path,
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'triage.db'}")
    store.create_schema()
    runs = iter(range(10_000))
    try:
        with start_service(store, tmp_path) as service:

            @settings(
                max_examples=10,
                deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture],
            )
            @given(
                events=st.lists(_EVENT, min_size=1, max_size=12),
                orders=st.lists(_ORDER, max_size=2),
            )
            def run(events: list[dict[str, Any]], orders: list[dict[str, Any]]) -> None:
                n = next(runs)  # fresh people and ids in each example: one store for all
                renamed = [
                    {
                        **e,
                        "victim_id": f"{e['victim_id']}-{n}",
                        "perpetrator_id": None
                        if e["perpetrator_id"] is None
                        else f"{e['perpetrator_id']}-{n}",
                    }
                    for e in events
                ]
                unique = {(o["person_id"], o["start"]): o for o in orders}.values()
                named = [{**o, "person_id": f"{o['person_id']}-{n}"} for o in unique]
                extract = make_extract(renamed, {f"p1-{n}": {}, f"p2-{n}": {}}, named or None)
                incidents = extract.incidents.assign(
                    incident_id=[f"x{n}-{i}" for i in range(len(events))]
                )
                extract = Extract(incidents, extract.people, extract.orders)
                with service.client("ingest") as c:
                    assert c.post("/incidents", json=_batch(extract)).status_code == 200
                when = dict(zip(incidents["incident_id"], incidents["reported_at"], strict=True))
                for incident_id, t in when.items():
                    body = _get(service, f"/incidents/{incident_id}")
                    seen = [e["incident_id"] for e in body["chronology"]]
                    seen += [i for a in body["alerts"] for i in a["evidence"]]
                    assert all(when[i] < t for i in seen), (incident_id, seen)
                    for order in body["orders"]:
                        assert pd.Timestamp(order["start_at"]) < t

            run()
    finally:
        store.dispose()
