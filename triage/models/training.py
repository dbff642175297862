"""Escalation models (docs/architecture.md §6, §7, §10): LightGBM on the point-in-time feature
matrix, calibrated out of time, validated over temporal splits against baselines.

One procedure fits every model, in each validation split and for the final model,
so the validation measures exactly what ships. Given training rows whose labels are
observed by a *horizon* (the split's as-of date minus the label window; for the final
model, the extract's end minus the window):

1. the **calibration slice** is the last ``calibration.slice_days`` of the training
   period, ``[horizon - slice_days, horizon)`` (for the final model this is the most
   recent out-of-time fold: the period of the last split's test rows); the rows
   reported before it are the **fit rows**;
2. LightGBM is fitted on the fit rows, once per parameter set (the base parameters
   and each ``grid`` point), with early stopping on the slice's log loss; the set
   with the lowest log loss wins, truncated at its best round;
3. the calibrator (Platt or isotonic, per the spec) maps the booster's raw margin on
   the slice to the slice's outcomes. The booster that ships is the one the
   calibrator was fitted for: it is not refitted on the slice, so no calibration is
   carried over to a model it was not fitted for;
4. each baseline gets the same treatment: the elastic-net logistic regression is
   fitted on the fit rows (a seeded sample of ``logistic.max_rows`` of them at
   scale), and it, the DASH grade and log(1 + prior-incident count)
   are calibrated on the slice, so Brier, ECE and log loss compare like with like.

Every label the procedure reads is observed by the horizon, so nothing is read from
beyond the split's as-of date; the test rows of a split are scored only once, at the
end. Class imbalance is left as it is (no upweighting): the probabilities must be
calibrated, and weighting would distort them.

Same matrix, labels, specs and ``seed``, the same booster text, byte for byte
(``deterministic``, ``force_row_wise`` and a fixed ``num_threads`` in the spec).
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from triage.config import DEFAULT_FEATURE_SPEC, FeatureSetSpec, ModelSpec, SpecSource, read_spec
from triage.exceptions import ConfigError
from triage.features.build import FeatureMatrix
from triage.models.baselines import (
    SCORERS,
    dash_score,
    prior_count,
    prior_count_formula,
)
from triage.models.bundle import FeatureSchema, ModelBundle, data_fingerprint
from triage.models.families import FamilyChoice, choose_family, score_column
from triage.models.procedure import Fold, fit_fold
from triage.models.temporal import TemporalPlan

__all__ = [
    "Progress",
    "TrainingResult",
    "train",
]

logger = logging.getLogger(__name__)

#: called as ``progress(step, done, total)`` while models are trained
Progress = Callable[[str, int, int], None]

#: the scores in a validation frame: the model, then the baselines

Float = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TrainingResult:
    """The final model, the out-of-time predictions of every split, and timings.

    ``validation`` has one row per test incident of every split: ``incident_id``,
    ``reported_at``, ``split``, ``y`` and a calibrated probability per scorer
    (``score_model``, ``score_logistic``, ``score_dash``, ``score_prior``), plus the
    ``dash_grade`` and each candidate family's scores (``score_lightgbm``;
    ``score_model`` is the chosen family's). ``folds`` describes each fit (the final
    model's last); ``family`` which family ships and why.
    """

    bundle: ModelBundle
    validation: pd.DataFrame
    folds: tuple[Fold, ...]
    timings: Mapping[str, float]
    prior_formula: str
    family: FamilyChoice


def train(
    matrix: FeatureMatrix,
    labels: pd.DataFrame,
    plan: TemporalPlan,
    spec: SpecSource,
    *,
    feature_spec: SpecSource = None,
    dash_grades: pd.Series | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> TrainingResult:
    """Validate over ``plan``'s splits and fit the final model on ``plan.final``.

    ``matrix`` and ``labels`` must describe the same incidents row for row;
    ``feature_spec`` is the spec ``matrix`` was built with (default: the shipped
    one) and, like ``spec``, may be a path so the bundle keeps its exact text.
    ``dash_grades`` (one per row) is only needed when the features lack
    ``dash_grade``.
    """
    started = time.perf_counter()
    model_spec, model_text = read_spec(spec, ModelSpec, None)
    feat_spec, feat_text = read_spec(feature_spec, FeatureSetSpec, DEFAULT_FEATURE_SPEC)
    _check_inputs(matrix, labels, plan, model_spec, feat_spec)
    X = matrix.X
    y = labels[plan.label].to_numpy(dtype=np.float64, na_value=np.nan)
    reported = labels["reported_at"]
    grades = _dash_grades(X, dash_grades)
    plus, minus = prior_count_formula(X.columns, model_spec.target)
    dash = dash_score(grades)
    prior = np.log1p(prior_count(X, plus, minus))
    report = progress if progress is not None else (lambda _s, _d, _t: None)
    total = len(plan.splits) + 1
    window = pd.Timedelta(days=plan.window_days)

    folds: list[Fold] = []
    frames: list[pd.DataFrame] = []
    timings: dict[str, float] = {}
    for split in plan.splits:
        t0 = time.perf_counter()
        step = f"split {split.number}"
        report(step, len(folds), total)
        fold = fit_fold(
            X, y, reported, split.train, split.as_of - window, model_spec, dash, prior, seed, step
        )
        folds.append(fold)
        frames.append(_scored(fold, split.number, split.test, X, y, labels, grades, dash, prior))
        timings[step] = time.perf_counter() - t0
    t0 = time.perf_counter()
    report("final model", len(folds), total)
    final = fit_fold(
        X, y, reported, plan.final, plan.end - window, model_spec, dash, prior, seed, "final"
    )
    folds.append(final)
    timings["final"] = time.perf_counter() - t0
    report("done", total, total)

    validation = pd.concat(frames, ignore_index=True) if frames else _empty_validation()
    choice = choose_family(validation, model_spec.model.champion)
    validation[score_column("model")] = validation[score_column(choice.family)]
    logger.info("family: %s (%s)", choice.family, choice.reason)
    rows = plan.final
    metadata = {
        "label": plan.label,
        "family": choice.family,
        "family_reason": choice.reason,
        "seed": seed,
        "training_rows": len(rows),
        "fit_rows": final.fit_rows,
        "calibration_rows": final.slice_rows,
        "train_from": final.fit_from,
        "calibration_from": final.slice_from,
        "train_to": final.slice_to,
        "horizon": final.horizon,
        "best_iteration": final.best_iteration,
        "lightgbm_params": final.params,
        "calibration": model_spec.model.calibration.method,
        "data_fingerprint": data_fingerprint(
            labels["incident_id"].iloc[rows], X.iloc[rows], y[rows]
        ),
        "feature_spec_fingerprint": feat_spec.fingerprint(),
        "model_spec_fingerprint": model_spec.fingerprint(),
        "harm_sha256": matrix.harm_sha256,
        "versions": _versions(),
    }
    bundle = ModelBundle(
        booster_text=final.booster_text,
        calibrator=final.calibrator,
        logistic=final.logistic,
        schema=FeatureSchema.of(X),
        model_spec_yaml=model_text,
        feature_spec_yaml=feat_text,
        metadata=metadata,
    )
    timings["total"] = time.perf_counter() - started
    logger.info("trained %s in %.1f s (%d splits)", plan.label, timings["total"], len(plan.splits))
    formula = " + ".join(plus) + "".join(f" - {m}" for m in minus)
    return TrainingResult(bundle, validation, tuple(folds), timings, formula, choice)


def _scored(
    fold: Fold,
    number: int,
    rows: npt.NDArray[np.int64],
    X: pd.DataFrame,
    y: Float,
    labels: pd.DataFrame,
    grades: pd.Series,
    dash: Float,
    prior: Float,
) -> pd.DataFrame:
    """The out-of-time predictions of one split's model and baselines."""
    Xt = X.iloc[rows]
    raw = np.asarray(fold.booster.predict(Xt, raw_score=True), dtype=np.float64)
    return pd.DataFrame(
        {
            "incident_id": labels["incident_id"].iloc[rows].astype("string").to_numpy(),
            "reported_at": labels["reported_at"].iloc[rows].to_numpy(),
            "split": np.full(len(rows), number, dtype=np.int64),
            "y": y[rows].astype(np.int8),
            "score_model": np.nan,  # the chosen family's, once every split is scored
            "score_logistic": fold.logistic.predict_proba(Xt),
            "score_dash": fold.dash_calibrator(dash[rows]),
            "score_prior": fold.prior_calibrator(prior[rows]),
            "dash_grade": grades.iloc[rows].astype(str).to_numpy(),
            score_column("lightgbm"): fold.calibrator(raw),
        }
    ).astype({"incident_id": "string", "reported_at": labels["reported_at"].dtype})


