"""Clustered intervals, calibration within group, stated power and the one rule for
"too small to judge" (docs/architecture.md §8), on frames built with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from triage.evaluation._audit_spec import AuditSpec
from triage.evaluation._bootstrap import Grouping, Outcomes, bootstrap
from triage.evaluation._fairness_result import (
    FLAGGED,
    GATE_FLAGGED,
    GATE_NOT_JUDGED,
    GATE_PASS,
    TOO_SMALL,
    WITHIN,
    Disparity,
    FairnessReport,
)
from triage.evaluation.fairness import audit_fairness, cluster_codes
from triage.evaluation.fairness_report import disparity_changes, plain_summary

DAY = pd.Timestamp("2024-03-01 09:00", tz="UTC")
#: an operating point that flags some of the calibrated frames' incidents
AT_03: dict[str, object] = {"operating_point": {"threshold": 0.3}}


def _spec(tests: tuple[str, ...] = ("fnr",), **update: object) -> AuditSpec:
    base: dict[str, object] = {
        "attributes": [{"name": "victim_ethnicity", "tests": list(tests), "report": ["fpr"]}],
        "thresholds": {"enabled": False},
        "bootstrap": {"resamples": 200, "seed": 3},
        "operating_point": {"threshold": 0.5},
    }
    base.update(update)
    return AuditSpec.model_validate(base)


def _victims(plan: dict[str, tuple[int, int, int]], per_victim: int) -> pd.DataFrame:
    """Victims of each group: (negative victims, positive victims, of which missed).
    All of one victim's incidents share the outcome and the score (0.8 flagged, 0.2
    not), the way one person's incidents escalate together."""
    rows = []
    victim = 0
    for group, (negatives, positives, missed) in plan.items():
        for i in range(negatives + positives):
            escalated = i >= negatives
            caught = escalated and i - negatives >= missed
            score = 0.8 if caught or (not escalated and i % 5 == 0) else 0.2
            rows += [(group, victim, int(escalated), score)] * per_victim
            victim += 1
    frame = pd.DataFrame(rows, columns=["victim_ethnicity", "victim_cluster", "y", "score"])
    frame = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)  # interleave
    frame["reported_at"] = DAY
    for column, value in (("victim_sex", "female"), ("perpetrator_ethnicity", "white")):
        frame[column] = value
    frame["victim_age"], frame["deprivation_decile"] = 30.0, 5
    return frame


def _fnr(report: FairnessReport, group: str) -> Disparity:
    return next(d for d in report.iter_disparities() if d.name.endswith(f":{group}:fnr"))


def test_clustered_interval_is_wider_and_covers_one_where_incidents_cried_wolf() -> None:
    # no group effect: 20 escalating victims per group, missed 8 and 12 times, a gap
    # that chance gives with 20 people, each seen in 25 incidents
    frame = _victims({"white": (60, 20, 8), "black": (40, 20, 12)}, per_victim=25)
    clustered = audit_fairness(frame, _spec())
    incidents = audit_fairness(frame.drop(columns="victim_cluster"), _spec())
    by_victim, by_incident = _fnr(clustered, "black"), _fnr(incidents, "black")
    assert by_incident.status == FLAGGED
    assert by_incident.low > 1.25
    assert by_victim.status != FLAGGED
    assert by_victim.low < 1.0 < by_victim.high
    assert by_victim.high - by_victim.low > 3 * (by_incident.high - by_incident.low)
    assert (clustered.victim_resampling, incidents.victim_resampling) == ("victims", "incidents")
    assert clustered.primary_flags == ()
    assert incidents.primary_flags == ("victim_ethnicity:black:fnr",)


def test_one_cluster_per_incident_reproduces_incident_resampling_exactly() -> None:
    rng = np.random.default_rng(0)
    n = 500
    y = rng.random(n) < 0.3
    outcomes = Outcomes(y, (rng.random(n) < 0.4).astype(float), np.zeros(n), rng.random(n))
    grouping = Grouping(rng.integers(0, 3, n).astype(np.int64), 3, outcomes)
    wanted = [{"fnr", "calibration", "auc"}]
    plain = bootstrap([grouping], outcomes, resamples=30, seed=5, metrics=wanted)
    ones = bootstrap(
        [grouping],
        outcomes,
        resamples=30,
        seed=5,
        metrics=wanted,
        clusters=[np.arange(n, dtype=np.int64)],
        unit_of=[0],
    )
    for metric in wanted[0]:
        np.testing.assert_array_equal(plain[0][metric], ones[0][metric])


