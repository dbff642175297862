"""Escalation models (docs/architecture.md §6, §7, §10): temporal splits, one fitting
procedure for every split and the final model, the baselines it is judged against,
calibrators, and a model bundle that saves and loads without pickle.

    plan = make_splits(extract_end, spec.splits)
    result = train(matrix, labels, plan, spec)
    result.bundle.save("bundle/")
"""

from triage.models.baselines import DASH_SCORE, SCORERS, LogisticBaseline
from triage.models.bundle import BUNDLE_FILES, FeatureSchema, ModelBundle, data_fingerprint
from triage.models.calibrators import (
    Calibrator,
    IsotonicCalibrator,
    PlattCalibrator,
    fit_calibrator,
)
from triage.models.procedure import Fold
from triage.models.temporal import Split, TemporalPlan, check_no_leakage, make_splits, plot_plan
from triage.models.training import TrainingResult, train

__all__ = [
    "BUNDLE_FILES",
    "DASH_SCORE",
    "SCORERS",
    "Calibrator",
    "FeatureSchema",
    "Fold",
    "IsotonicCalibrator",
    "LogisticBaseline",
    "ModelBundle",
    "PlattCalibrator",
    "Split",
    "TemporalPlan",
    "TrainingResult",
    "check_no_leakage",
    "data_fingerprint",
    "fit_calibrator",
    "make_splits",
    "plot_plan",
    "train",
]