def _empty_validation() -> pd.DataFrame:
    columns = ["incident_id", "reported_at", "split", "y", *(f"score_{s}" for s in SCORERS)]
    return pd.DataFrame({c: [] for c in [*columns, "dash_grade", score_column("lightgbm")]})


def _dash_grades(X: pd.DataFrame, given: pd.Series | None) -> pd.Series:
    if given is not None:
        if len(given) != len(X):
            raise ConfigError(f"dash_grades has {len(given)} rows for {len(X)} incidents")
        return given.reset_index(drop=True)
    if "dash_grade" not in X:
        raise ConfigError(
            "the features have no dash_grade column: pass dash_grades (one per incident) "
            "so the DASH baseline can be evaluated"
        )
    return X["dash_grade"]


def _check_inputs(
    matrix: FeatureMatrix,
    labels: pd.DataFrame,
    plan: TemporalPlan,
    spec: ModelSpec,
    feature_spec: FeatureSetSpec,
) -> None:
    if plan.label != spec.label:
        raise ConfigError(
            f"the plan is for label {plan.label!r} but the spec predicts {spec.label!r}"
        )
    if plan.label not in labels:
        raise ConfigError(f"the labels frame has no column {plan.label!r}")
    if len(labels) != len(matrix.X) or not np.array_equal(
        labels["incident_id"].astype(str).to_numpy(),
        matrix.ids["incident_id"].astype(str).to_numpy(),
    ):
        raise ConfigError(
            "the labels and the feature matrix do not list the same incidents in order"
        )
    if feature_spec.fingerprint() != matrix.spec_fingerprint:
        raise ConfigError(
            f"the feature matrix was built with another feature spec (fingerprint "
            f"{matrix.spec_fingerprint[:12]}…, given {feature_spec.fingerprint()[:12]}…): "
            "pass the spec it was built with as feature_spec"
        )


def _versions() -> dict[str, Any]:
    packages = ("mash-triage", "lightgbm", "scikit-learn", "numpy", "pandas")
    out: dict[str, Any] = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = version(name)
        except Exception:  # pragma: no cover - a source checkout without metadata
            out[name] = "unknown"
    return out
