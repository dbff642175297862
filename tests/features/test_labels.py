"""Escalation labels: window edges, censoring, matching, and properties."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from features_support import HARM, at, make_extract, reference_labels
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from triage.config import LabelSpec, load_model_spec
from triage.contract.names import Extract
from triage.exceptions import ConfigError
from triage.features.labels import build_labels, label_summary, qualifying_types

MODEL = load_model_spec()
SERIOUS = next(lab for lab in MODEL.labels if lab.name == "serious_harm_365d")
REPEAT = next(lab for lab in MODEL.labels if lab.name == "any_repeat_90d")
SHORT = LabelSpec(name="short", window_days=10, match=("victim", "perpetrator"), types="serious")


def _labels(rows: list[dict[str, object]], spec: LabelSpec, **kw: object) -> list[object]:
    frame = build_labels(make_extract(rows), spec, **kw)  # type: ignore[arg-type]
    return [None if pd.isna(v) else bool(v) for v in frame[spec.name]]


def test_shipped_spec_defines_both_labels_and_predicts_serious_harm() -> None:
    assert MODEL.target == SERIOUS
    assert (SERIOUS.window_days, SERIOUS.match, SERIOUS.types) == (
        365,
        ("victim", "perpetrator"),
        "serious",
    )
    assert (REPEAT.window_days, REPEAT.match, REPEAT.types) == (90, ("pair",), "any")


def test_window_is_open_at_the_incident_and_closed_at_its_end() -> None:
    rows = [
        {"day": 0},
        {"day": 0, "incident_type": "gbh"},  # same instant: never counts
        {"day": 10, "incident_type": "gbh"},  # exactly t + 10 days: counts for day 0
        {"day": 20.5, "incident_type": "rape"},  # 10.5 days after day 10: outside
        {"day": 40},
    ]
    assert _labels(rows, SHORT) == [True, True, False, False, None]


def test_the_incident_itself_never_counts() -> None:
    assert _labels([{"day": 0, "incident_type": "rape"}, {"day": 30}], SHORT) == [False, None]


def test_labels_whose_window_passes_the_end_are_missing_not_negative() -> None:
    rows = [{"day": 0}, {"day": 5}, {"day": 11}]
    assert _labels(rows, SHORT) == [False, None, None]
    assert _labels(rows, SHORT, end=at(15)) == [False, False, None]
    assert _labels(rows, SHORT, end="2020-01-11") == [False, None, None]
    assert _labels(rows, SHORT, end=at(5)) == [None, None, None]


def test_records_after_an_explicit_end_are_ignored() -> None:
    rows = [{"day": 0}, {"day": 8, "incident_type": "gbh"}]
    assert _labels(rows, SHORT, end=at(10)) == [True, None]
    assert _labels(rows, SHORT, end=at(7.9)) == [None, None]


def test_matching_is_by_victim_perpetrator_or_pair_as_specified() -> None:
    rows = [
        {"day": 0, "victim_id": "v1", "perpetrator_id": "p1"},
        {"day": 1, "victim_id": "v2", "perpetrator_id": "p1", "incident_type": "gbh"},
        {"day": 30, "victim_id": "v9", "perpetrator_id": "p9"},
    ]
    by_victim = SHORT.model_copy(update={"match": ("victim",)})
    by_perp = SHORT.model_copy(update={"match": ("perpetrator",)})
    by_pair = SHORT.model_copy(update={"match": ("pair",), "types": "any"})
    assert _labels(rows, by_victim)[0] is False
    assert _labels(rows, by_perp)[0] is True
    assert _labels(rows, by_pair)[0] is False


def test_missing_perpetrator_cannot_match_through_the_missing_id() -> None:
    rows = [
        {"day": 0, "victim_id": "v1", "perpetrator_id": None},
        {"day": 1, "victim_id": "v2", "perpetrator_id": None, "incident_type": "gbh"},
        {"day": 2, "victim_id": "v3", "perpetrator_id": None},
        {"day": 30},
    ]
    by_perp = SHORT.model_copy(update={"match": ("perpetrator", "pair")})
    assert _labels(rows, by_perp)[:3] == [False, False, False]


def test_explicit_type_lists_and_unknown_types() -> None:
    spec = SHORT.model_copy(update={"types": ("stalking",)})
    assert _labels([{"day": 0}, {"day": 1, "incident_type": "stalking"}, {"day": 20}], spec)[0]
    assert qualifying_types(REPEAT, HARM) == frozenset(HARM.names)
    with pytest.raises(ConfigError, match="burglary"):
        qualifying_types(SHORT.model_copy(update={"types": ("burglary",)}), HARM)


def test_summary_counts_rate_among_observed_labels_only() -> None:
    frame = build_labels(
        make_extract([{"day": 0}, {"day": 1, "incident_type": "gbh"}, {"day": 11}, {"day": 12}]),
        SHORT,
    )
    assert label_summary(frame, "short") == {
        "rows": 4,
        "observed": 2,
        "positives": 1,
        "censored": 2,
        "rate": 0.5,
    }


def test_empty_extract_gives_an_empty_frame_with_every_label_column() -> None:
    frame = build_labels(make_extract([]), MODEL.labels)
    assert list(frame.columns) == [
        "incident_id",
        "reported_at",
        "serious_harm_365d",
        "any_repeat_90d",
    ]
    assert frame.empty


def test_model_spec_errors_name_what_is_wrong(tmp_path: Path) -> None:
    bad = tmp_path / "model.yaml"
    bad.write_text("label: nope\nlabels:\n  - {name: a, window_days: 5, match: [victim]}\n")
    with pytest.raises(ConfigError, match="nope"):
        load_model_spec(bad)
    bad.write_text("label: a\nlabels:\n  - {name: a, window_days: 5, match: [victim], types: []}\n")
    with pytest.raises(ConfigError, match="at least one incident type"):
        load_model_spec(bad)


DAYS = [0, 0.5, 10, 30, 90, 90.5, 100, 180, 365, 366, 400, 455, 730]
rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "day": st.sampled_from(DAYS),
            "victim_id": st.sampled_from(["v1", "v2", "p1"]),
            "perpetrator_id": st.sampled_from(["p1", "p2", None]),
            "incident_type": st.sampled_from(HARM.names),
        }
    ),
    max_size=16,
)
LABEL_SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@LABEL_SETTINGS
@given(rows=rows_strategy, end_day=st.one_of(st.none(), st.sampled_from(DAYS)))
def test_labels_equal_a_naive_loop_and_censored_ones_are_missing(
    rows: list[dict[str, object]], end_day: float | None
) -> None:
    extract = make_extract(rows)
    end = None if end_day is None else at(end_day)
    frame = build_labels(extract, MODEL.labels, end=end)
    for spec in MODEL.labels:
        got = [None if pd.isna(v) else bool(v) for v in frame[spec.name]]
        assert got == reference_labels(extract, spec, end)
        last = extract.end if end is None else end
        horizon = frame["reported_at"] + pd.Timedelta(days=spec.window_days)
        assert (frame[spec.name].isna().to_numpy() == (horizon > last).to_numpy()).all()


@LABEL_SETTINGS
@given(rows=rows_strategy, data=st.data())
def test_a_label_never_reads_a_record_outside_its_window(
    rows: list[dict[str, object]], data: st.DataObject
) -> None:
    extract = make_extract([*rows, {"day": 2000}])  # the end lies past every window
    incidents = extract.incidents
    assume(len(incidents) >= 2)
    k = data.draw(st.integers(0, len(incidents) - 2))
    t = incidents["reported_at"].iloc[k]
    before = build_labels(extract, MODEL.labels)
    for spec in MODEL.labels:
        outside = (
            (incidents["reported_at"] <= t)
            | (incidents["reported_at"] > t + pd.Timedelta(days=spec.window_days))
        ).to_numpy()
        outside[k] = False
        outside[-1] = False  # keep the end where it is
        changed = incidents.copy()
        for j in np.flatnonzero(outside):
            changed.loc[j, "incident_type"] = data.draw(st.sampled_from(HARM.names))
            changed.loc[j, "perpetrator_id"] = data.draw(st.sampled_from(["p1", "p2", None]))
        after = build_labels(Extract(changed, extract.people), spec)
        assert after[spec.name].iloc[k] == before[spec.name].iloc[k]
