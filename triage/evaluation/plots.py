"""Figures of an evaluation, drawn on standalone matplotlib figures (no pyplot state,
no display backend) and embedded in reports as base64 PNG."""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import auc as area_under
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_curve

from triage.evaluation.metrics import POOLED, Evaluation

__all__ = [
    "DISPLAY_NAMES",
    "SHORT_NAMES",
    "baselines_figure",
    "calibration_figure",
    "capacity_figure",
    "figure_png_base64",
    "pr_figure",
    "roc_figure",
    "splits_figure",
]

#: what readers see for each score
DISPLAY_NAMES: dict[str, str] = {
    "model": "Model (LightGBM)",
    "logistic": "Logistic regression (baseline)",
    "dash": "DASH grade (baseline)",
    "prior": "Prior incidents (baseline)",
    "oracle": "True risk (synthetic ceiling)",
}
#: the same in running text
SHORT_NAMES: dict[str, str] = {
    "model": "model",
    "logistic": "logistic regression",
    "dash": "DASH grade",
    "prior": "prior-incident count",
    "oracle": "true risk",
}
_COLOURS: dict[str, str] = {
    "model": "#1f77b4",
    "logistic": "#ff7f0e",
    "dash": "#d62728",
    "prior": "#7f7f7f",
    "oracle": "#2ca02c",
}


def _name(scorer: str) -> str:
    return DISPLAY_NAMES.get(scorer, scorer)


def _colour(scorer: str) -> str | None:
    return _COLOURS.get(scorer)


