"""Judging disparities: ratio to the reference group, bootstrap interval, status and
the smallest disparity the audit could have detected.

**One rule for "too small to judge"** (:func:`judged`), read by the verdicts, the
tables, the model card and the promotion gate alike: a group is judged on a metric
only if it and its reference group each have the spec's minimum incidents and
escalations, and enough *expected events* for that metric: at the reference group's
rate, the group's denominator must yield at least ``min_group.expected_events``
events and as many non-events (for the missed-case rate: missed and caught
escalations). A percentile bootstrap of a rate built on two or three events cannot
reach beyond them, so without this rule a small group with no missed case at all
would be "flagged" with an interval of [0, 0].

**Power.** For each judged comparison, ``detectable_low`` / ``detectable_high`` are
the ratios a true disparity must reach, below or above the band, to be flagged with
80% power: with ``se`` the bootstrap standard deviation of the log ratio and a
normal approximation, ``edge * exp(-/+ (z_(1+c)/2 + z_0.8) * se)``.
"""

from __future__ import annotations

from statistics import NormalDist

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

__all__ = [
    "MAX_UNDEFINED_SHARE",
    "POWER",
    "PRIMARY_METRICS",
    "detectable",
    "disparities",
    "expected_events",
    "judged",
    "status",
]

#: the primary tests across victim groups: missed cases, and calibration within group
PRIMARY_METRICS = ("fnr", "calibration")
#: share of resamples with an undefined ratio above which no interval is given
MAX_UNDEFINED_SHARE = 0.05
#: the power at which the detectable disparity is stated
POWER = 0.8

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


def judged(
    metric: str, point: dict[str, Float], ref: int, spec: AuditSpec
) -> npt.NDArray[np.bool_]:
    """Per group: may its ``metric`` be compared with the reference group's? The one
    rule for "too small to judge" (see the module docstring)."""
    sized = (point["n"] >= spec.min_group.n) & (point["positives"] >= spec.min_group.positives)
    enough = expected_events(metric, point, ref) >= spec.min_group.expected_events
    ok = sized & enough
    return np.asarray(ok & ok[ref], dtype=np.bool_)


def detectable(
    log_draws: Float, tolerance: tuple[float, float], confidence: float
) -> tuple[float, float]:
    """The ratios below and above the band that would be flagged with 80% power, from
    the bootstrap spread of the log ratio (NaN when it has none)."""
    finite = log_draws[np.isfinite(log_draws)]
    se = float(np.std(finite, ddof=1)) if finite.size > 1 else float("nan")
    if not np.isfinite(se) or se <= 0:
        return float("nan"), float("nan")
    normal = NormalDist()
    reach = (normal.inv_cdf((1 + confidence) / 2) + normal.inv_cdf(POWER)) * se
    low, high = tolerance
    return float(low * np.exp(-reach)), float(high * np.exp(reach))


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
    spec: AuditSpec,
) -> list[Disparity]:
    """Every (group, metric) disparity of one grouping to its reference group."""
    out = []
    tests = set(attribute.tests)
    for metric in (*attribute.tests, *attribute.report):
        ratios = _ratio(point[metric], point[metric][ref])
        boot = _ratio(draws[metric], draws[metric][:, [ref]])
        ok = judged(metric, point, ref, spec)
        for g, group in enumerate(names):
            d_low = d_high = low = high = float("nan")
            if g == ref:
                verdict = REFERENCE
            else:
                low, high = _interval(boot[:, g], spec.bootstrap.confidence)
                verdict = status(
                    ratio=float(ratios[g]),
                    low=low,
                    high=high,
                    tolerance=spec.tolerance,
                    judgeable=bool(ok[g]),
                )
                if group == MISSING and not spec.judge_missing and verdict != TOO_SMALL:
                    verdict = NOT_JUDGED
                if verdict in (FLAGGED, WITHIN, UNCERTAIN):
                    with np.errstate(divide="ignore", invalid="ignore"):
                        logs = np.log(boot[:, g])
                    d_low, d_high = detectable(logs, spec.tolerance, spec.bootstrap.confidence)
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
                        attribute.side == "victim" and metric in PRIMARY_METRICS and metric in tests
                    ),
                    detectable_low=d_low,
                    detectable_high=d_high,
                )
            )
    return out