def test_a_cluster_is_resampled_whole() -> None:
    # clusters of three escalations and of one non-escalation: a resample holds the
    # first cluster twice, the second twice or each once, so the escalation rate is
    # 1, 0 or 3/4, never a share that splits the first cluster
    n = 4
    outcomes = Outcomes(np.array([1, 1, 1, 0], bool), np.zeros(n), np.zeros(n), np.full(n, 0.5))
    grouping = Grouping(np.zeros(n, dtype=np.int64), 1, outcomes)
    clusters = np.array([0, 0, 0, 1], dtype=np.int64)
    draws = bootstrap(
        [grouping], outcomes, resamples=200, seed=2, metrics=[{"base_rate"}], clusters=[clusters]
    )
    assert set(np.unique(draws[0]["base_rate"])) == {0.0, 0.75, 1.0}
    by_incident = bootstrap([grouping], outcomes, resamples=200, seed=2, metrics=[{"base_rate"}])
    assert set(np.unique(by_incident[0]["base_rate"])) - {0.0, 0.75, 1.0}


def test_cluster_codes_count_first_appearances_and_isolate_the_unnamed() -> None:
    ids = pd.Series(["p9", "p2", pd.NA, "p9", pd.NA, "p2", "p7"], dtype="string")
    assert cluster_codes(ids).tolist() == [0, 1, 2, 0, 3, 1, 4]


def test_predictions_without_cluster_columns_reaudit_by_incident_and_say_so() -> None:
    frame = _victims({"white": (60, 20, 7), "black": (40, 20, 12)}, per_victim=2)
    report = audit_fairness(frame.drop(columns="victim_cluster"), _spec())
    assert report.victim_resampling == "incidents"
    assert any("narrower than the uncertainty warrants" in s for s in plain_summary(report))
    back = FairnessReport.from_dict(
        {k: v for k, v in report.to_dict().items() if not k.endswith("_resampling")}
    )
    assert back.victim_resampling == "incidents"  # reports logged before still load


def _calibrated(n: int, seed: int = 0, scale: dict[str, float] | None = None) -> pd.DataFrame:
    """Independent incidents with a known true probability; each group's scores are
    ``scale[group]`` times it (1 = well calibrated)."""
    rng = np.random.default_rng(seed)
    groups = np.array(["white", "black", "asian"])[rng.choice(3, n, p=[0.5, 0.25, 0.25])]
    truth = rng.uniform(0.05, 0.45, n)
    factor = pd.Series(groups).map(scale or {}).fillna(1.0).to_numpy()
    return pd.DataFrame(
        {
            "victim_ethnicity": groups,
            "victim_cluster": np.arange(n),
            "y": (rng.random(n) < truth).astype(int),
            "score": np.clip(truth * factor, 0.001, 0.999),
            "reported_at": DAY,
            "victim_sex": "female",
            "victim_age": 30.0,
            "perpetrator_ethnicity": "white",
            "deprivation_decile": 5,
        }
    )


def test_an_under_scored_group_is_flagged_on_calibration_and_a_calibrated_one_is_not() -> None:
    frame = _calibrated(8000, scale={"black": 0.6})
    report = audit_fairness(frame, _spec(tests=("fnr", "calibration"), **AT_03))
    black = next(
        d for d in report.iter_disparities() if d.name == "victim_ethnicity:black:calibration"
    )
    asian = next(
        d for d in report.iter_disparities() if d.name == "victim_ethnicity:asian:calibration"
    )
    assert (black.status, black.primary) == (FLAGGED, True)
    assert black.high < 0.8
    assert (asian.status, asian.primary) == (WITHIN, True)
    assert "victim_ethnicity:black:calibration" in report.primary_flags
    assert "victim_ethnicity:asian:calibration" not in report.primary_flags
    assert report.gate_answer == GATE_FLAGGED
    sentence = next(s for s in plain_summary(report) if "calibration" in s and "'black'" in s)
    assert "under-scored" in sentence
    over = audit_fairness(
        _calibrated(8000, scale={"black": 1.7}), _spec(tests=("calibration",), **AT_03)
    )
    flagged = [s for s in plain_summary(over) if s.startswith("FLAGGED.")]
    assert len(flagged) == 1
    assert "over-scored" in flagged[0]


