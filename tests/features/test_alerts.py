"""Course-of-conduct alerts: known answers on hand-made histories, a naive loop as
reference on random ones, no alert that sees the future, and batch equal to online."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from features_support import HARM, make_extract
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from triage.contract.names import Extract
from triage.exceptions import ConfigError
from triage.features.alerts import (
    ALERT_COLUMNS,
    AlertSpec,
    CourseOfConduct,
    OrderBreach,
    RisingFrequency,
    SerialPerpetrator,
    alerts_by_incident,
    build_alerts,
    load_alert_spec,
)

SPEC = load_alert_spec()
RULES = {rule.name: rule for rule in SPEC.alerts}
HARASS = "harassment"


def _fired(extract: Extract, **kwargs: Any) -> dict[tuple[str, str], tuple[str, ...]]:
    found = build_alerts(extract, harm_weights=HARM, **kwargs)
    assert list(found.columns) == list(ALERT_COLUMNS)
    return {(r.incident_id, r.rule): tuple(r.evidence) for r in found.itertuples()}


def test_the_shipped_spec_has_the_four_rules() -> None:
    assert [r.rule for r in SPEC.alerts] == [
        "course_of_conduct",
        "order_breach",
        "rising_frequency",
        "serial_perpetrator",
    ]
    assert all(r.action and r.title for r in SPEC.alerts)


def test_repeated_harassment_of_one_victim_is_a_possible_course_of_conduct() -> None:
    rows = [
        {"day": 10, "incident_type": HARASS},
        {"day": 100, "incident_type": "malicious_communications"},
        {"day": 200, "incident_type": "common_assault"},  # not a harassment-like type
        {"day": 250, "incident_type": "criminal_damage"},
        {"day": 300, "incident_type": "common_assault", "relationship": "ex_partner"},
        {"day": 300, "incident_type": HARASS, "victim_id": "v2"},  # another victim
        {"day": 700, "incident_type": HARASS},  # the window has passed the first three
    ]
    extract = make_extract(rows)
    fired = {k: v for k, v in _fired(extract).items() if k[1] == "possible_stalking"}
    assert fired == {("i0004", "possible_stalking"): ("i0003", "i0001", "i0000")}
    found = build_alerts(extract, harm_weights=HARM)
    summary = found.loc[found["rule"] == "possible_stalking", "summary"].iloc[0]
    assert summary.startswith("3 incidents (criminal damage, harassment, malicious communications)")
    assert summary.endswith("after the relationship ended")


def test_records_at_the_same_instant_never_count() -> None:
    rows = [{"day": 10, "incident_type": HARASS}] * 2 + [{"day": 20, "incident_type": HARASS}]
    rows.append({"day": 20, "incident_type": HARASS})
    fired = _fired(make_extract(rows), spec=AlertSpec(alerts=(RULES["possible_stalking"],)))
    assert fired == {}  # at day 20 only the two of day 10 are earlier


def test_an_incident_while_an_order_made_after_this_pair_is_in_force() -> None:
    rows = [
        {"day": 5},
        {"day": 50},  # order in force
        {"day": 50, "victim_id": "v2"},  # same perpetrator, but the order came first
        {"day": 150},  # order ended at day 100
    ]
    orders = [{"person_id": "p1", "start": 10, "end": 100, "order_type": "dvpo"}]
    fired = _fired(
        make_extract(rows, orders=orders), spec=AlertSpec(alerts=(RULES["order_breach"],))
    )
    assert fired == {("i0001", "order_breach"): ("i0000",)}


def test_an_order_ending_at_the_incident_is_still_in_force_and_one_that_ended_before_is_not() -> (
    None
):
    rows = [{"day": 1}, {"day": 30}, {"day": 60}]
    orders = [
        {"person_id": "p1", "start": 2, "end": 30},
        {"person_id": "p1", "start": 3, "end": 45},
    ]
    fired = _fired(
        make_extract(rows, orders=orders), spec=AlertSpec(alerts=(RULES["order_breach"],))
    )
    assert set(fired) == {("i0001", "order_breach")}


def test_a_burst_after_a_quiet_year_is_rising_frequency_and_a_steady_rate_is_not() -> None:
    burst = [{"day": d} for d in (0, 400, 420, 430)] + [{"day": 440}]
    steady = [{"day": d, "victim_id": "v9", "perpetrator_id": "p9"} for d in range(0, 720, 30)]
    spec = AlertSpec(alerts=(RULES["rising_frequency"],))
    fired = _fired(make_extract(burst + steady), spec=spec)
    by_victim = {i for i, _ in fired}
    assert ("i0004", "rising_frequency") in fired
    assert fired[("i0004", "rising_frequency")] == ("i0003", "i0002", "i0001")
    assert not any(i >= "i0005" for i in by_victim)  # the steady pair never fires


def test_a_perpetrator_with_an_earlier_victim_is_serial() -> None:
    rows = [
        {"day": 1, "victim_id": "v1"},
        {"day": 30, "victim_id": "v1"},
        {"day": 50, "victim_id": "v2"},
        {"day": 60, "victim_id": "v2"},
        {"day": 70, "victim_id": "v3", "perpetrator_id": None},  # unknown suspect
    ]
    fired = _fired(make_extract(rows), spec=AlertSpec(alerts=(RULES["serial_perpetrator"],)))
    assert fired == {
        ("i0002", "serial_perpetrator"): ("i0000",),
        ("i0003", "serial_perpetrator"): ("i0000",),
    }


def test_unknown_incident_types_in_a_rule_are_refused() -> None:
    bad = CourseOfConduct(
        rule="course_of_conduct",
        name="x",
        title="x",
        action="x",
        types=("stalkng",),
        window_days=10,
        min_count=1,
    )
    with pytest.raises(ConfigError, match="stalkng"):
        build_alerts(make_extract([{"day": 1}]), spec=AlertSpec(alerts=(bad,)), harm_weights=HARM)


def test_the_api_form_groups_alerts_by_incident() -> None:
    rows = [{"day": d, "incident_type": HARASS} for d in (1, 2, 3, 4)]
    grouped = alerts_by_incident(build_alerts(make_extract(rows), harm_weights=HARM))
    assert set(grouped) == {"i0003"} | ({"i0003"} & set(grouped))
    (stalking,) = [a for a in grouped["i0003"] if a["rule"] == "possible_stalking"]
    assert stalking["evidence"] == ["i0002", "i0001", "i0000"]
    assert stalking["action"] == RULES["possible_stalking"].action


# --- random histories against a naive loop ------------------------------------------

DAYS = [0, 0.5, 10, 30, 60, 89, 90, 91, 120, 180, 364, 365, 366, 400, 455, 456, 500]
rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "day": st.sampled_from(DAYS),
            "victim_id": st.sampled_from(["v1", "v2", "v3"]),
            "perpetrator_id": st.sampled_from(["p1", "p2", None]),
            "incident_type": st.sampled_from([HARASS, "stalking", "common_assault"]),
            "relationship": st.sampled_from(["current_partner", "ex_partner"]),
        }
    ),
    max_size=16,
)
orders_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "person_id": st.sampled_from(["p1", "p2"]),
            "start": st.sampled_from(DAYS),
            "length": st.one_of(st.none(), st.sampled_from([0, 30, 90])),
        }
    ).map(lambda o: {**o, "end": None if o["length"] is None else o["start"] + o["length"]}),
    max_size=3,
)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _naive(extract: Extract, spec: AlertSpec) -> dict[tuple[str, str], tuple[str, ...]]:
    inc = extract.incidents.reset_index(drop=True)
    day = pd.Timedelta(days=1)
    out: dict[tuple[str, str], tuple[str, ...]] = {}
    for q in inc.itertuples():
        earlier = [r for r in inc.itertuples() if r.reported_at < q.reported_at]
        known = not pd.isna(q.perpetrator_id)
        same = [r for r in earlier if known and not pd.isna(r.perpetrator_id)]
        same = [r for r in same if r.perpetrator_id == q.perpetrator_id]
        pair = [r for r in same if r.victim_id == q.victim_id]
        newest = lambda rs: tuple(r.incident_id for r in rs[::-1])  # noqa: E731
        for rule in spec.alerts:
            key = (q.incident_id, rule.name)
            if isinstance(rule, CourseOfConduct):
                hits = [
                    r
                    for r in pair
                    if r.incident_type in rule.types
                    and r.reported_at >= q.reported_at - rule.window_days * day
                ]
                if len(hits) >= rule.min_count:
                    out[key] = newest(hits)
            elif isinstance(rule, RisingFrequency):
                cut = q.reported_at - rule.recent_days * day
                recent = [r for r in pair if r.reported_at >= cut]
                base = [r for r in pair if cut - rule.baseline_days * day <= r.reported_at < cut]
                if not base or len(recent) < rule.min_recent:
                    continue
                span = min(rule.baseline_days, (cut - pair[0].reported_at) / day)
                expected = len(base) * rule.recent_days / span
                if len(recent) >= rule.ratio * max(expected, 1):
                    out[key] = newest(recent)
            elif isinstance(rule, SerialPerpetrator) and known:
                first: dict[str, Any] = {}
                for r in same:
                    first.setdefault(r.victim_id, r)
                others = [r for v, r in first.items() if v != q.victim_id]
                if len(others) + 1 >= rule.min_victims:
                    out[key] = newest(sorted(others, key=lambda r: r.Index))
            elif isinstance(rule, OrderBreach) and known and extract.orders is not None:
                live = [
                    o
                    for o in extract.orders.itertuples()
                    if o.person_id == q.perpetrator_id
                    and o.start_at < q.reported_at
                    and (pd.isna(o.end_at) or o.end_at >= q.reported_at)
                ]
                for o in sorted(live, key=lambda o: -o.start_at.value):
                    before = [r for r in pair if r.reported_at < o.start_at]
                    if before:
                        out[key] = newest(before)
                        break
    return out


@SETTINGS
@given(rows=rows_strategy, orders=orders_strategy)
def test_alerts_equal_a_naive_loop(
    rows: list[dict[str, Any]], orders: list[dict[str, Any]]
) -> None:
    extract = make_extract(rows, orders=orders or None)
    assert _fired(extract) == _naive(extract, SPEC)


@SETTINGS
@given(rows=rows_strategy, orders=orders_strategy, data=st.data())
def test_no_alert_sees_the_future_and_online_equals_batch(
    rows: list[dict[str, Any]], orders: list[dict[str, Any]], data: st.DataObject
) -> None:
    extract = make_extract(rows, orders=orders or None)
    incidents = extract.incidents
    assume(not incidents.empty)
    k = data.draw(st.integers(0, len(incidents) - 1))
    query = incidents.iloc[[k]]
    t = query["reported_at"].iloc[0]
    batch = build_alerts(extract, harm_weights=HARM)
    batch = batch[batch["incident_id"] == query["incident_id"].iloc[0]].reset_index(drop=True)
    online = build_alerts(extract, query, harm_weights=HARM)
    pd.testing.assert_frame_equal(online, batch)
    # the past alone (records and orders known before t) gives the same alerts
    past_orders = None if extract.orders is None else extract.orders[extract.orders["start_at"] < t]
    past = Extract(incidents[incidents["reported_at"] < t], extract.people, past_orders)
    pd.testing.assert_frame_equal(build_alerts(past, query, harm_weights=HARM), online)
