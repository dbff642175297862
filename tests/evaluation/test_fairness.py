"""The fairness audit on small frames whose answers we know by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from triage.evaluation._audit_spec import AuditSpec
from triage.evaluation._bootstrap import Grouping, Outcomes, group_metrics
from triage.evaluation._fairness_result import (
    FLAGGED,
    NOT_JUDGED,
    REFERENCE,
    TOO_SMALL,
    UNCERTAIN,
    WITHIN,
)
from triage.evaluation._groups import daily_top_k, group_codes
from triage.evaluation._judge import status
from triage.evaluation.fairness import (
    FairnessReport,
    audit_fairness,
    load_audit_spec,
    metric_frame,
    with_audit_attributes,
)
from triage.evaluation.fairness_report import plain_summary
from triage.evaluation.metrics import capacity_weights
from triage.exceptions import ConfigError, SchemaError

DAY = pd.Timestamp("2024-03-01 09:00", tz="UTC")


def _spec(**update: object) -> AuditSpec:
    base: dict[str, object] = {
        "attributes": [{"name": "victim_ethnicity", "tests": ["fnr"], "report": ["fpr"]}],
        "thresholds": {"enabled": False},
        "bootstrap": {"resamples": 50, "seed": 1},
    }
    base.update(update)
    return AuditSpec.model_validate(base)


def _frame(**columns: object) -> pd.DataFrame:
    frame = pd.DataFrame(columns)
    n = len(frame)
    defaults: dict[str, list[Any]] = {
        "reported_at": [DAY] * n,
        "victim_sex": ["female"] * n,
        "victim_age": [30.0] * n,
        "perpetrator_ethnicity": ["white"] * n,
        "deprivation_decile": [5] * n,
    }
    for name, values in defaults.items():
        if name not in frame:
            frame[name] = values
    return frame


def tiny_frame() -> pd.DataFrame:
    """Group white: y 1 1 0 0 0, group black: y 1 0 0 1 (scores chosen by hand)."""
    return _frame(
        victim_ethnicity=["white"] * 5 + ["black"] * 4,
        y=[1, 1, 0, 0, 0, 1, 0, 0, 1],
        score=[0.9, 0.2, 0.8, 0.1, 0.3, 0.6, 0.7, 0.4, 0.55],
    )


def test_group_metrics_match_hand_computed_values() -> None:
    spec = _spec(
        min_group={"n": 1, "positives": 1},
        operating_point={"capacity": 2, "threshold": 0.5},
    )
    report = audit_fairness(tiny_frame(), spec)
    groups = {g.group: g for g in report.attributes[0].groups}
    white, black = groups["white"], groups["black"]
    # threshold 0.5 flags white: 0.9, 0.8 and black: 0.6, 0.7, 0.55
    assert (white.n, white.positives, black.n, black.positives) == (5, 2, 4, 2)
    assert white.base_rate == pytest.approx(0.4)
    assert white.mean_score == pytest.approx(2.3 / 5)
    assert white.selection_rate == pytest.approx(0.4)
    assert white.fnr == pytest.approx(0.5)
    assert white.fpr == pytest.approx(1 / 3)
    assert white.precision == pytest.approx(0.5)
    assert white.fdr == pytest.approx(0.5)
    assert white.calibration == pytest.approx((2.3 / 5) / 0.4)
    assert white.auc == pytest.approx(4 / 6)
    assert black.selection_rate == pytest.approx(0.75)
    assert black.fnr == 0.0
    assert black.fpr == pytest.approx(0.5)
    assert black.precision == pytest.approx(2 / 3)
    assert black.calibration == pytest.approx(0.5625 / 0.5)
    assert black.auc == pytest.approx(0.5)
    # the day's two highest scores (0.9 and 0.8) are both white; one escalated
    assert white.capacity_recall == pytest.approx(0.5)
    assert black.capacity_recall == 0.0
    assert report.operating_point.rule == "threshold"
    fpr = next(
        d for d in report.attributes[0].disparities if d.metric == "fpr" and d.group == "black"
    )
    assert fpr.ratio == pytest.approx(0.5 / (1 / 3))


def test_default_operating_point_is_each_days_top_k() -> None:
    frame = tiny_frame()
    frame.loc[5:, "reported_at"] = DAY + pd.Timedelta(days=1)
    report = audit_fairness(
        frame, _spec(min_group={"n": 1, "positives": 1}, operating_point={"capacity": 1})
    )
    op = report.operating_point
    assert (op.rule, op.days, op.capacity) == ("daily_top_k", 2, 1)
    groups = {g.group: g for g in report.attributes[0].groups}
    assert groups["white"].selection_rate == pytest.approx(1 / 5)  # 0.9 on day one
    assert groups["black"].selection_rate == pytest.approx(1 / 4)  # 0.7 on day two


def test_daily_top_k_shares_ties_at_the_cut_and_ranks_within_split() -> None:
    times = pd.Series([DAY, DAY, DAY, DAY, DAY + pd.Timedelta(hours=30)])
    score = np.array([0.9, 0.5, 0.5, 0.4, 0.1])
    assert daily_top_k(times, score, 2).tolist() == [1.0, 0.5, 0.5, 0.0, 1.0]
    split = pd.Series([1, 2, 2, 2, 2])
    assert daily_top_k(times, score, 1, split).tolist() == [1.0, 0.5, 0.5, 0.0, 1.0]
    assert daily_top_k(times, score, 3, split).tolist() == [1.0, 1.0, 1.0, 1.0, 1.0]


def test_daily_top_k_agrees_with_the_evaluations_capacity_weights() -> None:
    rng = np.random.default_rng(5)
    times = pd.Series(DAY + pd.to_timedelta(rng.integers(0, 20 * 86_400, 2000), unit="s"))
    score = np.round(rng.random(2000), 2)  # many ties, as isotonic calibration makes
    days = times.dt.floor("D").dt.strftime("%Y-%m-%d").to_numpy()
    np.testing.assert_allclose(daily_top_k(times, score, 10), capacity_weights(days, score, 10))


def test_engine_reproduces_metricframe_for_every_metric_and_group() -> None:
    rng = np.random.default_rng(3)
    n = 3000
    score = np.round(rng.random(n), 2)  # ties, to exercise AUC's half credit
    y = rng.random(n) < score * 0.5
    flag = np.where(score > 0.6, 1.0, np.where(score == 0.6, 0.25, 0.0))  # part-reviewed ties
    top_k = (score > 0.5).astype(np.float64)
    codes = rng.integers(0, 5, n)
    codes[:4] = 5  # a group with no escalations: undefined metrics stay NaN
    y[:4] = False
    outcomes = Outcomes(y, flag, top_k, score)
    ours = group_metrics(Grouping(codes, 6, outcomes), outcomes)
    frame = metric_frame(y, flag, pd.Series(codes, name="g"), score=score, top_k=top_k).by_group
    assert set(frame.columns) <= set(ours)
    for metric in frame.columns:
        np.testing.assert_allclose(
            ours[metric], frame[metric].to_numpy(dtype=float), rtol=1e-12, err_msg=metric
        )


def test_groupings_band_ages_quintiles_and_missing_values() -> None:
    audit = pd.DataFrame(
        {
            "victim_age": [19.0, 25.0, 34.9, 60.0, np.nan],
            "deprivation_decile": pd.array([1, 2, 3, 10, None], dtype="Int64"),
            "victim_sex": ["female", "male", "female", None, "female"],
            "victim_ethnicity": ["white", "black", "black", "asian", "white"],
        }
    )
    codes, names = group_codes(audit, "victim_age_band", (25, 35, 45, 55))
    assert [names[c] for c in codes] == ["<25", "25-34", "25-34", "55+", "not recorded"]
    codes, names = group_codes(audit, "deprivation_quintile", (25,))
    assert [names[c] for c in codes] == ["1", "1", "2", "5", "not recorded"]
    codes, names = group_codes(audit, "victim_sex_ethnicity", (25,))
    assert [names[c] for c in codes] == [
        "female/white",
        "male/black",
        "female/black",
        "not recorded/asian",
        "female/white",
    ]


@pytest.mark.parametrize(
    ("ratio", "low", "high", "judgeable", "expected"),
    [
        (0.5, 0.4, 0.7, True, FLAGGED),  # wholly below 0.8
        (1.6, 1.3, 1.9, True, FLAGGED),  # wholly above 1.25
        (0.7, 0.5, 0.85, True, UNCERTAIN),  # straddles 0.8
        (1.3, 1.1, 1.5, True, UNCERTAIN),  # straddles 1.25
        (1.0, 0.85, 1.2, True, WITHIN),
        (0.1, 0.0, 0.2, False, TOO_SMALL),  # far outside, but too small to judge
    ],
)
def test_status_flags_only_intervals_wholly_outside_the_band(
    ratio: float, low: float, high: float, judgeable: bool, expected: str
) -> None:
    assert (
        status(ratio=ratio, low=low, high=high, tolerance=(0.8, 1.25), judgeable=judgeable)
        == expected
    )


def _fnr_frame(plan: dict[str, tuple[int, float]] | None = None) -> pd.DataFrame:
    """Groups with exact missed-case rates at a threshold of 0.5 (score 0.9 = flagged):
    30% of each group escalates, 10% of the rest is flagged."""
    plan = plan or {  # group: (incidents, missed-case rate)
        "white": (6000, 0.20),
        "black": (2000, 0.50),  # ratio 2.5: flagged
        "asian": (3000, 0.21),  # ratio 1.05: within
        "mixed": (250, 0.30),  # ratio 1.5 but 75 escalations: straddles 1.25
        "other": (40, 1.00),  # extreme, but too small to judge
    }
    parts = []
    for group, (n, fnr) in plan.items():
        pos = round(0.3 * n)
        missed, false_alarms = round(fnr * pos), round(0.1 * (n - pos))
        y = np.arange(n) < pos
        flag = np.where(y, np.arange(n) >= missed, np.arange(n) - pos < false_alarms)
        parts.append(_frame(victim_ethnicity=[group] * n, y=y, score=np.where(flag, 0.9, 0.1)))
    frame = pd.concat(parts, ignore_index=True)
    frame.loc[:9, "victim_ethnicity"] = None  # ten with ethnicity not recorded
    return frame


def test_audit_flags_the_disparate_group_and_no_other() -> None:
    spec = _spec(operating_point={"threshold": 0.5}, min_group={"n": 100, "positives": 20})
    report = audit_fairness(_fnr_frame(), spec)
    fnr = {d.group: d for d in report.attributes[0].disparities if d.metric == "fnr"}
    assert fnr["white"].status == REFERENCE
    assert fnr["black"].status == FLAGGED
    assert fnr["black"].low > 1.25
    assert fnr["asian"].status == WITHIN
    assert fnr["mixed"].status == UNCERTAIN
    assert fnr["mixed"].low < 1.25 < fnr["mixed"].high
    assert fnr["other"].status == TOO_SMALL
    assert fnr["not recorded"].status == TOO_SMALL
    assert report.flags == ("victim_ethnicity:black:fnr",)
    assert report.primary_flags == report.flags
    assert any("FLAG victim_ethnicity:black:fnr" in line for line in report.summary)
    assert any("'other'" in line and "Too small" in line for line in report.summary)


def test_a_missed_case_flag_says_when_the_group_escalates_less_often() -> None:
    frame = _fnr_frame()
    quiet = _frame(victim_ethnicity=["black"] * 2000, y=[False] * 2000, score=[0.1] * 2000)
    frame = pd.concat(
        [frame, quiet], ignore_index=True
    )  # same misses, half the base rate (white: 29.9%, ten rows lost their ethnicity)
    spec = _spec(operating_point={"threshold": 0.5}, min_group={"n": 100, "positives": 20})
    report = audit_fairness(frame, spec)
    assert report.flags == ("victim_ethnicity:black:fnr",)
    (line,) = [s for s in report.summary if s.startswith("FLAG victim_ethnicity:black:fnr")]
    assert "Its escalation rate is 15.0% against 29.9%" in line
    assert "fewer escalations tends to be missed more often" in line
    (plain,) = [s for s in plain_summary(report) if s.startswith("FLAGGED.")]
    assert "Its escalation rate is 15.0% against 29.9%" in plain  # the HTML and the card
    equal = audit_fairness(_fnr_frame(), spec)
    for lines in (equal.summary, plain_summary(equal)):
        assert not any("escalation rate is" in s for s in lines)  # equal rates: no note


def test_reported_metrics_and_unrecorded_groups_never_flag() -> None:
    frame = _fnr_frame()
    frame.loc[frame["victim_ethnicity"] == "asian", "victim_ethnicity"] = None  # a large gap
    spec = _spec(
        operating_point={"threshold": 0.5},
        attributes=[{"name": "victim_ethnicity", "tests": [], "report": ["fnr"]}],
    )
    report = audit_fairness(frame, spec)
    statuses = {d.group: d.status for d in report.attributes[0].disparities}
    assert statuses["black"] == "outside tolerance"
    assert statuses["not recorded"] == NOT_JUDGED
    assert report.flags == ()


def test_a_group_without_enough_expected_events_is_too_small_to_judge() -> None:
    """30 escalations, none missed: at the reference's 20% that is 6 expected misses,
    below the 10 needed, so the [0, 0] interval is not trusted."""
    frame = _fnr_frame({"white": (6000, 0.2), "mixed": (100, 0.0)})
    spec = _spec(operating_point={"threshold": 0.5}, min_group={"n": 100, "positives": 20})
    fnr = {d.group: d for d in audit_fairness(frame, spec).iter_disparities() if d.metric == "fnr"}
    assert (fnr["mixed"].value, fnr["mixed"].high) == (0.0, 0.0)
    assert fnr["mixed"].status == TOO_SMALL
    loose = _spec(
        operating_point={"threshold": 0.5},
        min_group={"n": 100, "positives": 20, "expected_events": 5},
    )
    fnr = {d.group: d for d in audit_fairness(frame, loose).iter_disparities() if d.metric == "fnr"}
    assert fnr["mixed"].status == FLAGGED


def test_bootstrap_is_reproducible_and_seeded() -> None:
    spec = _spec(operating_point={"threshold": 0.5})
    first = audit_fairness(_fnr_frame(), spec).to_dict()
    assert audit_fairness(_fnr_frame(), spec).to_dict() == first
    other = audit_fairness(
        _fnr_frame(),
        spec.model_copy(update={"bootstrap": spec.bootstrap.model_copy(update={"seed": 2})}),
    )
    assert other.to_dict() != first


def test_report_round_trips_through_json() -> None:
    spec = load_audit_spec()
    spec = spec.model_copy(
        update={"bootstrap": spec.bootstrap.model_copy(update={"resamples": 20})}
    )
    frame = _fnr_frame()
    report = audit_fairness(frame, spec, threshold=0.5)
    text = report.to_json()
    assert "NaN" not in text
    again = FairnessReport.from_dict(json.loads(text))
    assert again.to_dict() == report.to_dict()
    assert isinstance(again.attributes[0].groups[0].fnr, float)
    assert again.thresholds is not None
    assert not again.thresholds.applied
    assert math.isnan(again.attributes[0].disparities[0].low)  # the reference: no interval


def test_threshold_option_is_reported_not_applied() -> None:
    spec = _spec(operating_point={"threshold": 0.5}, thresholds={"attribute": "victim_ethnicity"})
    report = audit_fairness(_fnr_frame(), spec)
    option = report.thresholds
    assert option is not None
    assert not option.applied
    assert {g.group for g in option.groups} == {"white", "black", "asian", "mixed"}
    black = next(g for g in option.groups if g.group == "black")
    assert black.fnr_before == pytest.approx(
        next(g.fnr for g in report.attributes[0].groups if g.group == "black")
    )
    before = [g.fnr_before for g in option.groups]
    after = [g.fnr_after for g in option.groups]
    assert max(after) - min(after) < max(before) - min(before)
    assert any("not applied" in line for line in report.summary)


def test_threshold_option_is_compared_with_one_threshold_at_its_workload() -> None:
    spec = _spec(operating_point={"threshold": 0.5}, thresholds={"attribute": "victim_ethnicity"})
    frame = _fnr_frame()
    option = audit_fairness(frame, spec).thresholds
    assert option is not None
    days = frame["reported_at"].dt.floor("D").nunique()
    flagged = round(option.flagged_per_day_after * days)
    # one threshold flagging that many: all 0.9s first, the rest of the places shared by
    # the 0.1s (every incident of a score block has the same chance of a place)
    y, high = frame["y"].to_numpy(bool), frame["score"].to_numpy() > 0.5
    share = np.clip((flagged - high.sum()) / (~high).sum(), 0.0, 1.0)
    if flagged < high.sum():
        reviewed = np.where(high, flagged / high.sum(), 0.0)
    else:
        reviewed = np.where(high, 1.0, share)
    assert option.recall_same_workload == pytest.approx(reviewed[y].sum() / y.sum())
    assert option.precision_same_workload == pytest.approx(reviewed[y].sum() / reviewed.sum())
    labels = frame["victim_ethnicity"].fillna("").to_numpy(str)
    for g in option.groups:
        rows = y & (labels == g.group)
        assert g.fnr_same_workload == pytest.approx(1 - reviewed[rows].sum() / rows.sum())
    report = audit_fairness(frame, spec)
    (line,) = [s for s in report.summary if s.startswith("Option considered")]
    assert "At that workload one threshold for every group would have recall" in line


def test_reports_written_before_the_same_workload_figures_still_load() -> None:
    spec = _spec(operating_point={"threshold": 0.5}, thresholds={"attribute": "victim_ethnicity"})
    data = audit_fairness(_fnr_frame(), spec).to_dict()
    for key in ("recall_same_workload", "precision_same_workload"):
        del data["thresholds"][key]
    for group in data["thresholds"]["groups"]:
        del group["fnr_same_workload"]
    old = FairnessReport.from_dict(data)
    assert old.thresholds is not None
    assert math.isnan(old.thresholds.recall_same_workload)
    assert all(math.isnan(g.fnr_same_workload) for g in old.thresholds.groups)


def test_missing_columns_and_bad_labels_are_schema_errors() -> None:
    frame = tiny_frame()
    with pytest.raises(SchemaError, match="victim_ethnicity"):
        audit_fairness(frame.drop(columns="victim_ethnicity"), _spec())
    frame["y"] = frame["y"].astype("Int64")
    frame.loc[0, "y"] = None
    with pytest.raises(SchemaError, match="censored"):
        audit_fairness(frame, _spec())
    with pytest.raises(SchemaError, match=r"outside \[0, 1\]"):
        audit_fairness(tiny_frame().assign(score=2.0), _spec())


def test_named_reference_must_exist() -> None:
    spec = _spec(
        attributes=[{"name": "victim_ethnicity", "reference": "martian", "tests": ["fnr"]}]
    )
    with pytest.raises(ConfigError, match="martian"):
        audit_fairness(tiny_frame(), spec)


def test_with_audit_attributes_joins_on_incident_id() -> None:
    scored = pd.DataFrame({"incident_id": ["b", "a"], "y": [1, 0], "score": [0.2, 0.3]})
    audit = pd.DataFrame({"incident_id": ["a", "b"], "victim_sex": ["male", "female"]})
    joined = with_audit_attributes(scored, audit)
    assert joined["victim_sex"].tolist() == ["female", "male"]
    with pytest.raises(SchemaError, match="no audit attributes"):
        with_audit_attributes(scored, audit.iloc[:1])


def test_shipped_spec_loads() -> None:
    spec = load_audit_spec()
    assert spec.tolerance == (0.8, 1.25)
    assert spec.operating_point.capacity == 10
    assert {a.name for a in spec.attributes} >= {
        "victim_sex",
        "victim_age_band",
        "victim_ethnicity",
        "perpetrator_ethnicity",
        "deprivation_quintile",
        "victim_sex_ethnicity",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("attributes: []", "attributes"),
        ("tolerance: [1.2, 0.8]\nattributes: [{name: victim_sex}]", "tolerance"),
        ("attributes: [{name: victim_shoe_size}]", "attributes.0.name"),
        ("attributes: [{name: victim_sex, tests: [fnr], report: [fnr]}]", "both"),
        ("bootstrap: {resamples: 5}\nattributes: [{name: victim_sex}]", "resamples"),
        ("attributes: [{name: victim_sex}]\ncolour: blue", "colour"),
        ("attributes: [", "not valid YAML"),
    ],
)
def test_bad_spec_files_raise_config_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "audit.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_audit_spec(path)