def test_the_shipped_spec_tests_calibration_for_every_victim_grouping() -> None:
    from triage.evaluation.fairness import load_audit_spec

    for attribute in load_audit_spec().attributes:
        if attribute.side == "victim":
            assert {"fnr", "calibration"} <= set(attribute.tests), attribute.name


def test_the_detectable_disparity_shrinks_as_the_audit_grows() -> None:
    spec = _spec(tests=("fnr", "calibration"), **AT_03)
    small = audit_fairness(_calibrated(1500, seed=1), spec)
    large = audit_fairness(_calibrated(24000, seed=1), spec)
    for name in ("victim_ethnicity:asian:fnr", "victim_ethnicity:asian:calibration"):
        d_small = next(d for d in small.iter_disparities() if d.name == name)
        d_large = next(d for d in large.iter_disparities() if d.name == name)
        assert (d_small.judged, d_large.judged) == (True, True)
        assert 1.25 < d_large.detectable_high < d_small.detectable_high
        assert d_small.detectable_low < d_large.detectable_low < 0.8
    # the stated method: the band's edge times exp((z_0.975 + z_0.8) * se of the log ratio)
    d = next(d for d in large.iter_disparities() if d.name == "victim_ethnicity:asian:fnr")
    reach = math.log(d.detectable_high / 1.25)
    assert math.log(0.8 / d.detectable_low) == pytest.approx(reach)
    power = next(s for s in plain_summary(small) if s.startswith("Power of the primary tests"))
    assert f"{d_small.detectable_high:.2f}" in power


def test_a_group_too_small_to_judge_is_too_small_in_the_table_the_verdicts_and_the_gate() -> None:
    # 'mixed' has incidents and escalations enough, but almost no missed case is
    # expected at the reference rate: too few expected events on the missed-case test
    frame = _victims(
        {"white": (300, 200, 60), "black": (300, 200, 60), "mixed": (90, 25, 7)}, per_victim=1
    )
    frame = frame.assign(victim_cluster=np.arange(len(frame)))
    spec = _spec(min_group={"n": 100, "positives": 20, "expected_events": 10})
    report = audit_fairness(frame, spec)
    (attribute,) = report.attributes
    mixed = next(g for g in attribute.groups if g.group == "mixed")
    assert (mixed.n, mixed.positives) == (115, 25)
    assert _fnr(report, "mixed").status == TOO_SMALL
    assert not mixed.judgeable  # the table says what the verdict says
    assert math.isnan(_fnr(report, "mixed").detectable_high)
    # one of the two groups compared with 'white' is judged: half, so the gate passes
    assert (report.unjudged, report.gate_answer) == ((), GATE_PASS)


def test_fewer_than_half_the_victim_groups_judged_means_not_judged() -> None:
    frame = _victims(
        {
            "white": (300, 200, 60),
            "black": (300, 200, 60),
            "asian": (30, 5, 2),
            "mixed": (30, 5, 2),
            "other": (30, 5, 2),
        },
        per_victim=1,
    )
    report = audit_fairness(frame, _spec())
    assert report.primary_flags == ()
    assert report.unjudged == ("victim_ethnicity (1 of 4 groups judged)",)
    assert report.gate_answer == GATE_NOT_JUDGED
    assert any(s.startswith("Not judged:") for s in plain_summary(report))


def test_a_flag_that_became_too_small_is_no_longer_judged_not_cleared() -> None:
    frame = _victims({"white": (120, 60, 12), "black": (100, 60, 45)}, per_victim=1)
    spec = _spec(bootstrap={"resamples": 100, "seed": 1})
    before = audit_fairness(frame, spec)
    assert "victim_ethnicity:black:fnr" in before.primary_flags
    small = audit_fairness(
        frame, _spec(bootstrap={"resamples": 100, "seed": 1}, min_group={"n": 10_000})
    )
    fair = _victims({"white": (120, 60, 12), "black": (100, 60, 12)}, per_victim=1)
    cleared = audit_fairness(fair, spec)
    rows = disparity_changes(before, small).set_index("disparity")
    assert rows.loc["victim_ethnicity:black:fnr", "change"] == "no longer judged"
    rows = disparity_changes(before, cleared).set_index("disparity")
    assert rows.loc["victim_ethnicity:black:fnr", "change"] == "cleared"
