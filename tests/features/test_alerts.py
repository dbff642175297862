"""Course-of-conduct alerts: known answers on hand-made histories, a naive loop as
reference on random ones, no alert that sees the future, and batch equal to online."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from features_support import HARM, make_extract
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from synth_support import small_world

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


ORDER_NAMES = {
    "dvpn": "Domestic Violence Protection Notice",
    "dvpo": "Domestic Violence Protection Order",
    "non_molestation": "non-molestation order",
    "restraining": "restraining order",
    "stalking_protection": "Stalking Protection Order",
    "bail_conditions": "bail conditions",
}


def _naive(extract: Extract, spec: AlertSpec) -> pd.DataFrame:
    """The alerts one incident at a time, straight from the rules' wording: the oracle
    the array engine must equal row for row, text and evidence included."""
    inc = extract.incidents.reset_index(drop=True)
    day = pd.Timedelta(days=1)
    out: list[tuple[Any, ...]] = []
    for q in inc.itertuples():
        earlier = [r for r in inc.itertuples() if r.reported_at < q.reported_at]
        known = not pd.isna(q.perpetrator_id)
        same = [r for r in earlier if known and not pd.isna(r.perpetrator_id)]
        same = [r for r in same if r.perpetrator_id == q.perpetrator_id]
        pair = [r for r in same if not pd.isna(q.victim_id) and r.victim_id == q.victim_id]
        newest = lambda rs: tuple(r.incident_id for r in rs[::-1])[:20]  # noqa: E731
        for rule in spec.alerts:
            found = _naive_rule(rule, q, pair, same, extract.orders, day)
            if found is not None:
                text, evidence = found
                out.append(
                    (q.incident_id, rule.name, rule.title, text, rule.action, newest(evidence))
                )
    return pd.DataFrame(out, columns=list(ALERT_COLUMNS))


def _naive_rule(
    rule: Any, q: Any, pair: list[Any], same: list[Any], orders: Any, day: pd.Timedelta
) -> tuple[str, list[Any]] | None:
    if isinstance(rule, CourseOfConduct):
        since = q.reported_at - rule.window_days * day
        hits = [r for r in pair if r.incident_type in rule.types and r.reported_at >= since]
        if len(hits) < rule.min_count:
            return None
        kinds = ", ".join(sorted({r.incident_type.replace("_", " ") for r in hits}))
        text = (
            f"{len(hits)} incidents ({kinds}) by this perpetrator against this victim in the "
            f"last {rule.window_days} days"
        )
        return text + (", after the relationship ended" * (q.relationship == "ex_partner")), hits
    if isinstance(rule, RisingFrequency):
        cut = q.reported_at - rule.recent_days * day
        recent = [r for r in pair if r.reported_at >= cut]
        base = [r for r in pair if cut - rule.baseline_days * day <= r.reported_at < cut]
        if not base or len(recent) < rule.min_recent:
            return None
        span = min(rule.baseline_days, (cut - pair[0].reported_at) / day)
        expected = len(base) * rule.recent_days / span
        if len(recent) < rule.ratio * max(expected, 1):
            return None
        text = (
            f"{len(recent)} incidents of this pair in the last {rule.recent_days} days, "
            f"against about {expected:.1f} at their earlier rate"
        )
        return text, recent
    if isinstance(rule, SerialPerpetrator) and same:
        first: dict[str, Any] = {}
        for r in same:
            first.setdefault(r.victim_id, r)
        others = sorted((r for v, r in first.items() if v != q.victim_id), key=lambda r: r.Index)
        if len(others) + 1 < rule.min_victims:
            return None
        return f"this perpetrator has {len(others)} other victim(s) on record", others
    if isinstance(rule, OrderBreach) and same and orders is not None:
        live = [
            o
            for o in orders.itertuples()
            if o.person_id == q.perpetrator_id
            and o.start_at < q.reported_at
            and (pd.isna(o.end_at) or o.end_at >= q.reported_at)
        ]
        for o in sorted(live, key=lambda o: -o.start_at.value):
            before = [r for r in pair if r.reported_at < o.start_at]
            if before:
                until = "" if pd.isna(o.end_at) else f", until {o.end_at:%d %b %Y}"
                since = f"{o.start_at:%d %b %Y}{until}"
                return (
                    f"a {ORDER_NAMES[o.order_type]} on the perpetrator in force since {since}",
                    before,
                )
    return None


@SETTINGS
@given(rows=rows_strategy, orders=orders_strategy)
def test_alerts_equal_a_naive_loop(
    rows: list[dict[str, Any]], orders: list[dict[str, Any]]
) -> None:
    extract = make_extract(rows, orders=orders or None)
    pd.testing.assert_frame_equal(build_alerts(extract, harm_weights=HARM), _naive(extract, SPEC))


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


# --- orders: many, overlapping, tied, open-ended, against the oracle ------------------

order_rows = st.lists(
    st.fixed_dictionaries(
        {
            "day": st.sampled_from(DAYS),
            "victim_id": st.sampled_from(["v1", "v2"]),
            "perpetrator_id": st.sampled_from(["p1", "p2", None]),
        }
    ),
    max_size=30,
)
many_orders = st.lists(
    st.fixed_dictionaries(
        {
            "person_id": st.sampled_from(["p1", "p2", "p3"]),
            "order_type": st.sampled_from(sorted(ORDER_NAMES)),
            "start": st.sampled_from(DAYS),
            "length": st.one_of(st.none(), st.sampled_from([0, 0.5, 30, 90, 400])),
        }
    ).map(lambda o: {**o, "end": None if o["length"] is None else o["start"] + o["length"]}),
    min_size=1,
    max_size=8,
)


@SETTINGS
@given(rows=order_rows, orders=many_orders)
def test_order_breach_equals_the_oracle_with_many_orders(
    rows: list[dict[str, Any]], orders: list[dict[str, Any]]
) -> None:
    spec = AlertSpec(alerts=(RULES["order_breach"],))
    extract = make_extract(rows, orders=orders)
    found = build_alerts(extract, spec=spec, harm_weights=HARM)
    pd.testing.assert_frame_equal(found, _naive(extract, spec))


def test_the_engine_equals_the_oracle_on_a_slice_of_a_synthetic_county() -> None:
    """Every incident and order of some 60 perpetrators of the small synthetic county
    (real orders, separations, repeat victims): ten on whom each rule fired over the
    whole county, and twenty drawn at random."""
    extract = small_world().extract
    assert extract.orders is not None
    inc = extract.incidents
    perp = dict(zip(inc["incident_id"], inc["perpetrator_id"], strict=True))
    county = build_alerts(extract, harm_weights=HARM)
    rng = np.random.default_rng(0)
    chosen = set(rng.choice(inc["perpetrator_id"].dropna().unique(), 20, replace=False))
    for _, fired in county.groupby("rule"):
        chosen |= {perp[i] for i in fired["incident_id"].iloc[:: max(len(fired) // 10, 1)]}
    sliced = Extract(
        inc[inc["perpetrator_id"].isin(chosen)].reset_index(drop=True),
        extract.people,
        extract.orders[extract.orders["person_id"].isin(chosen)].reset_index(drop=True),
    )
    found = build_alerts(sliced, harm_weights=HARM)
    assert set(found["rule"]) == {r.name for r in SPEC.alerts}  # every rule has answers
    assert len(found) > 50
    pd.testing.assert_frame_equal(found, _naive(sliced, SPEC))


def test_of_orders_made_at_the_same_instant_the_first_listed_is_named() -> None:
    rows = [{"day": 1}, {"day": 60}]
    orders = [
        {"person_id": "p1", "start": 2, "end": 10, "order_type": "dvpn"},  # ended before
        {"person_id": "p1", "start": 5, "end": 90, "order_type": "restraining"},
        {"person_id": "p1", "start": 5, "end": None, "order_type": "dvpo"},
        {"person_id": "p1", "start": 3, "end": None, "order_type": "non_molestation"},
    ]
    spec = AlertSpec(alerts=(RULES["order_breach"],))
    found = build_alerts(make_extract(rows, orders=orders), spec=spec, harm_weights=HARM)
    assert found["summary"].tolist() == [
        "a restraining order on the perpetrator in force since 06 Jan 2020, until 31 Mar 2020"
    ]
    reordered = make_extract(rows, orders=[orders[0], orders[2], orders[1], orders[3]])
    found = build_alerts(reordered, spec=spec, harm_weights=HARM)
    assert found["summary"].tolist() == [
        "a Domestic Violence Protection Order on the perpetrator in force since 06 Jan 2020"
    ]
