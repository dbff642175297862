"""The first gate compares a version with the next-simpler model: LightGBM with the
logistic regression, a logistic model with the prior-incident count."""

from __future__ import annotations

from datetime import UTC, datetime

from triage.registry.gates import FAMILY_TAG, LOGISTIC_AUC, MODEL_AUC, PRIOR_AUC, promotion_gates
from triage.registry.tracking import VersionInfo


def _version(family: str | None, model: float, logistic: float, prior: float) -> VersionInfo:
    tags = {} if family is None else {FAMILY_TAG: family}
    metrics = {MODEL_AUC: model, LOGISTIC_AUC: logistic, PRIOR_AUC: prior}
    return VersionInfo("label", 1, "run", datetime.now(UTC), (), metrics, tags)


def test_lightgbm_must_beat_the_logistic_regression() -> None:
    (gate, *_) = promotion_gates(_version("lightgbm", 0.74, 0.75, 0.60))
    assert gate.name == "beats the logistic baseline"
    assert not gate.passed
    (old, *_) = promotion_gates(_version(None, 0.76, 0.75, 0.60))  # logged before families
    assert old.name == "beats the logistic baseline"
    assert old.passed


def test_a_logistic_model_must_beat_the_prior_count() -> None:
    (gate, *_) = promotion_gates(_version("logistic", 0.75, 0.75, 0.60))
    assert gate.name == "beats the prior-incident count baseline"
    assert gate.passed
    assert gate.detail == "logistic model AUC 0.750 vs prior-incident count 0.600"
    (weak, *_) = promotion_gates(_version("logistic", 0.58, 0.58, 0.60))
    assert not weak.passed
