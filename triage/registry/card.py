"""The model card of a registered version (docs/architecture.md §10), in the sections of Mitchell et
al. (2019), "Model Cards for Model Reporting": model details, intended use, factors,
metrics, evaluation data, training data, quantitative analyses, ethical
considerations, caveats and recommendations; then the promotion record.

A card is generated *from the registry*: every number in it is read from the
version's run (metrics, parameters, tags), its logged fairness report and the
registered model's promotion decisions; the prose around the numbers is fixed. It is
logged with the version as ``reports/model_card.md`` when the version is registered
(no promotion yet) and logged again, replacing it, when ``triage promote`` (or the
demo) promotes the version, so the card in the registry shows the latest decision and
any override reason; code that calls ``MlflowRegistry.promote`` itself calls
:func:`log_model_card` after it.
``triage audit`` regenerates it on demand.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from triage.evaluation.fairness import FairnessReport
from triage.evaluation.fairness_report import TOO_SMALL_RULE, plain_summary
from triage.evaluation.findings import ATTRIBUTE_TEXT, METRIC_TEXT
from triage.evaluation.plots import DISPLAY_NAMES
from triage.evaluation.report import render_template, write_atomic
from triage.exceptions import ModelNotFoundError
from triage.registry.audit import logged_fairness
from triage.registry.gates import Gate, promotion_gates
from triage.registry.tracking import OVERRIDE_TAG, REPORTS_PATH, MlflowRegistry, VersionInfo

__all__ = [
    "CARD_FILE",
    "SECTIONS",
    "ModelCard",
    "log_model_card",
    "model_card",
    "write_model_card",
]

CARD_FILE = "model_card.md"
#: the card's second-level headings, in order
SECTIONS: tuple[str, ...] = (
    "Model details",
    "Intended use",
    "Out-of-scope uses",
    "Factors",
    "Metrics",
    "Evaluation data",
    "Training data",
    "Quantitative analyses",
    "Ethical considerations",
    "Caveats and recommendations",
    "Promotion record",
)
#: the metric columns of the card's table: (run metric suffix, title, format)
METRIC_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("roc_auc", "ROC AUC", "f3"),
    ("average_precision", "AP", "f3"),
    ("brier", "Brier", "f4"),
    ("ece", "ECE", "f4"),
    ("recall_at_k", "recall@k", "pct"),
    ("precision_at_k", "precision@k", "pct"),
)
_SCORERS = ("model", "logistic", "dash", "prior")


@dataclass(frozen=True)
class ModelCard:
    """What a card says, as read from the registry; ``to_markdown`` renders it."""

    info: VersionInfo
    fairness: FairnessReport | None
    decisions: tuple[Mapping[str, Any], ...]
    gates: tuple[Gate, ...]

    @property
    def override_reason(self) -> str:
        """The reason recorded with the version's latest promotion ("" if none)."""
        return self.info.tags.get(OVERRIDE_TAG, "")

    def to_markdown(self) -> str:
        info, m = self.info, self.info.metrics
        fairness = self.fairness
        return render_template(
            "model_card.md.j2",
            info=info,
            m=m,
            p=info.params,
            t=info.tags,
            sections=SECTIONS,
            description=info.tags.get("mlflow.note.content", ""),
            lightgbm={k[4:]: v for k, v in sorted(info.params.items()) if k.startswith("lgb_")},
            scorers=[s for s in _SCORERS if f"pooled_{s}_roc_auc" in m],
            names=DISPLAY_NAMES,
            columns=[{"key": k, "title": t, "kind": f} for k, t, f in METRIC_COLUMNS],
            fairness=fairness,
            summary=plain_summary(fairness) if fairness is not None else (),
            too_small_rule=(
                TOO_SMALL_RULE.format(n=fairness.min_n, positives=fairness.min_positives)
                if fairness is not None
                else ""
            ),
            attribute_text=ATTRIBUTE_TEXT,
            metric_text=METRIC_TEXT,
            decisions=self.decisions,
            gates=self.gates,
            override_reason=self.override_reason,
        )


def model_card(
    registry: MlflowRegistry,
    name: str,
    version: int | str,
    *,
    fairness: FairnessReport | None = None,
) -> ModelCard:
    """Gather a version's card from the registry (``fairness`` defaults to the report
    logged with the version; a version without one gets a card that says so)."""
    info = registry.version(name, version)
    if fairness is None:
        try:
            fairness = logged_fairness(registry, name, info.version)
        except ModelNotFoundError:
            fairness = None
    decisions = tuple(d for d in registry.decisions(name) if int(d["version"]) == info.version)
    return ModelCard(info, fairness, decisions, tuple(promotion_gates(info)))


def write_model_card(card: ModelCard, path: str | Path) -> Path:
    """Write the card's Markdown to ``path`` (atomically); returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, card.to_markdown())
    return target


def log_model_card(
    registry: MlflowRegistry,
    name: str,
    version: int | str,
    out_dir: Path | None = None,
    *,
    also: Sequence[Path] = (),
) -> Path:
    """Generate a version's card, write it to ``out_dir`` (and each of ``also``) and
    log it with the version, replacing the one logged before."""
    card = model_card(registry, name, version)
    folder = out_dir or Path(tempfile.mkdtemp(prefix="triage-card-"))
    path = write_model_card(card, folder / CARD_FILE)
    for extra in also:
        write_model_card(card, extra)
    registry.log_files(name, card.info.version, [path], REPORTS_PATH)
    return path
