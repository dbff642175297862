"""A registered version's audit trail: the predictions logged so that its fairness
audit can be re-run from the registry alone, the audit re-run, and what changed
between two versions.

With every version the run logs, under ``audit/``, its out-of-time validation
predictions at the audit's operating point (``predictions.parquet``) and the exact
audit spec used (``audit_spec.json``, the team's capacity written in). The
predictions carry no identifiers: no incident, victim or perpetrator id; the report
time cut to its UTC day (all the daily queue needs); sex, ethnicity and deprivation
decile as recorded; ages cut to the lower edge of their audit band (``<25`` as 0);
and each incident's victim and perpetrator cluster (``victim_cluster``,
``perpetrator_cluster``), numbered 0, 1, 2 ... in order of first appearance within
these predictions (an unnamed suspect's incident is a cluster of its own), so the
bootstrap can resample people without knowing who they are. These are group labels,
not people: auditing them gives exactly the report logged with the version.
Predictions logged before the cluster columns existed still re-audit, resampling
incidents one by one (the report says so).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from triage.evaluation.fairness import (
    CLUSTER_COLUMNS,
    AuditSpec,
    FairnessReport,
    audit_fairness,
    cluster_codes,
)
from triage.evaluation.fairness_report import CHANGE_COLUMNS, disparity_changes
from triage.exceptions import ModelNotFoundError
from triage.registry.tracking import AUDIT_PATH, REPORTS_PATH, MlflowRegistry, VersionInfo

__all__ = [
    "AUDIT_COLUMNS",
    "AUDIT_PREDICTIONS",
    "AUDIT_SPEC",
    "COMPARED_METRICS",
    "FAIRNESS_JSON",
    "SCORE",
    "MetricChange",
    "VersionComparison",
    "audit_predictions",
    "compare_versions",
    "dataset_digest",
    "logged_fairness",
    "reaudit",
    "write_audit_data",
]

AUDIT_PREDICTIONS = "predictions.parquet"
AUDIT_SPEC = "audit_spec.json"
FAIRNESS_JSON = "fairness.json"
#: the column of the logged predictions holding the model's calibrated probability
SCORE = "score_model"
#: the columns logged for re-auditing, and nothing else
AUDIT_COLUMNS = (
    "split",
    "reported_at",
    "y",
    SCORE,
    "victim_sex",
    "victim_ethnicity",
    "victim_age",
    "perpetrator_sex",
    "perpetrator_ethnicity",
    "perpetrator_age",
    "deprivation_decile",
    CLUSTER_COLUMNS["victim"],
    CLUSTER_COLUMNS["perpetrator"],
)
#: the id column each cluster column is numbered from (the ids themselves never logged)
_CLUSTER_IDS = {
    CLUSTER_COLUMNS["victim"]: "victim_id",
    CLUSTER_COLUMNS["perpetrator"]: "perpetrator_id",
}
_AGES = ("victim_age", "perpetrator_age")
#: the metrics ``compare_versions`` sets side by side: (what readers see, run metric)
COMPARED_METRICS: tuple[tuple[str, str], ...] = (
    ("pooled ROC AUC", "pooled_model_roc_auc"),
    ("pooled average precision", "pooled_model_average_precision"),
    ("pooled Brier score", "pooled_model_brier"),
    ("pooled ECE", "pooled_model_ece"),
    ("recall@k", "pooled_model_recall_at_k"),
    ("NPE at DASH's flag rate", "headline_model_npe"),
)


def _band_floor(age: pd.Series, edges: tuple[int, ...]) -> pd.Series:
    values = pd.to_numeric(age, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    cuts = np.asarray(edges, dtype=np.float64)
    band = np.searchsorted(cuts, values, side="right")
    lower = np.where(band == 0, 0.0, cuts[np.maximum(band - 1, 0)])
    return pd.Series(np.where(np.isnan(values), np.nan, lower), index=age.index)


def audit_predictions(scored: pd.DataFrame, spec: AuditSpec) -> pd.DataFrame:
    """The audit's input as it is logged (see the module docstring): the columns of
    ``AUDIT_COLUMNS`` that ``scored`` has, identifiers replaced by cluster numbers,
    times and ages cut."""
    out = scored[[c for c in AUDIT_COLUMNS if c in scored]].copy()
    for column, ids in _CLUSTER_IDS.items():
        if ids in scored:
            out[column] = cluster_codes(scored[ids].reset_index(drop=True))
    out["reported_at"] = pd.to_datetime(out["reported_at"], utc=True).dt.floor("D")
    for column in _AGES:
        if column in out:
            out[column] = _band_floor(out[column], spec.age_bands)
    for column in out.select_dtypes(include=["category", "object"]).columns:
        out[column] = out[column].astype("string")
    return out.reset_index(drop=True)


def write_audit_data(predictions: pd.DataFrame, spec: AuditSpec, folder: Path) -> list[Path]:
    """Write the logged predictions and the audit spec to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    data, spec_file = folder / AUDIT_PREDICTIONS, folder / AUDIT_SPEC
    predictions.to_parquet(data, index=False)
    spec_file.write_text(spec.model_dump_json(indent=2) + "\n")
    return [data, spec_file]


