"""The fairness report (docs/architecture.md §8): one HTML page an auditor can read without code
and the same content as JSON.

The page opens with a summary in plain words (what was tested, which groups are
flagged and in which direction, which were too small to judge), then the tables of
every grouping (each group's metrics; each disparity with its interval, reference
group, ratio and verdict), the capacity view, the perpetrator-side false discovery
and false positive rates, and group-specific thresholds as an option considered, not
applied. The HTML is rendered from the JSON's own data, so the two always agree;
``FairnessReport.from_dict`` reads the JSON back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from triage import __version__
from triage.evaluation import _fairness_plots as fplots
from triage.evaluation._fairness_result import (
    FLAGGED,
    OUTSIDE,
    TOO_SMALL,
    UNCERTAIN,
    Disparity,
    FairnessReport,
)
from triage.evaluation.findings import (
    ATTRIBUTE_TEXT,
    METRIC_TEXT,
    base_rate_note,
    detectable_text,
    operating_text,
    thresholds_text,
)
from triage.evaluation.plots import figure_png_base64
from triage.evaluation.report import render_template, write_atomic

__all__ = [
    "CHANGE_COLUMNS",
    "TOO_SMALL_RULE",
    "describe_disparity",
    "disparity_changes",
    "fairness_html",
    "fairness_json",
    "plain_summary",
    "resampling_text",
    "write_fairness_report",
]

#: what a ratio above / below 1 means, per metric, in words
_DIRECTION: dict[str, tuple[str, str]] = {
    "fnr": (
        "the model misses more of this group's escalations",
        "the model misses fewer of this group's escalations",
    ),
    "fpr": (
        "more of this group's incidents that do not escalate are flagged for review",
        "fewer of this group's incidents that do not escalate are flagged for review",
    ),
    "fdr": (
        "more of this group's incidents flagged for review do not escalate",
        "fewer of this group's incidents flagged for review do not escalate",
    ),
    "capacity_recall": (
        "more of this group's escalations reach the daily review queue",
        "fewer of this group's escalations reach the daily review queue",
    ),
    "calibration": (
        "this group is over-scored: its scores are high for how often it escalates",
        "this group is under-scored: its scores are low for how often it escalates",
    ),
}
#: per-group metric columns of the tables: (key, title, format)
GROUP_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("n", "incidents", "num"),
    ("positives", "escalations", "num"),
    ("base_rate", "escalation rate", "pct"),
    ("mean_score", "mean score", "pct"),
    ("selection_rate", "flagged", "pct"),
    ("fnr", "FNR (missed)", "pct"),
    ("fpr", "FPR", "pct"),
    ("precision", "precision", "pct"),
    ("fdr", "FDR", "pct"),
    ("calibration", "calibration", "f2"),
    ("auc", "AUC", "f3"),
    ("capacity_recall", "in top k", "pct"),
)


_DPI = 80


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.1f}%"


def _f2(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.2f}"


def _attribute(name: str) -> str:
    return ATTRIBUTE_TEXT.get(name, name)


def describe_disparity(d: Disparity, confidence: float) -> str:
    """One disparity in plain words: who, which way, the numbers behind it."""
    more, fewer = _DIRECTION.get(
        d.metric,
        (f"the {METRIC_TEXT[d.metric]} is higher", f"the {METRIC_TEXT[d.metric]} is lower"),
    )
    value = _f2 if d.metric in ("calibration", "auc") else _pct
    return (
        f"{_attribute(d.attribute).capitalize()}, group '{d.group}': "
        f"{more if d.ratio > 1 else fewer} than for '{d.reference}' "
        f"({METRIC_TEXT[d.metric]} {value(d.value)} against {value(d.reference_value)}; "
        f"ratio {_f2(d.ratio)}, {confidence:.0%} interval {_f2(d.low)} to {_f2(d.high)})."
        + detectable_text(d)
    )


def plain_summary(report: FairnessReport) -> tuple[str, ...]:
    """The report's opening, sentence by sentence, for readers who skip the tables."""
    op = report.operating_point
    low, high = report.tolerance
    groupings = "; ".join(_attribute(a.name) for a in report.attributes)
    out = [
        f"What was tested: the model's out-of-time predictions for {op.incidents:,} incidents "
        f"({op.positives:,} escalations over {op.days:,} days), grouped as {groupings}. Each "
        f"group is compared with a reference group (the largest unless named); a difference "
        f"is flagged when the whole {report.confidence:.0%} interval of the ratio "
        f"({report.resamples} bootstrap resamples) lies outside [{low:g}, {high:g}].",
        resampling_text(report),
        operating_text(op),
    ]
    disparities = list(report.iter_disparities())
    side = {a.name: a.side for a in report.attributes}
    flagged = [d for d in disparities if d.test and d.status == FLAGGED]
    primary = [d for d in flagged if d.primary]
    if primary:
        out.append(
            f"Primary tests (missed cases and calibration across victim groups): "
            f"{len(primary)} flagged difference{'s' if len(primary) > 1 else ''}."
        )
    elif any(d.primary for d in disparities):
        out.append(
            "Primary tests (missed cases and calibration across victim groups): no victim "
            f"group differs from its reference group beyond [{low:g}, {high:g}]."
        )
    out += _power_text([d for d in disparities if d.primary and d.judged and not d.flagged])
    if report.unjudged:
        out.append(
            "Not judged: fewer than half of the victim groups compared with the reference "
            "were large enough to judge in " + "; ".join(report.unjudged) + ". The audit "
            "cannot say whether the model treats these groups alike, and the promotion gate "
            "answers 'not judged'."
        )
    by_name = {a.name: a for a in report.attributes}
    out += [
        f"FLAGGED. {describe_disparity(d, report.confidence)}"
        + base_rate_note(d, by_name[d.attribute], report.tolerance)
        for d in primary
    ]
    out += [
        f"FLAGGED. {describe_disparity(d, report.confidence)}"
        for d in flagged
        if not d.primary and side[d.attribute] == "victim"
    ]
    if "perpetrator" in side.values():
        against = [d for d in flagged if side[d.attribute] == "perpetrator"]
        out += [
            f"FLAGGED (perpetrators). {describe_disparity(d, report.confidence)}" for d in against
        ]
        tested = sorted({d.metric for d in disparities if d.test and side[d.attribute] != "victim"})
        if tested and not against:
            out.append(
                "Perpetrator groups: no "
                + " or ".join(METRIC_TEXT[m] for m in tested)
                + " is flagged: no group's review flags turn out unfounded more often than the "
                "reference group's beyond the band."
            )
    outside = sum(d.status == OUTSIDE for d in disparities)
    uncertain = sum(d.status == UNCERTAIN for d in disparities if d.test)
    if outside:
        out.append(
            f"{outside} difference{'s' if outside > 1 else ''} on metrics that are reported "
            f"but not tested {'lie' if outside > 1 else 'lies'} outside the band; see the tables."
        )
    if uncertain:
        out.append(
            f"{uncertain} tested difference{'s are' if uncertain > 1 else ' is'} uncertain: "
            "the interval straddles an edge of the band, so neither flagged nor cleared."
        )
    for attribute in report.attributes:
        small = sorted({d.group for d in attribute.disparities if d.status == TOO_SMALL})
        if small:
            out.append(
                f"Too small to judge ({_attribute(attribute.name)}): "
                + ", ".join(f"'{g}'" for g in small)
                + f" ({TOO_SMALL_RULE.format(n=report.min_n, positives=report.min_positives)})."
            )
    if report.thresholds is not None:
        out.append(thresholds_text(report.thresholds))
    return tuple(out)


