"""Hand-computed feature values on small histories: each aggregate, ties at one
instant, empty histories, a missing perpetrator and the window edges."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from features_support import HARM, at, make_extract

from triage.config import AggregateGroup, FeatureSetSpec, load_feature_spec
from triage.contract.names import DASH_GRADES, RELATIONSHIPS
from triage.exceptions import ConfigError, SchemaError
from triage.features.build import build_features, catalogue

SPEC = load_feature_spec()


@pytest.fixture(scope="module")
def story() -> pd.Series:
    """Features of one incident (day 400, victim v1, perpetrator p1) after a history."""
    extract = make_extract(
        [
            {"day": 0, "incident_type": "common_assault", "dash_q01": True},
            {
                "day": 100,
                "incident_type": "gbh",
                "dash_grade": "high",
                "dash_q01": True,
                "dash_q02": True,
            },
            {"day": 300, "incident_type": "breach_of_order", "dash_grade": "not_completed"},
            {"day": 350, "incident_type": "stalking", "perpetrator_id": "p2"},
            {"day": 360, "incident_type": "harassment", "victim_id": "v2", "strangulation": True},
            {
                "day": 400,
                "incident_type": "non_fatal_strangulation",
                "strangulation": True,
                "dash_grade": "medium",
                "relationship": "ex_partner",
                "dash_q01": True,
                "dash_q02": False,
            },
            {"day": 401, "incident_type": "rape", "victim_id": "v1"},  # later: never seen
        ],
        people={"v1": {"birth_year": 1990, "sex": "female"}, "p1": {"birth_year": 1985}},
        orders=[
            {"person_id": "p1", "start": 50, "end": 120},
            {"person_id": "v1", "start": 390, "end": None},
            {"person_id": "p1", "start": 400, "end": None},  # same instant: not yet known
        ],
    )
    fm = build_features(extract, spec=SPEC)
    return fm.X.iloc[5]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("victim_count_all", 4),
        ("victim_count_365d", 3),
        ("victim_count_90d", 1),
        ("victim_count_30d", 0),
        ("perpetrator_count_all", 4),
        ("perpetrator_count_365d", 3),
        ("perpetrator_count_90d", 1),
        ("perpetrator_count_30d", 0),
        ("pair_count_all", 3),
        ("pair_count_365d", 2),
        ("pair_count_90d", 0),
        ("victim_crimes_all", 4),
        ("victim_serious_all", 1),
        ("perpetrator_serious_365d", 1),
        ("victim_injury_all", 1),
        ("perpetrator_strangulation_all", 1),
        ("victim_strangulation_all", 0),
        ("victim_stalking_harassment_all", 1),
        ("perpetrator_stalking_harassment_all", 1),
        ("pair_stalking_harassment_all", 0),
        ("pair_breaches_all", 1),
        ("victim_weapon_all", 0),
        ("victim_harm_sum_all", 1620.0),
        ("victim_harm_sum_365d", 1610.0),
        ("victim_harm_max_all", 1460.0),
        ("victim_harm_max_90d", 120.0),
        ("perpetrator_distinct_victims_all", 2),
        ("perpetrator_distinct_victims_365d", 2),
        ("victim_distinct_perpetrators_all", 2),
        ("victim_distinct_perpetrators_365d", 2),
        ("victim_days_since_last", 50.0),
        ("perpetrator_days_since_last", 40.0),
        ("pair_days_since_last", 100.0),
        ("pair_days_since_last_serious", 300.0),
        ("pair_dash_last_grade", 3.0),
        ("pair_dash_last_ticks", 2.0),
        ("pair_dash_highest_grade_all", 3.0),
        ("pair_dash_high_all", 1),
        ("pair_harm_trend_365d", 30.0 - 1460.0),
        ("perpetrator_harm_trend_90d", 10.0),
        ("perpetrator_orders_all", 1.0),
        ("perpetrator_orders_365d", 1.0),
        ("perpetrator_order_active", 0.0),
        ("victim_order_active", 1.0),
        ("victim_orders_365d", 1.0),
        ("harm_weight", 365.0),
        ("strangulation", 1),
        ("injury", 0),
        ("dash_ticks", 1),
        ("dash_q01", 1.0),
        ("dash_q02", 0.0),
        ("victim_age", 31.0),
        ("perpetrator_age", 36.0),
        ("perpetrator_known", 1),
    ],
)
def test_each_aggregate_matches_a_hand_count(story: pd.Series, name: str, expected: float) -> None:
    assert story[name] == expected


def test_unanswered_dash_questions_and_categories_read_as_given(story: pd.Series) -> None:
    assert math.isnan(story["dash_q03"])
    assert story["incident_type"] == "non_fatal_strangulation"
    assert story["dash_grade"] == "medium"
    assert story["relationship"] == "ex_partner"


def test_empty_history_gives_zero_counts_and_missing_recency() -> None:
    fm = build_features(make_extract([{"day": 0}]), spec=SPEC)
    row = fm.X.iloc[0]
    assert row["victim_count_all"] == 0
    assert row["perpetrator_harm_max_all"] == 0.0
    assert math.isnan(row["victim_days_since_last"])
    assert math.isnan(row["pair_dash_last_grade"])
    assert math.isnan(row["victim_dash_highest_grade_all"])
    assert math.isnan(row["victim_orders_all"])  # no orders table: unknown, not zero


def test_incidents_at_the_same_instant_never_see_each_other() -> None:
    fm = build_features(make_extract([{"day": 5}, {"day": 5}, {"day": 5.5}]), spec=SPEC)
    assert fm.X["pair_count_all"].tolist() == [0, 0, 2]


def test_window_includes_its_start_and_excludes_the_incident_instant() -> None:
    t = at(100)
    rows = [
        {"reported_at": t - pd.Timedelta(days=30)},  # exactly 30 days: inside [t-30d, t)
        {"reported_at": t - pd.Timedelta(days=30, microseconds=1)},  # just outside
        {"reported_at": t - pd.Timedelta(microseconds=1)},  # just before: inside
        {"reported_at": t},  # the query itself
        {"reported_at": t, "incident_id": "same_instant"},  # same instant: excluded
    ]
    fm = build_features(make_extract(rows), spec=SPEC)
    query = fm.X.iloc[int(np.flatnonzero(fm.ids["incident_id"] == "i0003")[0])]
    assert query["pair_count_30d"] == 2
    assert query["pair_count_90d"] == 3


def test_missing_perpetrator_matches_no_history_through_the_missing_id() -> None:
    extract = make_extract(
        [
            {"day": 0, "perpetrator_id": None},
            {"day": 1, "perpetrator_id": None},
            {"day": 2, "perpetrator_id": "p1"},
            {"day": 3, "perpetrator_id": "p1"},
        ]
    )
    X = build_features(extract, spec=SPEC).X
    assert X["victim_count_all"].tolist() == [0, 1, 2, 3]
    assert X["perpetrator_count_all"].tolist() == [0, 0, 0, 1]
    assert X["pair_count_all"].tolist() == [0, 0, 0, 1]
    assert X["perpetrator_known"].tolist() == [0, 0, 1, 1]
    assert X["victim_distinct_perpetrators_all"].tolist() == [0, 0, 0, 1]
    assert math.isnan(X["perpetrator_days_since_last"].iloc[1])


def test_roles_are_matched_separately() -> None:
    # p1 is a perpetrator first and a victim later: the two histories stay apart.
    extract = make_extract([{"day": 0}, {"day": 1, "victim_id": "p1", "perpetrator_id": "v1"}])
    X = build_features(extract, spec=SPEC).X
    assert X["victim_count_all"].tolist() == [0, 0]
    assert X["perpetrator_count_all"].tolist() == [0, 0]


def test_categorical_features_use_the_fixed_category_lists() -> None:
    fm = build_features(make_extract([{"day": 0}]), spec=SPEC)
    (info,) = [f for f in catalogue(SPEC) if f.name == "incident_type"]
    assert info.categories == tuple(HARM.names)
    assert tuple(fm.X["incident_type"].cat.categories) == tuple(HARM.names)
    assert tuple(fm.X["relationship"].cat.categories) == RELATIONSHIPS
    assert tuple(fm.X["dash_grade"].cat.categories) == DASH_GRADES


def test_protected_attributes_are_audit_only_unless_opted_in() -> None:
    extract = make_extract([{"day": 0, "deprivation_decile": 3}], people={"v1": {"sex": "female"}})
    fm = build_features(extract, spec=SPEC)
    assert "victim_sex" not in fm.X
    assert "deprivation_decile" not in fm.X
    assert fm.audit["victim_sex"].tolist() == ["female"]
    assert fm.audit["deprivation_decile"].tolist() == [3]
    opted = SPEC.model_copy(update={"protected_as_features": ("victim_sex", "deprivation_decile")})
    X = build_features(extract, spec=opted).X
    assert X["victim_sex"].tolist() == ["female"]
    assert X["deprivation_decile"].tolist() == [3.0]
    unknown = make_extract([{"day": 0}, {"day": 1, "victim_id": "v9"}])
    people = unknown.people[unknown.people["person_id"] != "v1"].reset_index(drop=True)
    unknown = type(unknown)(unknown.incidents, people, None)
    X = build_features(unknown, spec=opted).X
    assert math.isnan(X["deprivation_decile"].iloc[0])
    assert pd.isna(X["victim_sex"].iloc[0])
    assert list(X["victim_sex"].cat.categories) == ["female", "male", "other", "unknown"]


def test_query_of_an_unknown_incident_type_is_refused() -> None:
    extract = make_extract([{"day": 0}])
    query = extract.incidents.astype({"incident_type": object})
    query.loc[0, "incident_type"] = "burglary"
    with pytest.raises(ConfigError, match="burglary"):
        build_features(extract, queries=query, spec=SPEC)


def test_query_without_key_columns_is_refused() -> None:
    extract = make_extract([{"day": 0}])
    with pytest.raises(SchemaError, match="victim_id"):
        build_features(extract, queries=extract.incidents.drop(columns="victim_id"), spec=SPEC)


def test_a_small_spec_builds_only_what_it_names() -> None:
    spec = FeatureSetSpec(
        name="tiny",
        history=(AggregateGroup(entities=("perpetrator",), windows=(90,), aggregates=("count",)),),
        incident=("harm_weight",),
    )
    fm = build_features(make_extract([{"day": 0}, {"day": 1}]), spec=spec)
    assert list(fm.X.columns) == ["harm_weight", "perpetrator_count_90d"]
    assert fm.X["perpetrator_count_90d"].tolist() == [0, 1]
    assert fm.spec_fingerprint == spec.fingerprint()