def reaudit(
    registry: MlflowRegistry, name: str, version: int | str, dst: Path | None = None
) -> FairnessReport:
    """Re-run a version's fairness audit from its logged predictions and spec
    (downloaded to ``dst``, or to a temporary folder removed afterwards)."""
    if dst is None:
        with tempfile.TemporaryDirectory(prefix="triage-audit-") as tmp:
            return reaudit(registry, name, version, Path(tmp))
    folder = registry.download_artifact(name, version, AUDIT_PATH, dst)
    frame = pd.read_parquet(folder / AUDIT_PREDICTIONS)
    spec = AuditSpec.model_validate_json((folder / AUDIT_SPEC).read_text())
    return audit_fairness(frame, spec, score=SCORE)


def logged_fairness(
    registry: MlflowRegistry, name: str, version: int | str, dst: Path | None = None
) -> FairnessReport:
    """The fairness report logged with a version (``ModelNotFoundError`` if none),
    downloaded to ``dst`` or to a temporary folder removed afterwards."""
    if dst is None:
        with tempfile.TemporaryDirectory(prefix="triage-fairness-") as tmp:
            return logged_fairness(registry, name, version, Path(tmp))
    path = registry.download_artifact(name, version, f"{REPORTS_PATH}/{FAIRNESS_JSON}", dst)
    return FairnessReport.from_dict(json.loads(path.read_text()))


@dataclass(frozen=True)
class MetricChange:
    title: str
    key: str
    before: float
    after: float

    @property
    def delta(self) -> float:
        return self.after - self.before


@dataclass(frozen=True)
class VersionComparison:
    """Two versions side by side: their metrics, their disparities
    (``triage.evaluation.fairness_report.disparity_changes``) and the digests of the
    data each was trained on (``None`` where a run logged none)."""

    before: VersionInfo
    after: VersionInfo
    metrics: tuple[MetricChange, ...]
    disparities: pd.DataFrame
    digests: tuple[str | None, str | None] = (None, None)

    @property
    def same_data(self) -> bool | None:
        """Were both trained on the same data? ``None`` when a digest is unknown."""
        a, b = self.digests
        return None if a is None or b is None else a == b

    @property
    def no_longer_judged(self) -> list[str]:
        return self._with("no longer judged")

    @property
    def newly_flagged(self) -> list[str]:
        return self._with("newly flagged")

    @property
    def cleared(self) -> list[str]:
        return self._with("cleared")

    def _with(self, change: str) -> list[str]:
        d = self.disparities
        return [str(x) for x in d.loc[d["change"] == change, "disparity"]]


def compare_versions(
    registry: MlflowRegistry, name: str, before: int | str, after: int | str
) -> VersionComparison:
    """What changed from version ``before`` to ``after``: each of ``COMPARED_METRICS``
    (NaN where a run did not log it) and every primary or flagged disparity."""
    a, b = registry.version(name, before), registry.version(name, after)
    digests = (dataset_digest(registry, a), dataset_digest(registry, b))
    metrics = tuple(
        MetricChange(title, key, a.metrics.get(key, np.nan), b.metrics.get(key, np.nan))
        for title, key in COMPARED_METRICS
    )
    with tempfile.TemporaryDirectory(prefix="triage-compare-") as tmp:
        old = _fairness_or_none(registry, name, a.version, Path(tmp) / "a")
        new = _fairness_or_none(registry, name, b.version, Path(tmp) / "b")
    if old is None or new is None:  # a version registered before runs were audited
        empty = pd.DataFrame(columns=list(CHANGE_COLUMNS))
        return VersionComparison(a, b, metrics, empty, digests)
    return VersionComparison(a, b, metrics, disparity_changes(old, new), digests)


def dataset_digest(registry: MlflowRegistry, info: VersionInfo) -> str | None:
    """The digest of the training data the version's run logged (MLflow's dataset
    input; else the bundle's data fingerprint tag; ``None`` if neither)."""
    inputs = registry.client.get_run(info.run_id).inputs
    for item in getattr(inputs, "dataset_inputs", None) or ():
        digest = getattr(item.dataset, "digest", None)
        if digest:
            return str(digest)
    return info.tags.get("data_fingerprint") or None


def _fairness_or_none(
    registry: MlflowRegistry, name: str, version: int, dst: Path
) -> FairnessReport | None:
    try:
        return logged_fairness(registry, name, version, dst)
    except ModelNotFoundError:
        return None