#: the one rule for "too small to judge" in words (``_judge.judged``)
TOO_SMALL_RULE = (
    "fewer than {n} incidents or {positives} escalations, in the group or its reference, "
    "or too few expected events or non-events on the metric at the reference group's rate"
)


def resampling_text(report: FairnessReport) -> str:
    """What the bootstrap resampled, and a warning where it fell back to incidents."""
    sides = {"victim": report.victim_resampling, "perpetrator": report.perpetrator_resampling}
    words = "; ".join(f"{side} groups by resampling {what}" for side, what in sides.items())
    out = f"Intervals: {words}, since one person's incidents tend to escalate together."
    if "incidents" in sides.values():
        out += (
            " Where incidents were resampled one by one (the predictions carry no cluster "
            "numbers), the intervals are narrower than the uncertainty warrants."
        )
    return out


def _power_text(judged: list[Disparity]) -> list[str]:
    """How small a difference the primary tests could have found (80% power): at best
    and for the least powered comparison. Empty if nothing unflagged was judged."""
    powered = [d for d in judged if not math.isnan(d.detectable_high)]
    if not powered:
        return []
    best = min(powered, key=lambda d: d.detectable_high)
    worst = max(powered, key=lambda d: d.detectable_high)
    return [
        f"Power of the primary tests (80%, at these sizes): an unflagged group is not shown "
        f"to be treated alike, only not to differ by much: at best a ratio below "
        f"{_f2(best.detectable_low)} or above {_f2(best.detectable_high)} would have been "
        f"flagged ({best.name}); for the least powered comparison, below "
        f"{_f2(worst.detectable_low)} or above {_f2(worst.detectable_high)} ({worst.name})."
    ]


