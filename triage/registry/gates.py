"""The promotion gates of docs/architecture.md §10, read from what a version's run logged: the
model beats the next-simpler model (LightGBM the logistic regression; a logistic model
the prior-incident count), is calibrated within tolerance, and (when the run
was audited) the fairness audit answers "pass": neither "flagged" (a primary flag)
nor "not judged" (fewer than half of the victim groups of a primary attribute large
enough to judge). Either of the last two blocks promotion unless a reason is
recorded, like any failed gate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from triage.registry.tracking import VersionInfo

__all__ = [
    "FAIRNESS_FLAGS_TAG",
    "FAIRNESS_GATE",
    "FAIRNESS_UNJUDGED_TAG",
    "FAMILY_REASON_TAG",
    "FAMILY_TAG",
    "LOGISTIC_AUC",
    "MODEL_AUC",
    "MODEL_ECE",
    "Gate",
    "PromotionPolicy",
    "promotion_gates",
]


@dataclass(frozen=True)
class Gate:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class PromotionPolicy:
    """What a version must show before it may become champion (docs/architecture.md §10)."""

    min_auc_gain_over_logistic: float = 0.0
    max_ece: float = 0.02


#: metric keys a training run logs and the gates read (pooled over temporal splits)
MODEL_AUC = "pooled_model_roc_auc"
LOGISTIC_AUC = "pooled_logistic_roc_auc"
PRIOR_AUC = "pooled_prior_roc_auc"
MODEL_ECE = "pooled_model_ece"
#: the run tag holding the primary fairness flags, comma-separated ("" when none)
FAIRNESS_FLAGS_TAG = "fairness.flags"
#: the run tag naming the primary attributes too small to judge, comma-separated ("" when
#: none; ``FairnessReport.unjudged``); absent from runs audited before the rule existed
FAIRNESS_UNJUDGED_TAG = "fairness.unjudged"
#: the run tags naming the model family that ships and why (absent: LightGBM)
FAMILY_TAG = "model.family"
FAMILY_REASON_TAG = "model.family_reason"
FAIRNESS_GATE = "no unexplained fairness flag"


def promotion_gates(info: VersionInfo, policy: PromotionPolicy | None = None) -> list[Gate]:
    """The gates of docs/architecture.md §10 for one version, from what its run logged."""
    policy = policy or PromotionPolicy()
    m = info.metrics
    gates: list[Gate] = [_simpler_gate(info, policy)]
    if MODEL_ECE in m:
        gates.append(
            Gate(
                "calibrated",
                m[MODEL_ECE] <= policy.max_ece,
                f"ECE {m[MODEL_ECE]:.4f} (tolerance {policy.max_ece})",
            )
        )
    else:
        gates.append(Gate("calibrated", False, "no calibration error was logged"))
    flags = info.tags.get(FAIRNESS_FLAGS_TAG)
    if flags is not None:
        gates.append(_fairness_gate(flags, info.tags.get(FAIRNESS_UNJUDGED_TAG)))
    return gates


def _simpler_gate(info: VersionInfo, policy: PromotionPolicy) -> Gate:
    """The model against the next-simpler one: LightGBM against the logistic
    regression; a logistic model (the simplest family) against the prior-incident
    count, the simplest baseline built from history."""
    m = info.metrics
    logistic = info.tags.get(FAMILY_TAG) == "logistic"
    simpler, name = (PRIOR_AUC, "prior-incident count") if logistic else (LOGISTIC_AUC, "logistic")
    title = f"beats the {name} baseline"
    if MODEL_AUC not in m or simpler not in m:
        return Gate(title, False, "no validation AUCs were logged")
    gain = m[MODEL_AUC] - m[simpler]
    family = "logistic model " if logistic else ""
    return Gate(
        title,
        gain >= policy.min_auc_gain_over_logistic,
        f"{family}AUC {m[MODEL_AUC]:.3f} vs {name} {m[simpler]:.3f}",
    )


def _fairness_gate(flags: str, unjudged: str | None) -> Gate:
    """Pass, flagged or not judged, from the tags the audited run logged."""
    names = [f for f in flags.split(",") if f]
    small = [u for u in (unjudged or "").split(",") if u]
    if names:
        return Gate(FAIRNESS_GATE, False, "flagged: " + ", ".join(names))
    if small:
        return Gate(
            FAIRNESS_GATE,
            False,
            "not judged: fewer than half of the victim groups are large enough to judge in "
            + ", ".join(small),
        )
    note = "" if unjudged is not None else " (groups judged not recorded by this run)"
    return Gate(FAIRNESS_GATE, True, "pass: no disparity flagged" + note)
