"""The fairness audit (docs/architecture.md §8): per-group metrics at the hub's operating point and
their disparities to a reference group, with bootstrap intervals and flags.

Input: one row per scored, labelled incident with the label (``y``, 0/1 or bool, no
missing values), the predicted probability (``score``), ``reported_at`` and the
protected attributes of :attr:`triage.features.build.FeatureMatrix.audit`
(:func:`with_audit_attributes` joins them on ``incident_id``).

Operating point: by default each UTC day's top ``capacity`` incidents by score are
flagged, the way the hub works through its daily queue (within each temporal split if
the frame has a ``split`` column, so out-of-time predictions of different splits never
compete). Incidents with equal scores at the cut share the remaining places (each is
flagged with the chance a random tie-break would pick it, as in the evaluation's
recall@k), so counts are expected counts. With a ``threshold``, every score at or
above it is flagged instead. The capacity view, the share of each group's
escalations that reach the daily top ``capacity``, is reported under either rule.

Disparity: a group's metric divided by its reference group's (the largest group, or
one named in the spec). Its interval is a percentile bootstrap over incidents: every
grouping sees the same resamples. A disparity is flagged when the whole interval
lies outside the tolerance band (default [0.8, 1.25]); a group with fewer incidents or
escalations than the spec's minimums is "too small to judge" and never flagged. The
primary test is missed cases (FNR) across victim groups; for perpetrator groups the
false discovery and false positive rates are tested, since a flag can be punitive.

The per-group numbers are exactly fairlearn ``MetricFrame``'s (:func:`metric_frame`
builds one; a test checks every metric and group), computed from weighted group sums
so that 200 resamples of 100,000 incidents take seconds. Group-specific thresholds
(fairlearn ``ThresholdOptimizer``) are shown as an option considered, never applied.
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt
import pandas as pd

from triage.evaluation._audit_spec import AttributeSpec, AuditSpec, load_audit_spec
from triage.evaluation._bootstrap import (
    RATE_METRICS,
    Float,
    Grouping,
    Outcomes,
    bootstrap,
    group_metrics,
)
from triage.evaluation._fairness_result import (
    FLAGGED,
    AttributeResult,
    Disparity,
    FairnessReport,
    GroupResult,
    OperatingPoint,
    ThresholdChange,
    ThresholdOption,
)
from triage.evaluation._groups import MISSING, REQUIRED_COLUMNS, daily_top_k, group_codes
from triage.evaluation._judge import disparities
from triage.evaluation._metric_frame import metric_frame
from triage.evaluation._thresholds import consider_thresholds
from triage.evaluation.findings import summarise
from triage.exceptions import ConfigError, SchemaError

__all__ = [
    "AttributeResult",
    "AuditSpec",
    "Disparity",
    "FairnessReport",
    "GroupResult",
    "OperatingPoint",
    "ThresholdChange",
    "ThresholdOption",
    "audit_fairness",
    "load_audit_spec",
    "metric_frame",
    "with_audit_attributes",
]

logger = logging.getLogger(__name__)


def with_audit_attributes(scored: pd.DataFrame, audit: pd.DataFrame) -> pd.DataFrame:
    """``scored`` (e.g. out-of-time predictions) with each incident's protected
    attributes from ``FeatureMatrix.audit``, joined on ``incident_id``."""
    for frame, what in ((scored, "scored incidents"), (audit, "audit attributes")):
        if "incident_id" not in frame:
            raise SchemaError([], message=f"the {what} lack the column 'incident_id'")
    if audit["incident_id"].duplicated().any():
        raise SchemaError([], message="the audit attributes repeat an incident_id")
    extra = audit.drop(columns=[c for c in audit if c in scored and c != "incident_id"])
    joined = scored.merge(extra, on="incident_id", how="left", validate="many_to_one")
    missing = ~scored["incident_id"].isin(audit["incident_id"]).to_numpy()
    if missing.any():
        raise SchemaError(
            [],
            message=f"{int(missing.sum())} scored incidents have no audit attributes, "
            f"e.g. {scored['incident_id'][missing].iloc[0]!r}",
        )
    return joined


def _checked_outcomes(
    scored: pd.DataFrame, spec: AuditSpec, score: str, label: str
) -> tuple[npt.NDArray[np.bool_], Float]:
    needed = {label, score, "reported_at"}
    for attribute in spec.attributes:
        needed.update(REQUIRED_COLUMNS[attribute.name])
    if spec.thresholds.enabled:
        needed.update(REQUIRED_COLUMNS[spec.thresholds.attribute])
    missing = sorted(needed - set(scored.columns))
    if missing:
        raise SchemaError([], message=f"the scored incidents lack the columns {missing}")
    if scored.empty:
        raise SchemaError([], message="there are no scored incidents to audit")
    y_col = scored[label]
    if y_col.isna().any():
        raise SchemaError(
            [], message=f"{int(y_col.isna().sum())} incidents have no {label!r} (censored?)"
        )
    y_values = pd.to_numeric(y_col.astype("object"), errors="coerce")
    if not y_values.isin([0, 1]).all():
        raise SchemaError([], message=f"the label {label!r} must be 0/1 or true/false")
    s = pd.to_numeric(scored[score], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(s) | (s < 0) | (s > 1)
    if bad.any():
        raise SchemaError(
            [], message=f"{int(bad.sum())} scores in {score!r} are missing or outside [0, 1]"
        )
    return y_values.to_numpy(dtype=bool), s


def _reference(attribute: AttributeSpec, names: tuple[str, ...], m: dict[str, Float]) -> int:
    if attribute.reference == "largest":
        recorded = np.array([name != MISSING for name in names])
        n = np.where(recorded, m["n"], -1) if recorded.any() else m["n"]
        return int(np.argmax(n))
    if attribute.reference not in names:
        raise ConfigError(
            f"audit spec: reference group {attribute.reference!r} of {attribute.name} is not "
            f"among the groups found: {list(names)}"
        )
    return names.index(attribute.reference)


def _group_results(
    names: tuple[str, ...], m: dict[str, Float], judgeable: npt.NDArray[np.bool_]
) -> tuple[GroupResult, ...]:
    metrics = (*RATE_METRICS, "auc")
    return tuple(
        GroupResult(
            group=name,
            n=int(m["n"][g]),
            positives=int(m["positives"][g]),
            judgeable=bool(judgeable[g]),
            **{k: float(m[k][g]) for k in metrics},
        )
        for g, name in enumerate(names)
    )


def audit_fairness(
    scored: pd.DataFrame,
    spec: AuditSpec | None = None,
    *,
    score: str = "score",
    label: str = "y",
    capacity: int | None = None,
    threshold: float | None = None,
) -> FairnessReport:
    """Audit ``scored`` incidents (see the module docstring for the columns).

    ``capacity`` and ``threshold`` override the spec's operating point; a threshold
    makes the rule "score at or above threshold", otherwise it is the daily top k.
    """
    spec = spec if spec is not None else load_audit_spec()
    y, s = _checked_outcomes(scored, spec, score, label)
    k = capacity if capacity is not None else spec.operating_point.capacity
    cut = threshold if threshold is not None else spec.operating_point.threshold
    within = scored.get("split")
    top_k = daily_top_k(scored["reported_at"], s, k, within)
    flag = top_k if cut is None else (s >= cut).astype(np.float64)
    outcomes = Outcomes(y, flag, top_k, s)
    days = int(pd.to_datetime(scored["reported_at"], utc=True).dt.floor("D").nunique())
    overall = group_metrics(Grouping(np.zeros(len(y), dtype=np.int64), 1, outcomes), outcomes)
    op = OperatingPoint(
        rule="daily_top_k" if cut is None else "threshold",
        capacity=k,
        threshold=cut,
        days=days,
        incidents=len(y),
        positives=int(y.sum()),
        selection_rate=float(overall["selection_rate"][0]),
        recall=1.0 - float(overall["fnr"][0]),
        precision=float(overall["precision"][0]),
        capacity_recall=float(overall["capacity_recall"][0]),
    )

    coded = [group_codes(scored, a.name, spec.age_bands) for a in spec.attributes]
    groupings = [Grouping(codes, len(names), outcomes) for codes, names in coded]
    wanted: list[set[str]] = [set(a.tests) | set(a.report) for a in spec.attributes]
    draws = bootstrap(
        groupings,
        outcomes,
        resamples=spec.bootstrap.resamples,
        seed=spec.bootstrap.seed,
        metrics=wanted,
    )
    results = []
    for attribute, (_, names), grouping, boot in zip(
        spec.attributes, coded, groupings, draws, strict=True
    ):
        point = group_metrics(grouping, outcomes)
        judgeable = (point["n"] >= spec.min_group.n) & (
            point["positives"] >= spec.min_group.positives
        )
        ref = _reference(attribute, names, point)
        results.append(
            AttributeResult(
                name=attribute.name,
                side=attribute.side,
                reference=names[ref],
                groups=_group_results(names, point, judgeable),
                disparities=tuple(disparities(attribute, names, point, boot, ref, judgeable, spec)),
            )
        )
    option = _threshold_option(scored, spec, y, s, flag, days) if spec.thresholds.enabled else None
    flags = tuple(d.name for a in results for d in a.disparities if d.status == FLAGGED)
    logger.info("fairness audit of %d incidents: %d flag(s)", len(y), len(flags))
    return FairnessReport(
        spec_name=spec.name,
        spec_fingerprint=spec.fingerprint(),
        operating_point=op,
        tolerance=spec.tolerance,
        confidence=spec.bootstrap.confidence,
        resamples=spec.bootstrap.resamples,
        seed=spec.bootstrap.seed,
        min_n=spec.min_group.n,
        min_positives=spec.min_group.positives,
        attributes=tuple(results),
        thresholds=option,
        summary=summarise(
            op,
            results,
            option,
            confidence=spec.bootstrap.confidence,
            tolerance=spec.tolerance,
        ),
        flags=flags,
    )


def _threshold_option(
    scored: pd.DataFrame,
    spec: AuditSpec,
    y: npt.NDArray[np.bool_],
    s: Float,
    flag: Float,
    days: int,
) -> ThresholdOption:
    option = spec.thresholds
    codes, names = group_codes(scored, option.attribute, spec.age_bands)
    labels = pd.Series(np.asarray(names, dtype=object)[codes])
    n = np.bincount(codes, minlength=len(names))
    pos = np.bincount(codes, weights=y, minlength=len(names))
    judgeable = {
        name
        for name, count, p in zip(names, n, pos, strict=True)
        if count >= spec.min_group.n
        and p >= spec.min_group.positives
        and (name != MISSING or spec.judge_missing)
    }
    return consider_thresholds(
        attribute=option.attribute,
        groups=labels,
        judgeable=judgeable,
        y=y,
        score=s,
        flag=flag,
        days=days,
        constraint=option.constraint,
        objective=option.objective,
        seed=spec.bootstrap.seed,
    )
