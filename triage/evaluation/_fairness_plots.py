"""Figures of a fairness audit, on standalone matplotlib figures (no pyplot state)
and embedded in the report as base64 PNG: each grouping's disparities with their
intervals against the tolerance band, the capacity view, and the threshold option."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from triage.evaluation._fairness_result import (
    FLAGGED,
    REFERENCE,
    TOO_SMALL,
    AttributeResult,
    FairnessReport,
    ThresholdOption,
)
from triage.evaluation.findings import ATTRIBUTE_TEXT, METRIC_TEXT

__all__ = ["capacity_figure", "disparity_figure", "thresholds_figure"]

_FLAG_COLOUR, _PLAIN_COLOUR, _BAND_COLOUR = "#d62728", "#1f77b4", "#2ca02c"
_PLAIN_NUMBER = FuncFormatter(lambda v, _pos: f"{v:g}")


def _finite(*xs: float) -> bool:
    return all(math.isfinite(x) and x > 0 for x in xs)


def disparity_figure(attribute: AttributeResult, tolerance: tuple[float, float]) -> Figure:
    """The tested ratios of one grouping's judged groups with their intervals (log
    scale), the tolerance band shaded, flagged ones in red (the tables hold the rest)."""
    rows = [
        d
        for d in attribute.disparities
        if d.test and d.status not in (REFERENCE, TOO_SMALL) and _finite(d.ratio, d.low, d.high)
    ]
    fig = Figure(figsize=(7.5, 0.32 * max(len(rows), 1) + 1.4))
    ax = fig.add_subplot()
    low, high = tolerance
    ax.axvspan(low, high, color=_BAND_COLOUR, alpha=0.12, label=f"tolerance [{low:g}, {high:g}]")
    ax.axvline(1.0, color="#555", lw=0.8)
    for i, d in enumerate(rows):
        colour = _FLAG_COLOUR if d.status == FLAGGED else _PLAIN_COLOUR
        ax.plot([d.low, d.high], [i, i], color=colour, lw=2)
        ax.plot([d.ratio], [i], "o", color=colour, ms=5)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{d.group} · {METRIC_TEXT.get(d.metric, d.metric)}" for d in rows])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(_PLAIN_NUMBER)
    ax.xaxis.set_minor_formatter(_PLAIN_NUMBER)
    ax.set_xlabel(f"ratio to the reference group '{attribute.reference}' (log scale)")
    ax.set_title(ATTRIBUTE_TEXT.get(attribute.name, attribute.name), loc="left", fontsize=10)
    if not rows:
        ax.text(0.5, 0.5, "no group judged", transform=ax.transAxes, ha="center")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def capacity_figure(report: FairnessReport) -> Figure:
    """The share of each victim group's escalations among each day's top k."""
    victims = [a for a in report.attributes if a.side == "victim"]
    fig = Figure(figsize=(9, 2.0 * max(len(victims), 1) + 0.6))
    axes = fig.subplots(max(len(victims), 1), 1, squeeze=False)[:, 0]
    overall = report.operating_point.capacity_recall
    for ax, attribute in zip(axes, victims, strict=False):
        groups = [g for g in attribute.groups if g.positives > 0]
        values = np.array([g.capacity_recall for g in groups], dtype=np.float64)
        colours = [_PLAIN_COLOUR if g.judgeable else "#bbbbbb" for g in groups]
        ax.bar(range(len(groups)), np.nan_to_num(values), color=colours)
        ax.axhline(overall, color="#555", ls="--", lw=0.8)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels([g.group for g in groups], fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_title(ATTRIBUTE_TEXT.get(attribute.name, attribute.name), loc="left", fontsize=9)
    axes[0].set_ylabel("escalations in top k")
    fig.suptitle(
        f"Share of each group's escalations among each day's top {report.operating_point.capacity}"
        " (dashed: all incidents; grey: too small to judge)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def thresholds_figure(option: ThresholdOption) -> Figure:
    """Each group's missed-case rate at the operating point, with group-specific
    thresholds (an option considered, never applied), and with one threshold flagging
    as many incidents as they do."""
    fig = Figure(figsize=(7.5, 3.2))
    ax = fig.add_subplot()
    groups = list(option.groups)
    x = np.arange(len(groups))
    before = np.array([g.fnr_before for g in groups], dtype=np.float64)
    after = np.array([g.fnr_after for g in groups], dtype=np.float64)
    single = np.array([g.fnr_same_workload for g in groups], dtype=np.float64)
    ax.bar(x - 0.27, np.nan_to_num(before), 0.27, label="operating point (applied)")
    ax.bar(x, np.nan_to_num(after), 0.27, label="group thresholds (not applied)")
    ax.bar(x + 0.27, np.nan_to_num(single), 0.27, label="one threshold, same workload")
    ax.set_xticks(x)
    ax.set_xticklabels([g.group for g in groups])
    ax.set_ylabel("missed-case rate (FNR)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title(f"Group-specific thresholds by {option.attribute}", loc="left", fontsize=10)
    return fig
