"""The fairness audit against answers we set ourselves in the synthetic world (DESIGN §9).

A default-size county is generated, its features, labels and temporal splits built,
and ``triage.modeling.train`` validates a model over the splits; the audit reads the
out-of-time predictions of every split at the hub's operating point (each day's top 10).

The known answers concern the attributes the world draws independently of every
hidden trait: victim ethnicity and deprivation. (Age and sex are not exchangeable
there: a perpetrator's youth and a frail elderly victim change the risk, so a flag on
an age band is a finding about the model, not a false alarm.)

* With the bias knobs off, the primary test (missed cases across victim groups) flags
  no ethnicity and no deprivation group.
* With the recording knob thinning the recorded non-serious incidents of asian victims
  to 30%, the primary test flags asian victims' missed-case rate, and among groups
  defined by ethnicity only groups of asian victims. The direction is worth knowing:
  the flag is for *fewer* missed cases. With most of their minor incidents unrecorded,
  the group's recorded incidents are more often serious ones, which escalate more
  often and score high, so per recorded incident the model misses fewer of their
  escalations. The harm of under-recording (an escalation with no recorded incident
  before it is never queued at all) cannot show in an audit of recorded incidents;
  the disparity it leaves is what the audit finds.
"""

from __future__ import annotations

from functools import cache

from triage.config import load_model_spec
from triage.evaluation.fairness import FairnessReport, audit_fairness, with_audit_attributes
from triage.features import build_features
from triage.labels import build_labels
from triage.modeling import train
from triage.synth import RecordingBias, SynthConfig, generate_world
from triage.temporal import make_splits

UNDER_RECORDED = RecordingBias(
    attribute="ethnicity", group="asian", factor=0.3, applies_to="non_serious"
)


@cache
def _audit(bias: tuple[RecordingBias, ...]) -> FairnessReport:
    world = generate_world(SynthConfig(truth=False, recording_bias=bias))
    matrix = build_features(world.extract)
    spec = load_model_spec()
    labels = build_labels(world.extract, spec.labels)
    plan = make_splits(labels, spec.target, spec.splits)
    result = train(matrix, labels, plan, spec, seed=0)
    scored = with_audit_attributes(result.validation, matrix.audit)
    return audit_fairness(scored, score="score_model")


EXCHANGEABLE = ("victim_ethnicity", "deprivation_quintile")


def _flags(report: FairnessReport, attributes: tuple[str, ...]) -> set[str]:
    return {f for f in report.primary_flags if f.split(":")[0] in attributes}


def test_unbiased_world_flags_no_ethnicity_or_deprivation_group() -> None:
    report = _audit(())
    assert _flags(report, EXCHANGEABLE) == set()
    assert report.operating_point.rule == "daily_top_k"
    assert report.operating_point.capacity == 10


def test_under_recording_is_flagged_for_that_group_and_no_other() -> None:
    report = _audit((UNDER_RECORDED,))
    flags = _flags(report, (*EXCHANGEABLE, "victim_sex_ethnicity"))
    assert "victim_ethnicity:asian:fnr" in flags
    assert all(flag.split(":")[1].endswith("asian") for flag in flags), flags
    asian = next(d for d in report.iter_disparities() if d.name == "victim_ethnicity:asian:fnr")
    assert asian.high < 0.8, asian  # fewer missed cases: see the module docstring
