"""The data scientist's main job as one call: an extract in, a trained, evaluated,
audited and registered model version out. The CLI's ``train`` and ``demo`` are thin
shells on these functions, and notebooks call them too.

Every registered version carries (docs/architecture.md §10) the evaluation report, the fairness
report (HTML and JSON) of its out-of-time predictions at the team's operating point,
the global SHAP summary (beeswarm and bar plots, mean |SHAP| JSON), the model card,
and under ``audit/`` what re-running the audit needs (see :mod:`triage.registry.audit`).
The run's ``fairness.flags`` tag lists the primary flags for the promotion gate."""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import yaml

from triage import __version__
from triage.config import (
    DEFAULT_FEATURE_SPEC,
    DEFAULT_MODEL_SPEC,
    FeatureSetSpec,
    ModelSpec,
    SpecSource,
    read_spec,
)
from triage.contract.harm import HarmWeights, load_harm_weights
from triage.contract.names import Extract
from triage.evaluation import Evaluation, evaluate, write_evaluation_report
from triage.evaluation.alert_figures import with_alert_figures
from triage.evaluation.explain import (
    GlobalExplanation,
    global_explanation,
    write_global_explanation,
)
from triage.evaluation.fairness import (
    AuditSpec,
    FairnessReport,
    audit_fairness,
    load_audit_spec,
    with_audit_attributes,
)
from triage.evaluation.fairness_report import write_fairness_report
from triage.exceptions import ConfigError
from triage.features.build import FeatureMatrix, build_features
from triage.features.labels import build_labels
from triage.models.temporal import TemporalPlan, make_splits
from triage.models.training import TrainingResult, train
from triage.registry.audit import SCORE, audit_predictions, write_audit_data
from triage.registry.card import log_model_card
from triage.registry.gates import (
    FAIRNESS_FLAGS_TAG,
    FAIRNESS_UNJUDGED_TAG,
    FAMILY_REASON_TAG,
    FAMILY_TAG,
)
from triage.registry.tracking import AUDIT_PATH, MlflowRegistry, RunRecord, Tracker, VersionInfo

__all__ = [
    "Prepared",
    "Trained",
    "audit_validation",
    "for_label",
    "prepare",
    "run_metrics",
    "spec_for_label",
    "train_and_register",
]

logger = logging.getLogger(__name__)

#: incidents sampled for the global SHAP summary (enough for stable mean |SHAP|)
SHAP_SAMPLE = 1000
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
    #: the specs' exact text as read, kept with the bundle and hashed
    model_text: str
    feature_text: str
    #: the extract end the labels were censored at (``None``: the latest report)
    end: pd.Timestamp | None = None


#: the spec's top-level ``label:`` line (its value and any comment after it)
_LABEL_LINE = re.compile(r"^label:[ \t]*[^\s#]+[ \t]*(#.*)?$", re.MULTILINE)


def spec_for_label(model_spec: SpecSource, label: str | None) -> tuple[ModelSpec, str]:
    """The model spec predicting ``label`` (``None``: the spec's own ``label``) and its
    text. Any label the spec defines can be trained; the text keeps its comments with
    only the ``label:`` line changed, so the bundle's copy reads like the file. An
    unknown label is a ``ConfigError`` naming the defined ones, raised before any work."""
    spec, text = read_spec(model_spec, ModelSpec, DEFAULT_MODEL_SPEC)
    if label is None or label == spec.label:
        return spec, text
    known = [lab.name for lab in spec.labels]
    if label not in known:
        raise ConfigError(f"unknown label {label!r}: the model spec defines {', '.join(known)}")
    chosen = spec.model_copy(update={"label": label})
    edited, count = _LABEL_LINE.subn(
        lambda m: f"label: {label}" + (f"  {m.group(1)}" if m.group(1) else ""), text, count=1
    )
    try:
        same = count == 1 and ModelSpec.model_validate(yaml.safe_load(edited)) == chosen
    except (yaml.YAMLError, ValueError):
        same = False
    if not same:  # a spec written another way: its canonical form (comments lost)
        edited = yaml.safe_dump(chosen.model_dump(mode="json"), sort_keys=False)
    return chosen, edited


