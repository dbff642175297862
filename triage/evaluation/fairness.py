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
one named in the spec). Its interval is a percentile bootstrap over clusters, since
one person's incidents escalate together: victim groupings resample victims (each
with all their incidents, column ``victim_cluster``), perpetrator groupings resample
perpetrators (``perpetrator_cluster``; an unnamed suspect's incident is its own
cluster). Without a cluster column that side resamples incidents one by one, and the
report says so. A disparity is flagged when the whole interval lies outside the
tolerance band (default [0.8, 1.25]); a group too small by the one rule of
``_judge.judged`` is "too small to judge" and never flagged. The primary tests across
victim groups are missed cases (FNR) and calibration within group (a group under- or
over-scored relative to the reference); for perpetrator groups the false discovery
and false positive rates are tested, since a flag can be punitive. Each judged
comparison states the smallest disparity it could have detected with 80% power.

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
    Bool,
    Float,
    Grouping,
    Int,
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
from triage.evaluation._groups import (
    CLUSTER_COLUMNS,
    MISSING,
    REQUIRED_COLUMNS,
    cluster_codes,
    daily_top_k,
    group_codes,
)
from triage.evaluation._judge import disparities, judged
from triage.evaluation._metric_frame import metric_frame
from triage.evaluation._thresholds import consider_thresholds
from triage.evaluation.findings import summarise
from triage.exceptions import ConfigError, SchemaError

__all__ = [
    "CLUSTER_COLUMNS",
    "AttributeResult",
    "AuditSpec",
    "Disparity",
    "FairnessReport",
    "GroupResult",
    "OperatingPoint",
    "ThresholdChange",
    "ThresholdOption",
    "audit_fairness",
    "cluster_codes",
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


def _judgeable(attribute: AttributeSpec, m: dict[str, Float], ref: int, spec: AuditSpec) -> Bool:
    """Per group: judged on at least one tested metric (each by the one rule of
    ``_judge.judged``; every comparison's own verdict says which)."""
    ok = np.zeros(len(m["n"]), dtype=bool)
    for metric in attribute.tests or attribute.report:
        ok |= judged(metric, m, ref, spec)
    return ok


def _units(scored: pd.DataFrame, spec: AuditSpec) -> tuple[list[Int], list[int], dict[str, str]]:
    """The resampling units: each side's cluster codes where the frame has them, else
    incidents; which unit each attribute uses; what each side resampled."""
    units: list[Int] = [np.arange(len(scored), dtype=np.int64)]
    index: dict[str, int] = {}
    what: dict[str, str] = {}
    for side, column in CLUSTER_COLUMNS.items():
        if column in scored:
            units.append(cluster_codes(scored[column]))
            index[side] = len(units) - 1
            what[side] = f"{side}s"
        else:
            index[side], what[side] = 0, "incidents"
    if index and all(i > 0 for i in index.values()):
        units, index = units[1:], {k: i - 1 for k, i in index.items()}
    for side, kind in what.items():
        if kind == "incidents":
            logger.info("no %s column: %s groups resample incidents", CLUSTER_COLUMNS[side], side)
    return units, [index[a.side] for a in spec.attributes], what


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
    units, unit_of, resampled = _units(scored, spec)
    draws = bootstrap(
        groupings,
        outcomes,
        resamples=spec.bootstrap.resamples,
        seed=spec.bootstrap.seed,
        metrics=wanted,
        clusters=units,
        unit_of=unit_of,
    )
    results = []
    for attribute, (_, names), grouping, boot in zip(
        spec.attributes, coded, groupings, draws, strict=True
    ):
        point = group_metrics(grouping, outcomes)
        ref = _reference(attribute, names, point)
        results.append(
            AttributeResult(
                name=attribute.name,
                side=attribute.side,
                reference=names[ref],
                groups=_group_results(names, point, _judgeable(attribute, point, ref, spec)),
                disparities=tuple(disparities(attribute, names, point, boot, ref, spec)),
            )
        )
    option = (
        _threshold_option(scored, spec, outcomes, days, results)
        if spec.thresholds.enabled
        else None
    )
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
        victim_resampling=resampled["victim"],
        perpetrator_resampling=resampled["perpetrator"],
    )


def _threshold_option(
    scored: pd.DataFrame,
    spec: AuditSpec,
    outcomes: Outcomes,
    days: int,
    results: list[AttributeResult],
) -> ThresholdOption:
    option = spec.thresholds
    codes, names = group_codes(scored, option.attribute, spec.age_bands)
    labels = pd.Series(np.asarray(names, dtype=object)[codes])
    audited = {a.name: a for a in results}.get(option.attribute)
    if audited is not None:
        ok = [g.judgeable for g in audited.groups]
    else:  # the same rule, on the missed-case test against the largest group
        point = group_metrics(Grouping(codes, len(names), outcomes), outcomes)
        largest = AttributeSpec(name=option.attribute, tests=("fnr",))
        ok = list(_judgeable(largest, point, _reference(largest, names, point), spec))
    judgeable = {
        name
        for name, fine in zip(names, ok, strict=True)
        if fine and (name != MISSING or spec.judge_missing)
    }
    return consider_thresholds(
        attribute=option.attribute,
        groups=labels,
        judgeable=judgeable,
        y=outcomes.y,
        score=outcomes.score,
        flag=outcomes.flag,
        days=days,
        constraint=option.constraint,
        objective=option.objective,
        seed=spec.bootstrap.seed,
    )
