"""The audit's findings in plain words, for the report's summary and the model card."""

from __future__ import annotations

import math
from collections.abc import Sequence

from triage.evaluation._fairness_result import (
    FLAGGED,
    TOO_SMALL,
    AttributeResult,
    Disparity,
    OperatingPoint,
    ThresholdOption,
)

__all__ = [
    "ATTRIBUTE_TEXT",
    "METRIC_TEXT",
    "base_rate_note",
    "detectable_text",
    "operating_text",
    "scored_direction",
    "summarise",
    "thresholds_text",
]

METRIC_TEXT: dict[str, str] = {
    "base_rate": "escalation rate",
    "mean_score": "mean score",
    "selection_rate": "share flagged for review",
    "fnr": "missed-case rate (FNR)",
    "fpr": "false-positive rate (FPR)",
    "precision": "precision",
    "fdr": "false-discovery rate (FDR)",
    "calibration": "calibration (mean score / escalation rate)",
    "auc": "AUC",
    "capacity_recall": "share of escalations in the daily top k",
}
ATTRIBUTE_TEXT: dict[str, str] = {
    "victim_sex": "victims by sex",
    "victim_age_band": "victims by age band",
    "victim_ethnicity": "victims by ethnicity",
    "victim_sex_ethnicity": "victims by sex and ethnicity",
    "deprivation_quintile": "incidents by area deprivation quintile (1 = most deprived)",
    "perpetrator_sex": "perpetrators by sex",
    "perpetrator_age_band": "perpetrators by age band",
    "perpetrator_ethnicity": "perpetrators by ethnicity",
}


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.1f}%"


def _points(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.1f} percentage points"


def _num(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.2f}"


def operating_text(op: OperatingPoint) -> str:
    rule = (
        f"each day's {op.capacity} highest-scoring incidents are flagged for review"
        if op.rule == "daily_top_k"
        else f"incidents scoring at least {op.threshold:g} are flagged for review"
    )
    return (
        f"Operating point: {rule} ({_pct(op.selection_rate)} of {op.incidents} incidents over "
        f"{op.days} days); {_pct(op.recall)} of the {op.positives} escalations are flagged, "
        f"precision {_pct(op.precision)}."
    )


def scored_direction(d: Disparity) -> str:
    """For a calibration disparity: ``under-scored`` (ratio below 1: its scores are low
    for how often it escalates, relative to the reference group) or ``over-scored``."""
    return "under-scored" if d.ratio < 1 else "over-scored"


def detectable_text(d: Disparity) -> str:
    """The smallest disparities a judged comparison could have flagged with 80% power
    ("" when not judged)."""
    if math.isnan(d.detectable_low) or math.isnan(d.detectable_high):
        return ""
    return (
        f" At this size only a ratio below {_num(d.detectable_low)} or above "
        f"{_num(d.detectable_high)} would be flagged with 80% power."
    )


def _flag_sentence(
    d: Disparity, attribute: AttributeResult, confidence: float, tolerance: tuple[float, float]
) -> str:
    direction = "higher" if d.ratio > 1 else "lower"
    if d.metric == "calibration":
        direction += f" ({scored_direction(d)})"
    sentence = (
        f"FLAG {d.name}: {ATTRIBUTE_TEXT.get(d.attribute, d.attribute)}, group '{d.group}' "
        f"has a {METRIC_TEXT[d.metric]} of {_num(d.value)} against {_num(d.reference_value)} "
        f"for '{d.reference}' (ratio {_num(d.ratio)}, {confidence:.0%} interval "
        f"{_num(d.low)}-{_num(d.high)}): {direction} than the reference group."
    )
    return sentence + base_rate_note(d, attribute, tolerance)


def base_rate_note(d: Disparity, attribute: AttributeResult, tolerance: tuple[float, float]) -> str:
    """For a missed-case disparity between groups whose escalation rates differ beyond
    the band: what that difference means (an empty string otherwise)."""
    rates = {g.group: g.base_rate for g in attribute.groups}
    own, ref = rates.get(d.group, math.nan), rates.get(d.reference, math.nan)
    low, high = tolerance  # escalation rates this far apart change what a flag means
    apart = ref > 0 and not math.isnan(own) and not low <= own / ref <= high
    if d.metric != "fnr" or not apart:
        return ""
    fewer, more = ("fewer", "more") if own < ref else ("more", "less")
    return (
        f" Its escalation rate is {_pct(own)} against {_pct(ref)}: a group with {fewer} "
        f"escalations tends to be missed {more} often even by a score that is right for "
        "every group, so read its calibration and AUC before asking what the model gets "
        "wrong."
    )


def thresholds_text(option: ThresholdOption) -> str:
    if option.note:
        return f"Group-specific thresholds ({option.constraint}) not assessed: {option.note}."
    spread = [g.fnr_before for g in option.groups if not math.isnan(g.fnr_before)]
    after = [g.fnr_after for g in option.groups if not math.isnan(g.fnr_after)]
    gap_before = max(spread) - min(spread) if spread else math.nan
    gap_after = max(after) - min(after) if after else math.nan
    sentence = (
        f"Option considered, not applied: group-specific thresholds by "
        f"{option.attribute} ({option.constraint}) would change the spread of missed-case "
        f"rates across groups from {_points(gap_before)} to {_points(gap_after)}, overall "
        f"recall from {_pct(option.recall_before)} to {_pct(option.recall_after)} and the "
        f"incidents flagged per day from {option.flagged_per_day_before:.1f} to "
        f"{option.flagged_per_day_after:.1f}."
    )
    single = [g.fnr_same_workload for g in option.groups if not math.isnan(g.fnr_same_workload)]
    if single and not math.isnan(option.recall_same_workload):
        sentence += (
            f" At that workload one threshold for every group would have recall "
            f"{_pct(option.recall_same_workload)} and a spread of "
            f"{_points(max(single) - min(single))}: the like-for-like comparison."
        )
    return sentence


def summarise(
    op: OperatingPoint,
    attributes: Sequence[AttributeResult],
    option: ThresholdOption | None,
    *,
    confidence: float,
    tolerance: tuple[float, float],
) -> tuple[str, ...]:
    """One sentence per finding: the operating point, every flag, the primary test's
    verdict, groups too small to judge, and the threshold option."""
    disparities = [d for a in attributes for d in a.disparities]
    flagged = [d for d in disparities if d.status == FLAGGED]
    out = [operating_text(op)]
    out += [
        _flag_sentence(d, a, confidence, tolerance)
        for a in attributes
        for d in a.disparities
        if d.flagged
    ]
    low, high = tolerance
    primary = [d for d in disparities if d.primary]
    if primary and not any(d.status == FLAGGED for d in primary):
        out.append(
            "Primary tests (missed cases and calibration across victim groups): no group "
            f"differs from its reference group beyond the band [{low:g}, {high:g}] with "
            f"{confidence:.0%} confidence."
        )
    if not flagged:
        out.append("No disparity is flagged.")
    for attribute in attributes:
        small = sorted({d.group for d in attribute.disparities if d.status == TOO_SMALL})
        if small:
            out.append(
                f"Too small to judge ({ATTRIBUTE_TEXT.get(attribute.name, attribute.name)}): "
                + ", ".join(f"'{g}'" for g in small)
                + "."
            )
    if option is not None:
        out.append(thresholds_text(option))
    return tuple(out)