def prepare(
    extract: Extract,
    model_spec: SpecSource = DEFAULT_MODEL_SPEC,
    feature_spec: SpecSource = DEFAULT_FEATURE_SPEC,
    *,
    label: str | None = None,
    harm: HarmWeights | None = None,
    end: pd.Timestamp | None = None,
    step: Step | None = None,
) -> Prepared:
    """Labels (every label the spec defines), point-in-time features and the temporal
    splits of ``label`` (default: the spec's ``label``)."""
    say = step or (lambda _s: None)
    harm = harm or load_harm_weights()
    mspec, mtext = spec_for_label(model_spec, label)
    fspec, ftext = read_spec(feature_spec, FeatureSetSpec, DEFAULT_FEATURE_SPEC)
    say("labels")
    labels = build_labels(extract, mspec.labels, end=end, harm_weights=harm)
    say("features")
    matrix = build_features(extract, spec=fspec, harm_weights=harm)
    say("temporal splits")
    plan = make_splits(labels, mspec.target, mspec.splits, end=end)
    return Prepared(extract, mspec, fspec, labels, matrix, plan, mtext, ftext, end)


def for_label(prepared: Prepared, label: str) -> Prepared:
    """The same extract prepared for another label of its spec: labels and features
    are reused (every label was built), only the temporal splits are made anew."""
    mspec, mtext = spec_for_label((prepared.model_spec, prepared.model_text), label)
    plan = make_splits(prepared.labels, mspec.target, mspec.splits, end=prepared.end)
    return replace(prepared, model_spec=mspec, model_text=mtext, plan=plan)


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


def audit_validation(
    training: TrainingResult,
    matrix: FeatureMatrix,
    spec: AuditSpec | None = None,
    incidents: pd.DataFrame | None = None,
) -> tuple[FairnessReport, pd.DataFrame]:
    """Audit the out-of-time predictions at ``spec``'s operating point (default: the
    shipped ``evaluation/audit.yaml``); returns the report and the predictions as
    logged for re-auditing (group labels, scores and cluster numbers, no identifiers).
    ``incidents`` (the extract's) name each incident's victim and perpetrator, so the
    bootstrap resamples people; without them it resamples incidents."""
    spec = spec if spec is not None else load_audit_spec()
    scored = with_audit_attributes(training.validation, matrix.audit)
    if incidents is not None:
        people = incidents[["incident_id", "victim_id", "perpetrator_id"]].astype("string")
        scored = scored.merge(people, on="incident_id", how="left", validate="many_to_one")
    logged = audit_predictions(scored, spec)
    return audit_fairness(logged, spec, score=SCORE), logged


def _audit_spec(spec: str | Path | AuditSpec | None, capacity: int) -> AuditSpec:
    """The audit spec with the team's capacity as its operating point."""
    base = spec if isinstance(spec, AuditSpec) else load_audit_spec(spec)
    point = base.operating_point.model_copy(update={"capacity": capacity})
    return base.model_copy(update={"operating_point": point})


@dataclass(frozen=True)
class Trained:
    """What ``train_and_register`` produced; the files are in the report folder."""

    prepared: Prepared
    training: TrainingResult
    evaluation: Evaluation
    report_html: Path
    report_json: Path
    version: VersionInfo | None
    fairness: FairnessReport
    fairness_html: Path
    fairness_json: Path
    shap: GlobalExplanation
    shap_files: tuple[Path, ...]
    model_card: Path | None


