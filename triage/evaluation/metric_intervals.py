"""Bootstrap intervals for the pooled metrics of a model's out-of-time predictions,
and for the change in each metric between two models (docs/architecture.md §7, §10).

The input is the predictions a version logs for its audit (``registry/audit.py``):
label ``y``, calibrated score, the UTC day of the report and, when known, each
incident's victim cluster. As in the fairness audit, a resample draws every victim
cluster's multiplicity once, since one person's incidents escalate together; without
clusters each incident is its own. Each incident's share of the daily top *k* is
fixed from the full data, as in the audit, so recall@k and precision@k resample the
incidents reviewed, not the queue. With every weight 1 the numbers equal
``metrics.evaluate``'s pooled ones (tested), so an interval surrounds the figure the
run logged.

Two versions scored on the same rows (same data and splits) are compared *paired*:
one resample weights both, so the interval of the change leaves out the variation
the two share. Otherwise each is resampled on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from triage.evaluation.metrics import DEFAULT_BINS, capacity_weights
from triage.exceptions import ConfigError

__all__ = [
    "INTERVAL_METRICS",
    "Interval",
    "Scored",
    "change_intervals",
    "metric_intervals",
]

Float = npt.NDArray[np.float64]

#: the pooled metrics given an interval, as the run logs them (``pooled_model_<metric>``).
#: Not ECE: an absolute error summed over bins grows under resampling noise, so its
#: percentile interval can lie wholly above the figure it should surround.
INTERVAL_METRICS: tuple[str, ...] = (
    "roc_auc",
    "average_precision",
    "brier",
    "recall_at_k",
    "precision_at_k",
)


@dataclass(frozen=True)
class Interval:
    """A metric (or a change in one) and its percentile bootstrap interval."""

    metric: str
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class Scored:
    """One model's out-of-time predictions as arrays, with each incident's fixed share
    of its day's top ``capacity``."""

    y: Float
    score: Float
    top_k: Float
    clusters: npt.NDArray[np.int64]

    @classmethod
    def of(
        cls, frame: pd.DataFrame, *, capacity: int, score: str, cluster: str = "victim_cluster"
    ) -> Scored:
        missing = [c for c in ("y", score, "reported_at") if c not in frame]
        if missing:
            raise ConfigError(f"the logged predictions lack the columns {missing}")
        reported = pd.to_datetime(frame["reported_at"], utc=True).dt.tz_localize(None)
        days = reported.to_numpy().astype("datetime64[D]").astype(np.int64)
        s = frame[score].to_numpy(dtype=np.float64)
        if cluster in frame and not frame[cluster].isna().any():
            codes = pd.factorize(frame[cluster])[0].astype(np.int64)
        else:
            codes = np.arange(len(frame), dtype=np.int64)
        return cls(
            frame["y"].to_numpy(dtype=np.float64), s, capacity_weights(days, s, capacity), codes
        )


def _ece(y: Float, p: Float, w: Float, bins: int) -> float:
    idx = np.clip(np.floor(p * bins).astype(np.int64), 0, bins - 1)
    gaps = np.bincount(idx, weights=w * (p - y), minlength=bins)
    total = w.sum()
    return float(np.abs(gaps).sum() / total) if total else float("nan")


def _metrics(s: Scored, w: Float, bins: int) -> dict[str, float]:
    """The pooled metrics with row weights ``w`` (all 1: the plain figures)."""
    keep = w > 0
    y, p, ww = s.y[keep], s.score[keep], w[keep]
    nan = float("nan")
    both = 0 < y.sum() < len(y)
    found, positives, reviewed = (w * s.top_k * s.y).sum(), (w * s.y).sum(), (w * s.top_k).sum()
    return {
        "roc_auc": float(roc_auc_score(y, p, sample_weight=ww)) if both else nan,
        "average_precision": float(average_precision_score(y, p, sample_weight=ww))
        if both
        else nan,
        "brier": float((ww * (p - y) ** 2).sum() / ww.sum()) if len(y) else nan,
        "ece": _ece(y, p, ww, bins),
        "recall_at_k": float(found / positives) if positives else nan,
        "precision_at_k": float(found / reviewed) if reviewed else nan,
    }


def _weights(clusters: npt.NDArray[np.int64], rng: np.random.Generator) -> Float:
    n = int(clusters.max()) + 1 if len(clusters) else 0
    mult = rng.multinomial(n, np.full(n, 1.0 / n)) if n else np.zeros(0)
    return mult[clusters].astype(np.float64)


def _interval(metric: str, value: float, draws: list[float], confidence: float) -> Interval:
    finite = np.asarray([d for d in draws if np.isfinite(d)], dtype=np.float64)
    if not np.isfinite(value) or len(finite) == 0:
        return Interval(metric, value, float("nan"), float("nan"))
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return Interval(metric, value, float(low), float(high))


def metric_intervals(
    scored: Scored,
    *,
    resamples: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
    bins: int = DEFAULT_BINS,
) -> dict[str, Interval]:
    """Each of ``INTERVAL_METRICS`` with its percentile bootstrap interval."""
    rng = np.random.default_rng(seed)
    point = _metrics(scored, np.ones(len(scored.y)), bins)
    draws = [_metrics(scored, _weights(scored.clusters, rng), bins) for _ in range(resamples)]
    return {m: _interval(m, point[m], [d[m] for d in draws], confidence) for m in INTERVAL_METRICS}


def change_intervals(
    before: Scored,
    after: Scored,
    *,
    paired: bool,
    resamples: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
    bins: int = DEFAULT_BINS,
) -> Mapping[str, Interval]:
    """The change (after minus before) in each of ``INTERVAL_METRICS`` with its
    interval: ``paired`` when both scored the same rows in the same order."""
    if paired and len(before.y) != len(after.y):
        raise ConfigError("a paired comparison needs predictions on the same incidents")
    rng = np.random.default_rng(seed)
    a0 = _metrics(before, np.ones(len(before.y)), bins)
    b0 = _metrics(after, np.ones(len(after.y)), bins)
    draws: list[dict[str, float]] = []
    for _ in range(resamples):
        wa = _weights(before.clusters, rng)
        wb = wa if paired else _weights(after.clusters, rng)
        a, b = _metrics(before, wa, bins), _metrics(after, wb, bins)
        draws.append({m: b[m] - a[m] for m in INTERVAL_METRICS})
    return {
        m: _interval(m, b0[m] - a0[m], [d[m] for d in draws], confidence) for m in INTERVAL_METRICS
    }