def fairness_json(report: FairnessReport, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The report as JSON-ready data: ``FairnessReport.to_dict()``, the plain summary
    and ``extra`` (e.g. the label)."""
    return {
        **report.to_dict(),
        "gate_answer": report.gate_answer,
        "unjudged": list(report.unjudged),
        "plain_summary": list(plain_summary(report)),
        **dict(extra or {}),
    }


def _figures(report: FairnessReport) -> dict[str, str]:
    out = {
        a.name: figure_png_base64(fplots.disparity_figure(a, report.tolerance), dpi=_DPI)
        for a in report.attributes
    }
    out["capacity"] = figure_png_base64(fplots.capacity_figure(report), dpi=_DPI)
    if report.thresholds is not None and report.thresholds.groups:
        out["thresholds"] = figure_png_base64(fplots.thresholds_figure(report.thresholds), dpi=_DPI)
    return out


def fairness_html(
    report: FairnessReport, *, title: str | None = None, extra: Mapping[str, Any] | None = None
) -> str:
    """The report as one self-contained HTML page (figures embedded)."""
    data = fairness_json(report, extra)
    label = data.get("label")
    attributes = [
        {**a, "text": _attribute(a["name"]), "figure": a["name"]} for a in data["attributes"]
    ]
    return render_template(
        "fairness.html.j2",
        title=title or ("Fairness audit" + (f" of the {label} model" if label else "")),
        version=__version__,
        data=data,
        confidence=f"{report.confidence:.0%}",
        summary=data["plain_summary"],
        attributes=attributes,
        victims=[a for a in attributes if a["side"] == "victim"],
        perpetrators=[a for a in attributes if a["side"] == "perpetrator"],
        flagged_rows=[d for a in attributes for d in a["disparities"] if d["status"] == FLAGGED],
        group_columns=[{"key": k, "title": t, "kind": f} for k, t, f in GROUP_COLUMNS],
        metric_text=METRIC_TEXT,
        too_small_rule=TOO_SMALL_RULE.format(n=report.min_n, positives=report.min_positives),
        figures=_figures(report),
        flagged=FLAGGED,
    )


def write_fairness_report(
    report: FairnessReport,
    out_dir: str | Path,
    *,
    stem: str = "fairness",
    title: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write ``<stem>.html`` and ``<stem>.json`` to ``out_dir``; returns both paths.
    Both are rendered before either is written, and each is replaced atomically."""
    folder = Path(out_dir)
    html = fairness_html(report, title=title, extra=extra)
    text = json.dumps(fairness_json(report, extra), indent=2, allow_nan=False) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    html_path, json_path = folder / f"{stem}.html", folder / f"{stem}.json"
    write_atomic(html_path, html)
    write_atomic(json_path, text)
    return html_path, json_path


CHANGE_COLUMNS = (
    "disparity",
    "primary",
    "ratio_before",
    "ratio_after",
    "status_before",
    "status_after",
    "change",
)


def _changes_row(old: Disparity | None, new: Disparity | None) -> dict[str, Any]:
    either = new or old
    assert either is not None
    was = old is not None and old.flagged
    now = new is not None and new.flagged
    change = {
        (False, True): "newly flagged",
        (True, False): "cleared" if new is not None and new.judged else "no longer judged",
        (True, True): "still flagged",
    }
    return {
        "disparity": either.name,
        "primary": either.primary,
        "ratio_before": math.nan if old is None else old.ratio,
        "ratio_after": math.nan if new is None else new.ratio,
        "status_before": "absent" if old is None else old.status,
        "status_after": "absent" if new is None else new.status,
        "change": change.get((was, now), ""),
    }


def disparity_changes(before: FairnessReport, after: FairnessReport) -> pd.DataFrame:
    """Every primary or flagged disparity of either report, side by side: the ratios,
    the verdicts, and ``change``: ``newly flagged``, ``still flagged``, ``cleared``
    (flagged before, judged now and not flagged) or ``no longer judged`` (flagged
    before, now too small, undefined or absent: nothing was cleared)."""
    old = {d.name: d for d in before.iter_disparities()}
    new = {d.name: d for d in after.iter_disparities()}
    keep = [
        n
        for n in {**old, **new}
        if any(d is not None and (d.primary or d.flagged) for d in (old.get(n), new.get(n)))
    ]
    rows = [_changes_row(old.get(n), new.get(n)) for n in keep]
    return pd.DataFrame(rows, columns=list(CHANGE_COLUMNS))
