"""The model registry (docs/architecture.md §10): every training run in MLflow with
its reports and bundle, a registered version per run named after its label, the
promotion gates that guard ``@champion``, re-running a version's audit, comparing
two versions, its model card and its transparency record.
"""

from triage.registry.audit import compare_versions, logged_fairness, reaudit
from triage.registry.card import ModelCard, log_model_card, model_card, write_model_card
from triage.registry.compare import Comparison, compare
from triage.registry.gates import Gate, PromotionPolicy, promotion_gates
from triage.registry.tracking import (
    CHAMPION,
    Decision,
    MlflowRegistry,
    NullTracker,
    RunRecord,
    Tracker,
    VersionInfo,
)
from triage.registry.transparency import load_force_info, transparency_record

__all__ = [
    "CHAMPION",
    "Comparison",
    "Decision",
    "Gate",
    "MlflowRegistry",
    "ModelCard",
    "NullTracker",
    "PromotionPolicy",
    "RunRecord",
    "Tracker",
    "VersionInfo",
    "compare",
    "compare_versions",
    "load_force_info",
    "log_model_card",
    "logged_fairness",
    "model_card",
    "promotion_gates",
    "reaudit",
    "transparency_record",
    "write_model_card",
]
