"""Judging disparities: ratio to the reference group, bootstrap interval, status.

A group is judged on a metric only if it is large enough on two counts: the spec's
minimum incidents and escalations, and enough *expected events* for that metric. At
the reference group's rate, the group's denominator must yield at least
``min_group.expected_events`` events and as many non-events (for the missed-case rate:
missed and caught escalations). A percentile bootstrap of a rate built on two or three
events cannot reach beyond them, so without this rule a small group with no missed
case at all would be "flagged" with an interval of [0, 0].
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from triage.evaluation._audit_spec import AttributeSpec, AuditSpec
from triage.evaluation._bootstrap import Float
from triage.evaluation._fairness_result import (
    FLAGGED,
    NOT_JUDGED,
    OUTSIDE,
    REFERENCE,
    TOO_SMALL,
    UNCERTAIN,
    UNDEFINED,
    WITHIN,
    Disparity,
)
from triage.evaluation._groups import MISSING

__all__ = ["MAX_UNDEFINED_SHARE", "PRIMARY_METRIC", "disparities", "expected_events", "status"]

PRIMARY_METRIC = "fnr"
#: share of resamples with an undefined ratio above which no interval is given
MAX_UNDEFINED_SHARE = 0.05

#: metric -> (its denominator, the rate whose events it counts)
_COUNTED: dict[str, tuple[str, str]] = {
    "fnr": ("positives", "fnr"),
    "capacity_recall": ("positives", "capacity_recall"),
    "fpr": ("negatives", "fpr"),
    "precision": ("flagged", "precision"),
    "fdr": ("flagged", "fdr"),
    "selection_rate": ("n", "selection_rate"),
    "base_rate": ("n", "base_rate"),
    "calibration": ("n", "base_rate"),
    "mean_score": ("n", "mean_score"),
}


def expected_events(metric: str, point: dict[str, Float], ref: int) -> Float:
    """Per group: the fewer of events and non-events it would count at the reference
    group's rate (for AUC: the fewer of its escalations and non-escalations)."""
    n, pos = point["n"], point["positives"]
    if metric == "auc":
        return np.minimum(pos, n - pos)
    denominators = {"n": n, "positives": pos, "negatives": n - pos, "flagged": point["flagged"]}
    denominator, rate_of = _COUNTED[metric]
    rate = float(point[rate_of][ref])
    if not np.isfinite(rate):
        return np.zeros_like(n)
    return denominators[denominator] * min(rate, 1.0 - rate)


def status(
    *,
    ratio: float,
    low: float,
    high: float,
    tolerance: tuple[float, float],
    judgeable: bool,
) -> str:
    """Too small, undefined, flagged (interval wholly outside the band), within
    (interval wholly inside) or uncertain (the interval straddles an edge)."""
    if not judgeable:
        return TOO_SMALL
    if not (np.isfinite(ratio) and np.isfinite(low) and np.isfinite(high)):
        return UNDEFINED
    band_low, band_high = tolerance
    if high < band_low or low > band_high:
        return FLAGGED
    if band_low <= low and high <= band_high:
        return WITHIN
    return UNCERTAIN


def _interval(draws: Float, confidence: float) -> tuple[float, float]:
    undefined = ~np.isfinite(draws)
    if undefined.mean() > MAX_UNDEFINED_SHARE:
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2
    low, high = np.quantile(draws[~undefined], [tail, 1 - tail])
    return float(low), float(high)


def _ratio(num: Float, den: Float) -> Float:
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=(den > 0) & np.isfinite(den))
    return out


def disparities(
    attribute: AttributeSpec,
    names: tuple[str, ...],
    point: dict[str, Float],
    draws: dict[str, Float],
    ref: int,
    judgeable: npt.NDArray[np.bool_],
    spec: AuditSpec,
) -> list[Disparity]:
    """Every (group, metric) disparity of one grouping to its reference group."""
    out = []
    tests = set(attribute.tests)
    for metric in (*attribute.tests, *attribute.report):
        ratios = _ratio(point[metric], point[metric][ref])
        boot = _ratio(draws[metric], draws[metric][:, [ref]])
        enough = expected_events(metric, point, ref) >= spec.min_group.expected_events
        for g, group in enumerate(names):
            if g == ref:
                low = high = float("nan")
                verdict = REFERENCE
            else:
                low, high = _interval(boot[:, g], spec.bootstrap.confidence)
                verdict = status(
                    ratio=float(ratios[g]),
                    low=low,
                    high=high,
                    tolerance=spec.tolerance,
                    judgeable=bool(judgeable[g] and judgeable[ref] and enough[g] and enough[ref]),
                )
                if group == MISSING and not spec.judge_missing and verdict != TOO_SMALL:
                    verdict = NOT_JUDGED
            if metric not in tests and verdict == FLAGGED:
                verdict = OUTSIDE
            out.append(
                Disparity(
                    attribute=attribute.name,
                    group=group,
                    metric=metric,
                    reference=names[ref],
                    value=float(point[metric][g]),
                    reference_value=float(point[metric][ref]),
                    ratio=float(ratios[g]),
                    low=low,
                    high=high,
                    status=verdict,
                    test=metric in tests,
                    primary=(
                        attribute.side == "victim" and metric == PRIMARY_METRIC and metric in tests
                    ),
                )
            )
    return out
