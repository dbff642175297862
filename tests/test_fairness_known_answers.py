"""The fairness audit against answers we set ourselves in the synthetic world (DESIGN §9).

A default-size county is generated, its features, labels and temporal splits built,
and ``triage.modeling.train`` validates a model over the splits; the audit reads the
out-of-time predictions of every split at the hub's operating point (each day's top 10).

The known answers concern the attributes the world draws independently of every
hidden trait: victim ethnicity and deprivation. (Age and sex are not exchangeable
there: a perpetrator's age and a frail elderly victim change the risk, so a flag on
an age band is a finding about the model, not a false alarm. On the default county
the model misses more of the escalations of victims aged 55+ (ratio 1.94, 1.46-2.58,
flagged); ranked by the true probabilities the same rows give 1.63, 0.89-2.48, not
flagged. Part of the gap is the world (their escalations are harder to foresee even
from the truth), part the model: the frail elderly victims of family members, whose
risk is visible through relationship and age, are few.)

* With the bias knobs off, the primary test (missed cases across victim groups) flags
  no ethnicity and no deprivation group.
* With officers down-recording the incidents of asian victims (``DownRecording``:
  most of their non-serious crimes recorded as non-crimes, risk markers and DASH risks
  left out, the suspect mostly unnamed), the model misses more of that group's
  escalations: the primary test flags asian victims' missed-case rate (the whole
  interval above 1.25), and no other ethnicity or deprivation group. Serious incidents
  keep their type, so the escalations themselves are still recorded.

How far the audit can see this is bounded. An incident that is itself serious is
always in the day's top 10, and about half of every group's escalations follow one,
so even a group whose every other signal is erased is missed at most about twice as
often; with about 120 escalations of asian victims in the validation splits the
interval is wide. On the default county the ratio is 1.70 (1.29-2.15), flagged; on
other seeds of an earlier version of the world it was 1.7-1.9 with the interval
starting at 1.15-1.34, flagged on one of three. The flag is therefore asserted for the
default county (deterministic: fixed seeds, one training thread) together with the
direction and its significance, which held on every seed tried.
Recording biases that thin what is recorded do not help: thinning a group's
non-serious incidents leaves its recorded incidents mostly serious ones, and its
missed-case rate *falls* (a ratio of about 0.2 when 70% are unrecorded).
"""

from __future__ import annotations

from functools import cache

from triage.config import load_model_spec
from triage.evaluation.fairness import (
    Disparity,
    FairnessReport,
    audit_fairness,
    with_audit_attributes,
)
from triage.features import build_features
from triage.labels import build_labels
from triage.modeling import train
from triage.synth import DownRecording, SynthConfig, generate_world
from triage.temporal import make_splits

DOWN_RECORDED = DownRecording(attribute="ethnicity", group="asian", rate=0.8, unnamed=0.8)
EXCHANGEABLE = ("victim_ethnicity", "deprivation_quintile")


@cache
def _audit(knobs: tuple[DownRecording, ...]) -> FairnessReport:
    world = generate_world(SynthConfig(truth=False, down_recording=knobs))
    matrix = build_features(world.extract)
    spec = load_model_spec()
    labels = build_labels(world.extract, spec.labels)
    plan = make_splits(labels, spec.target, spec.splits)
    result = train(matrix, labels, plan, spec, seed=0)
    scored = with_audit_attributes(result.validation, matrix.audit)
    return audit_fairness(scored, score="score_model")


def _flags(report: FairnessReport, attributes: tuple[str, ...]) -> set[str]:
    return {f for f in report.primary_flags if f.split(":")[0] in attributes}


def _missed_cases(report: FairnessReport, attribute: str) -> dict[str, Disparity]:
    return {
        d.group: d
        for d in report.iter_disparities()
        if d.attribute == attribute and d.metric == "fnr" and d.group != d.reference
    }


def test_unbiased_world_flags_no_ethnicity_or_deprivation_group() -> None:
    report = _audit(())
    assert _flags(report, EXCHANGEABLE) == set()
    assert report.operating_point.rule == "daily_top_k"
    assert report.operating_point.capacity == 10


def test_down_recorded_group_is_flagged_as_missed_more_and_no_other_group_is() -> None:
    report = _audit((DOWN_RECORDED,))
    assert _flags(report, EXCHANGEABLE) == {"victim_ethnicity:asian:fnr"}
    by_ethnicity = _missed_cases(report, "victim_ethnicity")
    asian = by_ethnicity["asian"]
    assert asian.reference == "white"
    assert asian.ratio > 1.5, asian
    assert asian.low > 1.25, asian  # missed more, beyond sampling error and the band
    unbiased = _missed_cases(_audit(()), "victim_ethnicity")["asian"]
    assert asian.ratio > unbiased.ratio, (asian, unbiased)  # and the knob is why
    judged = [
        d for d in by_ethnicity.values() if d.group != "asian" and d.status != "too small to judge"
    ]
    assert all(d.ratio < asian.ratio for d in judged), by_ethnicity
