"""Two registered versions side by side, for ``triage compare`` and the auditor's
compare page (docs/architecture.md §8, §10): metric changes with bootstrap intervals,
fairness flags raised, cleared or no longer judged, whether the data differ, and how
far their daily queues agree.

Everything is read from the registry: the logged metrics, the fairness reports and
the predictions each version logged for its audit. Those carry no incident ids, so
two versions' queues can be matched only when both scored the same rows in the same
order: the same dataset digest and identical split, day, label and cluster columns.
Then the queue overlap is, over the days both scored, the share of the daily top *k*
places (the audit's capacity) that both versions give to the same incidents (an
incident tied at a cut counts for its share of a place, and in common for the smaller
of its two shares, as one tie-break shared by both would give), and the metric changes are paired;
otherwise the overlap is not computed, and says why.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from triage.evaluation.fairness import AuditSpec
from triage.evaluation.findings import ATTRIBUTE_TEXT, METRIC_TEXT
from triage.evaluation.metric_intervals import Scored, change_intervals
from triage.exceptions import ModelNotFoundError
from triage.registry.audit import (
    AUDIT_PREDICTIONS,
    AUDIT_SPEC,
    SCORE,
    compare_versions,
)
from triage.registry.tracking import AUDIT_PATH, MlflowRegistry, VersionInfo

__all__ = [
    "METRIC_TITLES",
    "Comparison",
    "DisparityChange",
    "MetricDelta",
    "QueueOverlap",
    "compare",
    "disparity_title",
    "queue_overlap",
]

#: what a reader sees for each compared metric, by its logged key
METRIC_TITLES: dict[str, str] = {
    "pooled_model_roc_auc": "pooled ROC AUC",
    "pooled_model_average_precision": "pooled average precision",
    "pooled_model_brier": "pooled Brier score (lower is better)",
    "pooled_model_ece": "pooled ECE, calibration error (lower is better)",
    "pooled_model_recall_at_k": "recall@k, escalations in the daily top k",
    "pooled_model_precision_at_k": "precision@k, daily top-k incidents that escalated",
    "headline_model_npe": "NPE at DASH's flag rate, escalations among those not flagged",
}
#: the columns that must be equal for two versions' logged rows to be the same incidents
_ALIGNED = ("split", "reported_at", "y", "victim_cluster", "perpetrator_cluster")


@dataclass(frozen=True)
class MetricDelta:
    """One metric before and after; ``low``/``high`` bound the change (NaN: no
    interval, e.g. a metric the logged predictions cannot recompute)."""

    key: str
    title: str
    before: float
    after: float
    low: float = math.nan
    high: float = math.nan

    @property
    def delta(self) -> float:
        return self.after - self.before

    @property
    def percent(self) -> bool:
        """Is it a share (shown in percent and percentage points)?"""
        return self.key.endswith(("recall_at_k", "precision_at_k", "npe"))


@dataclass(frozen=True)
class DisparityChange:
    """A primary or flagged disparity of either version, in words and as ratios."""

    key: str
    title: str
    primary: bool
    ratio_before: float
    ratio_after: float
    status_before: str
    status_after: str
    change: str


@dataclass(frozen=True)
class QueueOverlap:
    """Of the daily top-``capacity`` places on the days both versions scored, the share
    both give to the same incidents (``lowest``: the day they agreed least)."""

    capacity: int
    days: int
    places: float
    common: float
    lowest: float

    @property
    def share(self) -> float:
        return self.common / self.places if self.places else math.nan


@dataclass(frozen=True)
class Comparison:
    """What changed from ``before`` to ``after`` (see the module docstring)."""

    name: str
    before: VersionInfo
    after: VersionInfo
    digests: tuple[str | None, str | None]
    same_data: bool | None
    paired: bool
    confidence: float
    metrics: tuple[MetricDelta, ...]
    disparities: tuple[DisparityChange, ...]
    overlap: QueueOverlap | None
    overlap_note: str

    def _with(self, change: str) -> tuple[str, ...]:
        return tuple(d.key for d in self.disparities if d.change == change)

    @property
    def raised(self) -> tuple[str, ...]:
        """Disparities flagged after and not before."""
        return self._with("newly flagged")

    @property
    def cleared(self) -> tuple[str, ...]:
        """Flagged before; judged after and not flagged."""
        return self._with("cleared")

    @property
    def no_longer_judged(self) -> tuple[str, ...]:
        """Flagged before; too small to judge, undefined or absent after (not cleared)."""
        return self._with("no longer judged")


def disparity_title(key: str) -> str:
    """``victim_sex:male:fnr`` as a reader sees it."""
    attribute, _, rest = key.partition(":")
    group, _, metric = rest.rpartition(":")
    what = ATTRIBUTE_TEXT.get(attribute, attribute.replace("_", " "))
    return f"{what}, '{group}': {METRIC_TEXT.get(metric, metric)}"


def _logged(
    registry: MlflowRegistry, name: str, version: int, dst: Path
) -> tuple[pd.DataFrame, AuditSpec] | None:
    try:
        folder = registry.download_artifact(name, version, AUDIT_PATH, dst)
    except ModelNotFoundError:
        return None
    frame = pd.read_parquet(folder / AUDIT_PREDICTIONS)
    return frame, AuditSpec.model_validate_json((folder / AUDIT_SPEC).read_text())


def _aligned(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    if len(a) != len(b):
        return False
    for column in _ALIGNED:
        if (column in a) != (column in b):
            return False
        if column in a and not a[column].reset_index(drop=True).equals(
            b[column].reset_index(drop=True)
        ):
            return False
    return True


def queue_overlap(a: Scored, b: Scored, days: np.ndarray, capacity: int) -> QueueOverlap:
    """Overlap of two daily top-k lists on the same rows (see the module docstring)."""
    common = np.bincount(pd.factorize(days)[0], weights=np.minimum(a.top_k, b.top_k))
    places = np.bincount(pd.factorize(days)[0], weights=a.top_k)
    share = np.divide(common, places, out=np.ones_like(common), where=places > 0)
    return QueueOverlap(
        capacity,
        len(places),
        float(places.sum()),
        float(common.sum()),
        float(share.min()) if len(share) else math.nan,
    )


def compare(
    registry: MlflowRegistry,
    name: str,
    before: int | str,
    after: int | str,
    *,
    resamples: int = 200,
    seed: int = 0,
) -> Comparison:
    """Compare two versions of registered model ``name`` (numbers or aliases)."""
    base = compare_versions(registry, name, before, after)
    a, b = base.before, base.after
    with tempfile.TemporaryDirectory(prefix="triage-compare-") as tmp:
        old = _logged(registry, name, a.version, Path(tmp) / "a")
        new = _logged(registry, name, b.version, Path(tmp) / "b")
    intervals: dict[str, tuple[float, float]] = {}
    overlap, note, paired, confidence = None, "", False, 0.95
    if old is None or new is None:
        note = "not computed: a version logged no predictions for its audit"
    else:
        (fa, spec_a), (fb, spec_b) = old, new
        capacity = spec_a.operating_point.capacity
        paired = base.same_data is True and _aligned(fa, fb)
        sa = Scored.of(fa, capacity=capacity, score=SCORE)
        sb = Scored.of(fb, capacity=capacity, score=SCORE)
        changes = change_intervals(sa, sb, paired=paired, resamples=resamples, seed=seed)
        intervals = {f"pooled_model_{m}": (c.low, c.high) for m, c in changes.items()}
        if not paired:
            note = (
                "not computed: the versions were validated on different incidents "
                "(different data or splits), so their queues cannot be matched"
            )
        elif capacity != spec_b.operating_point.capacity:
            note = "not computed: the versions' audits used different daily capacities"
        else:
            days = pd.to_datetime(fa["reported_at"], utc=True).dt.strftime("%Y-%m-%d")
            overlap = queue_overlap(sa, sb, days.to_numpy(), capacity)
    metrics = tuple(
        MetricDelta(
            key,
            title,
            a.metrics.get(key, math.nan),
            b.metrics.get(key, math.nan),
            *intervals.get(key, (math.nan, math.nan)),
        )
        for key, title in METRIC_TITLES.items()
    )
    rows = base.disparities.to_dict("records")
    disparities = tuple(
        DisparityChange(
            str(r["disparity"]),
            disparity_title(str(r["disparity"])),
            bool(r["primary"]),
            float(r["ratio_before"]),
            float(r["ratio_after"]),
            str(r["status_before"]),
            str(r["status_after"]),
            str(r["change"]),
        )
        for r in rows
    )
    return Comparison(
        name,
        a,
        b,
        base.digests,
        base.same_data,
        paired,
        confidence,
        metrics,
        disparities,
        overlap,
        note,
    )
