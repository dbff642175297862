"""The data scientist's main job as one call: an extract in, a trained, evaluated and
registered model version out. The CLI's ``train`` and ``demo`` are thin shells on
these functions, and notebooks call them too."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from triage.config import FeatureSetSpec, ModelSpec, load_feature_spec, load_model_spec
from triage.contract import Extract
from triage.evaluation import Evaluation, evaluate, write_evaluation_report
from triage.features import FeatureMatrix, build_features
from triage.harm import HarmWeights, load_harm_weights
from triage.labels import build_labels
from triage.modeling import TrainingResult, train
from triage.registry import RunRecord, Tracker, VersionInfo
from triage.temporal import TemporalPlan, make_splits

__all__ = ["Prepared", "Trained", "prepare", "run_metrics", "train_and_register"]

logger = logging.getLogger(__name__)

DEFAULT_MODEL_SPEC = "models/escalation.yaml"
DEFAULT_FEATURE_SPEC = "features/default.yaml"
#: called with a short description of the step under way
Step = Callable[[str], None]


@dataclass(frozen=True)
class Prepared:
    """Labels, point-in-time features and temporal splits of one extract."""

    extract: Extract
    model_spec: ModelSpec
    feature_spec: FeatureSetSpec
    labels: pd.DataFrame
    matrix: FeatureMatrix
    plan: TemporalPlan


def prepare(
    extract: Extract,
    model_spec: str | Path = DEFAULT_MODEL_SPEC,
    feature_spec: str | Path = DEFAULT_FEATURE_SPEC,
    *,
    harm: HarmWeights | None = None,
    end: pd.Timestamp | None = None,
    step: Step | None = None,
) -> Prepared:
    say = step or (lambda _s: None)
    harm = harm or load_harm_weights()
    mspec, fspec = load_model_spec(model_spec), load_feature_spec(feature_spec)
    say("labels")
    labels = build_labels(extract, mspec.labels, end=end, harm_weights=harm)
    say("features")
    matrix = build_features(extract, spec=fspec, harm_weights=harm)
    say("temporal splits")
    plan = make_splits(labels, mspec.target, mspec.splits, end=end)
    return Prepared(extract, mspec, fspec, labels, matrix, plan)


def run_metrics(evaluation: Evaluation) -> dict[str, float]:
    """Flat metric names for the registry: ``pooled_<scorer>_<metric>`` and the
    DASH comparison (``pooled_npe_model``...), the gates' inputs among them."""
    out: dict[str, float] = {}
    table = evaluation.metrics
    numeric = [c for c in table.columns if c not in ("split", "scorer")]
    for row in table.to_dict("records"):
        split = "pooled" if row["split"] == "pooled" else f"split{row['split']}"
        for col in numeric:
            value = row[col]
            if isinstance(value, int | float) and pd.notna(value):
                out[f"{split}_{row['scorer']}_{col}"] = float(value)
    for key, value in evaluation.headline().items():
        if isinstance(value, int | float) and pd.notna(value):
            out[f"headline_{key}"] = float(value)
    return out


@dataclass(frozen=True)
class Trained:
    prepared: Prepared
    training: TrainingResult
    evaluation: Evaluation
    report_html: Path
    report_json: Path
    version: VersionInfo | None


def train_and_register(
    prepared: Prepared,
    tracker: Tracker,
    *,
    model_spec: str | Path = DEFAULT_MODEL_SPEC,
    feature_spec: str | Path = DEFAULT_FEATURE_SPEC,
    truth: pd.DataFrame | None = None,
    capacity: int | None = None,
    seed: int = 0,
    report_dir: Path | None = None,
    step: Step | None = None,
) -> Trained:
    """Train with temporal validation, evaluate against the baselines (and the truth,
    if known), write the evaluation report, and record the run with ``tracker``."""
    say = step or (lambda _s: None)
    training = train(
        prepared.matrix,
        prepared.labels,
        prepared.plan,
        model_spec,
        feature_spec=feature_spec,
        seed=seed,
        progress=lambda name, _done, _total: say(f"training: {name}"),
    )
    say("evaluation")
    label = prepared.plan.label
    evaluation = evaluate(training.validation, label=label, truth=truth, capacity=capacity)
    reports = report_dir or Path(tempfile.mkdtemp(prefix="triage-reports-"))
    target = prepared.model_spec.target
    html, js = write_evaluation_report(
        evaluation,
        reports,
        label_description=target.description,
        prior_formula=training.prior_formula,
    )
    say("registry")
    bundle = training.bundle
    with tempfile.TemporaryDirectory(prefix="triage-bundle-") as tmp:
        folder = bundle.save(Path(tmp) / "bundle")
        meta = bundle.metadata
        record = RunRecord(
            label=label,
            params={
                "seed": seed,
                "calibration": meta["calibration"],
                "best_iteration": meta["best_iteration"],
                "training_rows": meta["training_rows"],
                "splits": len(prepared.plan.splits),
                **{f"lgb_{k}": v for k, v in dict(meta["lightgbm_params"]).items()},
            },
            metrics=run_metrics(evaluation),
            tags={
                "data_fingerprint": str(meta["data_fingerprint"]),
                "feature_spec_fingerprint": str(meta["feature_spec_fingerprint"]),
                "model_spec_fingerprint": str(meta["model_spec_fingerprint"]),
                "harm_sha256": str(meta["harm_sha256"]),
                "label": label,
            },
            bundle_dir=folder,
            booster_file=folder / "booster.txt",
            reports=[html, js],
            dataset=_dataset(prepared),
            description=f"{label}: LightGBM with {meta['calibration']} calibration",
        )
        version = tracker.record(record)
    return Trained(prepared, training, evaluation, html, js, version)


def _dataset(prepared: Prepared) -> pd.DataFrame:
    """The labelled training rows (ids, features, label) for MLflow's dataset digest."""
    rows = prepared.plan.final
    frame = prepared.matrix.to_frame().iloc[rows].reset_index(drop=True)
    # counts may be missing when scoring (e.g. without an orders table): declare every
    # integer column as a float so the logged schema says so
    ints = frame.select_dtypes(include=["integer"]).columns
    frame[ints] = frame[ints].astype("float64")
    label = prepared.labels[prepared.plan.label].iloc[rows]
    frame[prepared.plan.label] = label.astype("float64").to_numpy()
    return frame
