"""The fixed prose of the transparency record (``registry/transparency.py``): which
logged figures it reports and how a reader names them, the data sources, and the
risks of using the model with their mitigations."""

from __future__ import annotations

from typing import Any

from triage.registry.compare import disparity_title

__all__ = ["BASELINES", "PERFORMANCE", "SOURCES", "risks_and_mitigations"]

#: the model's pooled metrics in the record: (logged metric key, what a reader sees)
PERFORMANCE: tuple[tuple[str, str], ...] = (
    ("pooled_model_roc_auc", "ROC AUC (0.5 is chance, 1 is perfect ranking)"),
    ("pooled_model_average_precision", "average precision"),
    ("pooled_model_brier", "Brier score (lower is better)"),
    ("pooled_model_ece", "calibration error, ECE (lower is better)"),
    ("pooled_model_recall_at_k", "share of escalations in each day's top k"),
    ("pooled_model_precision_at_k", "share of each day's top k that escalated"),
    ("headline_model_npe", "escalations among incidents not flagged, at DASH's flag rate"),
)
#: what the model is compared with, as logged: (key, title)
BASELINES: tuple[tuple[str, str], ...] = (
    ("pooled_dash_roc_auc", "DASH grade: ROC AUC"),
    ("pooled_prior_roc_auc", "count of earlier incidents: ROC AUC"),
    ("pooled_logistic_roc_auc", "logistic regression on history: ROC AUC"),
    ("pooled_dash_recall_at_k", "DASH grade: share of escalations in each day's top k"),
    ("headline_dash_npe", "DASH grade: escalations among incidents not graded high"),
)
SOURCES = (
    "incidents: police-recorded domestic-abuse incidents and crimes (type, time, "
    "relationship, injury, weapon, strangulation, children present, DASH answers and grade)",
    "people: victims and perpetrators (sex, ethnicity, birth year, area deprivation "
    "decile), pseudonymised",
    "orders: protective orders and their breaches",
)


def risks_and_mitigations(report: Any, override: str) -> list[dict[str, str]]:
    """The known risks of using the model and how each is met; a primary fairness
    flag is a risk of its own, met by the recorded override reason or by nothing."""
    risks = [
        {
            "risk": "Reviewers defer to the score (automation bias).",
            "mitigation": "Scores order a queue and decide nothing; each is shown with its "
            "reasons and the DASH grade, and reviewers may override the band with a note.",
        },
        {
            "risk": "Groups whose abuse is under-recorded look safer than they are.",
            "mitigation": "The audit tests missed cases and calibration across victim groups; "
            "under-recording itself cannot show in recorded data and needs the force's review.",
        },
        {
            "risk": "Recording practice, population or capacity change after training.",
            "mitigation": "Re-validate, recalibrate and re-audit before promoting a new "
            "version; compare it with the previous one (`triage compare`).",
        },
        {
            "risk": "A tampered or unverified model is served.",
            "mitigation": "The service loads only bundles whose sha256 manifest matches the "
            "registry's record, and logs every load and refusal in the audit log.",
        },
    ]
    if report is not None and report.primary_flags:
        risks.append(
            {
                "risk": "The fairness audit flagged: "
                + "; ".join(disparity_title(f) for f in report.primary_flags)
                + ".",
                "mitigation": override.strip()
                or "No reason for promoting despite the flags has been recorded.",
            }
        )
    return risks