def train_and_register(
    prepared: Prepared,
    tracker: Tracker,
    *,
    truth: pd.DataFrame | None = None,
    capacity: int | None = None,
    seed: int = 0,
    report_dir: Path | None = None,
    audit_spec: str | Path | AuditSpec | None = None,
    shap_sample: int = SHAP_SAMPLE,
    step: Step | None = None,
) -> Trained:
    """Train with temporal validation, evaluate against the baselines (and the truth,
    if known), audit fairness at the team's daily capacity, summarise with SHAP, write
    the reports, and record the run with ``tracker``; a registry also gets the card."""
    say = step or (lambda _s: None)
    training = train(
        prepared.matrix,
        prepared.labels,
        prepared.plan,
        (prepared.model_spec, prepared.model_text),
        feature_spec=(prepared.feature_spec, prepared.feature_text),
        seed=seed,
        progress=lambda name, _done, _total: say(f"training: {name}"),
    )
    say("evaluation")
    label = prepared.plan.label
    evaluation = evaluate(training.validation, label=label, truth=truth, capacity=capacity)
    evaluation = with_alert_figures(evaluation, prepared.extract)
    reports = report_dir or Path(tempfile.mkdtemp(prefix="triage-reports-"))
    target = prepared.model_spec.target
    html, js = write_evaluation_report(
        evaluation,
        reports,
        label_description=target.description,
        prior_formula=training.prior_formula,
    )
    say("fairness audit")
    spec = _audit_spec(audit_spec, evaluation.capacity)
    fairness, logged = audit_validation(training, prepared.matrix, spec, prepared.extract.incidents)
    fair_html, fair_json = write_fairness_report(fairness, reports, extra={"label": label})
    say("SHAP summary")
    final = prepared.matrix.X.iloc[prepared.plan.final]
    shap = global_explanation(
        training.bundle, final, prepared.matrix.catalogue, sample=shap_sample, seed=seed
    )
    shap_files = write_global_explanation(shap, reports)
    say("registry")
    bundle = training.bundle
    with tempfile.TemporaryDirectory(prefix="triage-bundle-") as tmp:
        folder = bundle.save(Path(tmp) / "bundle")
        audit_files = write_audit_data(logged, spec, Path(tmp) / AUDIT_PATH)
        meta = bundle.metadata
        record = RunRecord(
            label=label,
            params={
                "seed": seed,
                "calibration": meta["calibration"],
                "best_iteration": meta["best_iteration"],
                "training_rows": meta["training_rows"],
                "splits": len(prepared.plan.splits),
                "capacity": evaluation.capacity,
                "shap_sample": shap.sample_size,
                **{f"lgb_{k}": v for k, v in dict(meta["lightgbm_params"]).items()},
            },
            metrics={
                **run_metrics(evaluation),
                **{f"family_auc_{f}": a for f, a in training.family.pooled_auc.items()},
            },
            tags={
                "data_fingerprint": str(meta["data_fingerprint"]),
                "feature_spec_fingerprint": str(meta["feature_spec_fingerprint"]),
                "model_spec_fingerprint": str(meta["model_spec_fingerprint"]),
                "harm_sha256": str(meta["harm_sha256"]),
                "label": label,
                "label_description": target.description,
                FAMILY_TAG: training.family.family,
                FAMILY_REASON_TAG: training.family.reason,
                "triage_version": __version__,
                "audit_spec_fingerprint": fairness.spec_fingerprint,
                FAIRNESS_FLAGS_TAG: ",".join(fairness.primary_flags),
                FAIRNESS_UNJUDGED_TAG: ",".join(fairness.unjudged),
                **_periods(prepared, training),
            },
            bundle_dir=folder,
            booster_file=folder / "booster.txt",
            reports=[html, js, fair_html, fair_json, *shap_files],
            dataset=_dataset(prepared),
            description=f"{label}: {training.family.family} with {meta['calibration']} calibration",
            artifacts={AUDIT_PATH: audit_files},
        )
        version = tracker.record(record)
    card = None
    if version is not None and isinstance(tracker, MlflowRegistry):
        say("model card")
        card = log_model_card(tracker, version.name, version.version, reports)
    return Trained(
        prepared,
        training,
        evaluation,
        html,
        js,
        version,
        fairness,
        fair_html,
        fair_json,
        shap,
        tuple(shap_files),
        card,
    )


def _periods(prepared: Prepared, training: TrainingResult) -> dict[str, str]:
    """First and last report days of the training rows and the validation rows."""
    reported = pd.to_datetime(prepared.labels["reported_at"], utc=True)
    train_days = reported.iloc[prepared.plan.final]
    test_days = pd.to_datetime(training.validation["reported_at"], utc=True)
    out = {}
    for what, days in (("training", train_days), ("validation", test_days)):
        if len(days):
            out[f"{what}.first_day"] = days.min().strftime("%Y-%m-%d")
            out[f"{what}.last_day"] = days.max().strftime("%Y-%m-%d")
    return out


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
