"""The promotion gates of docs/architecture.md §10, read from what a version's run logged: the
model beats the logistic baseline, is calibrated within tolerance, and (when the run
was audited) carries no unexplained fairness flag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from triage.registry.tracking import VersionInfo

__all__ = [
    "FAIRNESS_FLAGS_TAG",
    "FAIRNESS_GATE",
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
MODEL_ECE = "pooled_model_ece"
#: the run tag holding the primary fairness flags, comma-separated ("" when none)
FAIRNESS_FLAGS_TAG = "fairness.flags"
FAIRNESS_GATE = "no unexplained fairness flag"


def promotion_gates(info: VersionInfo, policy: PromotionPolicy | None = None) -> list[Gate]:
    """The gates of docs/architecture.md §10 for one version, from what its run logged."""
    policy = policy or PromotionPolicy()
    m = info.metrics
    gates: list[Gate] = []
    if MODEL_AUC in m and LOGISTIC_AUC in m:
        gain = m[MODEL_AUC] - m[LOGISTIC_AUC]
        gates.append(
            Gate(
                "beats the logistic baseline",
                gain >= policy.min_auc_gain_over_logistic,
                f"AUC {m[MODEL_AUC]:.3f} vs logistic {m[LOGISTIC_AUC]:.3f}",
            )
        )
    else:
        gates.append(Gate("beats the logistic baseline", False, "no validation AUCs were logged"))
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
        names = [f for f in flags.split(",") if f]
        gates.append(
            Gate(
                FAIRNESS_GATE,
                not names,
                "flags: " + ", ".join(names) if names else "no disparity flagged",
            )
        )
    return gates
