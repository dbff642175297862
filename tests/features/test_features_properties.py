"""Properties of point-in-time features on random small histories (hypothesis)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from features_support import HARM, make_extract, reference_history
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triage.config import load_feature_spec
from triage.contract.names import DASH_GRADES, Extract
from triage.features.build import FeatureMatrix, build_features, catalogue

SPEC = load_feature_spec()
HISTORY_INFOS = [f for f in catalogue(SPEC) if f.entity != "incident"]
# Days chosen so that gaps of exactly 30, 45, 90, 182.5 and 365 days (window and
# half-window edges) and ties at one instant all occur often.
DAYS = [0, 0.5, 10, 30, 40, 45, 60, 90, 100, 120, 135, 182.5, 200, 365, 395, 400, 455, 547.5]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

incident_rows = st.fixed_dictionaries(
    {
        "day": st.sampled_from(DAYS),
        "victim_id": st.sampled_from(["v1", "v2", "p1"]),
        "perpetrator_id": st.sampled_from(["p1", "p2", None]),
        "incident_type": st.sampled_from(HARM.names),
        "injury": st.booleans(),
        "strangulation": st.booleans(),
        "weapon": st.booleans(),
        "dash_grade": st.sampled_from(DASH_GRADES),
        "dash_q01": st.sampled_from([True, False, None]),
        "dash_q18": st.sampled_from([True, False, None]),
    }
)
order_rows = st.fixed_dictionaries(
    {
        "person_id": st.sampled_from(["v1", "p1", "p2"]),
        "start": st.sampled_from(DAYS),
        "length": st.one_of(st.none(), st.sampled_from([0, 10, 45, 400])),
    }
).map(
    lambda o: {
        "person_id": o["person_id"],
        "start": o["start"],
        "end": None if o["length"] is None else o["start"] + o["length"],
    }
)


@st.composite
def extracts(draw: st.DrawFn, min_size: int = 0) -> Extract:
    rows = draw(st.lists(incident_rows, min_size=min_size, max_size=18))
    orders = draw(st.one_of(st.none(), st.lists(order_rows, max_size=4)))
    return make_extract(rows, orders=orders)


def _row(fm: FeatureMatrix, incident_id: str) -> pd.DataFrame:
    at = int(np.flatnonzero(fm.ids["incident_id"].to_numpy() == incident_id)[0])
    return fm.X.iloc[[at]].reset_index(drop=True)


@SETTINGS
@given(extract=extracts())
def test_vectorised_history_features_equal_a_naive_loop(extract: Extract) -> None:
    fm = build_features(extract, spec=SPEC, harm_weights=HARM)
    expected = reference_history(extract, extract.incidents, HISTORY_INFOS)
    got = fm.X[[f.name for f in HISTORY_INFOS]].astype(float)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)


@SETTINGS
@given(extract=extracts(min_size=1), data=st.data())
def test_features_ignore_every_record_reported_at_or_after_the_incident(
    extract: Extract, data: st.DataObject
) -> None:
    incidents = extract.incidents
    k = data.draw(st.integers(0, len(incidents) - 1), label="incident")
    target = incidents.iloc[k]
    before = build_features(extract, spec=SPEC, harm_weights=HARM)
    future = (incidents["reported_at"] >= target["reported_at"]).to_numpy()
    future[k] = False
    changed = incidents.copy()
    for j in np.flatnonzero(future):
        changed.loc[j, "incident_type"] = data.draw(st.sampled_from(HARM.names))
        changed.loc[j, "victim_id"] = data.draw(st.sampled_from(["v1", "v2", "p2"]))
        changed.loc[j, "perpetrator_id"] = data.draw(st.sampled_from(["p1", "v1", None]))
        changed.loc[j, "dash_grade"] = data.draw(st.sampled_from(DASH_GRADES))
        changed.loc[j, "injury"] = data.draw(st.booleans())
    deleted = np.array(
        data.draw(st.lists(st.booleans(), min_size=len(changed), max_size=len(changed)))
    )
    kept = changed[~(future & deleted)].reset_index(drop=True)
    orders = extract.orders
    if orders is not None:
        orders = orders[orders["start_at"] < target["reported_at"]].reset_index(drop=True)
    after = build_features(Extract(kept, extract.people, orders), spec=SPEC, harm_weights=HARM)
    pd.testing.assert_frame_equal(
        _row(after, target["incident_id"]), _row(before, target["incident_id"]), check_exact=True
    )


@SETTINGS
@given(extract=extracts(min_size=1), data=st.data())
def test_online_features_equal_batch_features_bit_for_bit(
    extract: Extract, data: st.DataObject
) -> None:
    incidents = extract.incidents
    batch = build_features(extract, spec=SPEC, harm_weights=HARM)
    picked = data.draw(
        st.lists(st.integers(0, len(incidents) - 1), min_size=1, max_size=4, unique=True)
    )
    queries = incidents.iloc[picked]
    online = build_features(extract, queries=queries, spec=SPEC, threads=1, harm_weights=HARM)
    expected = batch.X.iloc[picked].reset_index(drop=True)
    pd.testing.assert_frame_equal(online.X, expected, check_exact=True)
    pd.testing.assert_frame_equal(online.audit, batch.audit.iloc[picked].reset_index(drop=True))

    # One new incident scored before it was stored: the history lacks it entirely,
    # and the query arrives as plain strings rather than normalised categories.
    k = picked[0]
    without = Extract(
        incidents.drop(index=k).reset_index(drop=True), extract.people, extract.orders
    )
    raw = incidents.iloc[[k]].astype(object)
    alone = build_features(without, queries=raw, spec=SPEC, harm_weights=HARM)
    pd.testing.assert_frame_equal(
        alone.X, batch.X.iloc[[k]].reset_index(drop=True), check_exact=True
    )


@pytest.mark.parametrize("threads", [1, 3])
def test_thread_count_changes_nothing(threads: int) -> None:
    rows: list[dict[str, Any]] = [
        {"day": d, "victim_id": f"v{d % 3}", "perpetrator_id": f"p{d % 2}"} for d in range(40)
    ]
    extract = make_extract(rows)
    one = build_features(extract, spec=SPEC, threads=1, harm_weights=HARM)
    many = build_features(extract, spec=SPEC, threads=threads, harm_weights=HARM)
    pd.testing.assert_frame_equal(one.X, many.X, check_exact=True)