def figure_png_base64(fig: Figure, dpi: int = 100) -> str:
    """The figure as a base64-encoded PNG (for ``<img src="data:image/png;base64,…">``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _scores(ev: Evaluation) -> dict[str, np.ndarray]:
    v = ev.validation
    out = {s: v[f"score_{s}"].to_numpy(dtype=np.float64) for s in ev.scorers}
    if "score_oracle" in v:
        out["oracle"] = v["score_oracle"].to_numpy(dtype=np.float64)
    return out


def roc_figure(ev: Evaluation) -> Figure:
    """ROC curves of every score (and the truth, if known), pooled over the splits."""
    y = ev.validation["y"].to_numpy()
    fig = Figure(figsize=(6, 5))
    ax = fig.add_subplot()
    for s, p in _scores(ev).items():
        fpr, tpr, _ = roc_curve(y, p)
        auc = float(area_under(fpr, tpr))
        ax.plot(fpr, tpr, label=f"{_name(s)}: AUC {auc:.3f}", color=_colour(s))
    ax.plot([0, 1], [0, 1], ls=":", color="black", lw=0.8, label="chance")
    ax.set_xlabel("share of non-escalating incidents flagged (false positive rate)")
    ax.set_ylabel("share of escalations flagged (true positive rate)")
    ax.set_title("ROC curves, all test periods")
    ax.legend(fontsize="small", loc="lower right")
    return fig


def pr_figure(ev: Evaluation) -> Figure:
    """Precision against recall of every score, pooled over the splits."""
    y = ev.validation["y"].to_numpy()
    fig = Figure(figsize=(6, 5))
    ax = fig.add_subplot()
    for s, p in _scores(ev).items():
        precision, recall, _ = precision_recall_curve(y, p)
        ap = float(average_precision_score(y, p))
        ax.step(recall, precision, where="post", label=f"{_name(s)}: AP {ap:.3f}", color=_colour(s))
    ax.axhline(float(y.mean()), ls=":", color="black", lw=0.8, label="base rate")
    ax.set_xlabel("share of escalations found (recall)")
    ax.set_ylabel("share of flagged incidents that escalate (precision)")
    ax.set_title("Precision and recall, all test periods")
    ax.legend(fontsize="small", loc="upper right")
    return fig


def calibration_figure(ev: Evaluation, scorers: tuple[str, ...] = ("model", "logistic")) -> Figure:
    """Reliability diagram: mean predicted probability against the observed rate per
    bin (marker area ~ incidents in the bin), beside the histogram of predictions."""
    fig = Figure(figsize=(10, 4.5))
    ax, hist = fig.subplots(1, 2)
    ax.plot([0, 1], [0, 1], ls=":", color="black", lw=0.8, label="perfect calibration")
    table = ev.reliability
    top = 0.0
    for s in scorers:
        rows = table[(table["scorer"] == s) & (table["n"] > 0)]
        top = max(top, float(rows["upper"].max()), float(rows["observed"].max()))
        ece = ev.pooled(s)["ece"]
        ax.plot(
            rows["mean_score"],
            rows["observed"],
            marker="o",
            color=_colour(s),
            label=f"{_name(s)}: ECE {ece:.3f}",
        )
        ax.scatter(
            rows["mean_score"],
            rows["observed"],
            s=10 + 200 * rows["n"] / rows["n"].sum(),
            color=_colour(s),
            alpha=0.4,
        )
        hist.hist(
            ev.validation[f"score_{s}"],
            bins=np.linspace(0, 1, 41),
            alpha=0.5,
            color=_colour(s),
            label=_name(s),
        )
    ax.set_xlim(0, min(1.0, top + 0.05))
    ax.set_ylim(0, min(1.0, top + 0.05))
    ax.set_xlabel("predicted probability (bin mean)")
    ax.set_ylabel("observed escalation rate")
    ax.set_title("Calibration")
    ax.legend(fontsize="small", loc="upper left")
    hist.set_yscale("log")
    hist.set_xlabel("predicted probability")
    hist.set_ylabel("incidents (log scale)")
    hist.set_title("Spread of predictions")
    hist.legend(fontsize="small")
    fig.tight_layout()
    return fig


def capacity_figure(ev: Evaluation) -> Figure:
    """recall@k against the daily capacity k, every score."""
    fig = Figure(figsize=(6, 4.5))
    ax = fig.add_subplot()
    curve = ev.capacity_curve
    for s in ev.scorers:
        rows = curve[curve["scorer"] == s]
        ax.plot(rows["k"], rows["recall"], label=_name(s), color=_colour(s))
    ax.axvline(ev.capacity, ls="--", color="black", lw=0.8, label=f"capacity {ev.capacity} a day")
    ax.set_xlabel("incidents reviewed each day (k)")
    ax.set_ylabel("share of escalations reviewed (recall@k)")
    ax.set_ylim(0, 1)
    ax.set_title("Daily capacity: escalations reached")
    ax.legend(fontsize="small", loc="lower right")
    return fig


def splits_figure(ev: Evaluation) -> Figure:
    """ROC AUC and ECE of every score in each test period."""
    table = ev.metrics[ev.metrics["split"] != POOLED]
    fig = Figure(figsize=(10, 4))
    auc_ax, ece_ax = fig.subplots(1, 2)
    for s in ev.scorers:
        rows = table[table["scorer"] == s]
        auc_ax.plot(rows["split"], rows["roc_auc"], marker="o", label=_name(s), color=_colour(s))
        ece_ax.plot(rows["split"], rows["ece"], marker="o", label=_name(s), color=_colour(s))
    if ev.oracle is not None:
        o = ev.oracle[ev.oracle["split"] != POOLED]
        auc_ax.plot(
            o["split"],
            o["oracle_auc"],
            marker="o",
            ls="--",
            label=_name("oracle"),
            color=_colour("oracle"),
        )
    auc_ax.set_title("ROC AUC by test period")
    auc_ax.set_xlabel("split (1 = oldest)")
    ece_ax.set_title("Calibration error (ECE) by test period")
    ece_ax.set_xlabel("split (1 = oldest)")
    auc_ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def baselines_figure(ev: Evaluation) -> Figure:
    """The model against each baseline: pooled ROC AUC, recall@capacity and NPE."""
    pooled = ev.metrics[ev.metrics["split"] == POOLED].set_index("scorer")
    flags = ev.flags[ev.flags["split"] == POOLED].set_index("scorer")
    names = list(ev.scorers)
    fig = Figure(figsize=(11, 3.8))
    axes = fig.subplots(1, 3)
    panels: list[tuple[str, pd.Series]] = [
        ("ROC AUC", pooled.loc[names, "roc_auc"]),
        (f"recall@{ev.capacity} a day", pooled.loc[names, "recall_at_k"]),
        (
            "missed escalations among unflagged\n(NPE, at the DASH flag rate)",
            flags.loc[names, "npe"],
        ),
    ]
    labels = [_name(s).replace(" (baseline)", "") for s in names]
    for ax, (title, values) in zip(axes, panels, strict=True):
        numbers = values.to_numpy(dtype=np.float64)
        ax.barh(labels, numbers, color=[_colour(s) for s in names])
        for i, value in enumerate(numbers):
            ax.text(value, i, f" {value:.3f}", va="center", fontsize="small")
        ax.set_title(title, fontsize="medium")
        ax.invert_yaxis()
        ax.set_xlim(
            0,
            max(1.0, float(np.nanmax(numbers)) * 1.3)
            if "NPE" not in title
            else float(np.nanmax(numbers)) * 1.3,
        )
    for ax in axes[1:]:
        ax.set_yticklabels([])
    fig.tight_layout()
    return fig
