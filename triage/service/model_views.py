"""What the auditor's model pages show of a version, in words: its family, data and
periods, its metrics against the baselines, its promotion gates and fairness verdict,
its model card as HTML and its SHAP summary with plain feature names. A person never
reads a logged metric key (docs/architecture.md §10)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt

from triage.registry.gates import (
    FAIRNESS_FLAGS_TAG,
    FAIRNESS_GATE,
    FAMILY_REASON_TAG,
    FAMILY_TAG,
    Gate,
    promotion_gates,
)
from triage.registry.tracking import VersionInfo
from triage.service.models import ModelInfo

__all__ = [
    "METRICS",
    "SCORES",
    "ShapRow",
    "VersionView",
    "card_html",
    "shap_rows",
    "version_view",
]

#: the scores compared, by the infix of their logged metric keys
SCORES = {
    "model": "Model",
    "logistic": "Logistic regression",
    "dash": "DASH grade",
    "prior": "Prior incidents",
}
#: the metrics shown, by the suffix of their logged keys: (title, shown in percent)
METRICS = {
    "roc_auc": ("ROC AUC", False),
    "average_precision": ("Average precision", False),
    "recall_at_k": ("Escalations in the daily top k", True),
    "precision_at_k": ("Top-k incidents that escalated", True),
    "brier": ("Brier score (lower is better)", False),
    "ece": ("Calibration error (lower is better)", False),
}
_FAMILIES = {"lightgbm": "LightGBM (gradient-boosted trees)", "logistic": "Logistic regression"}
# the card is our own markdown; raw HTML in it is shown as text, never as markup
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def _number(value: float | None, percent: bool) -> str:
    if value is None or not math.isfinite(value):
        return "not logged"
    return f"{value:.1%}" if percent else f"{value:.3f}"


@dataclass(frozen=True)
class VersionView:
    info: ModelInfo
    family: str
    family_reason: str | None
    training: str
    validation: str
    digest: str | None
    #: one row per score: its title and its metrics as text, in ``METRICS`` order
    table: list[tuple[str, list[str]]]
    auc: str
    recall: str
    gates: list[Gate]
    fairness: str
    fairness_ok: bool | None
    tested: str

    @property
    def key(self) -> str:
        return f"{self.info.name}/{self.info.version}"


def _period(tags: Mapping[str, str], stage: str) -> str:
    first, last = tags.get(f"{stage}.first_day"), tags.get(f"{stage}.last_day")
    return f"{first} to {last}" if first and last else "not recorded"


def _fairness(gates: list[Gate], tags: Mapping[str, str]) -> tuple[str, bool | None]:
    if FAIRNESS_FLAGS_TAG not in tags:
        return "not audited", None
    gate = next(g for g in gates if g.name == FAIRNESS_GATE)
    return gate.detail, gate.passed


def version_view(info: ModelInfo) -> VersionView:
    m, tags = info.metrics, info.tags
    raw = VersionInfo(info.name, info.version, "", info.created, info.aliases, m, tags)
    gates = promotion_gates(raw)
    verdict, ok = _fairness(gates, tags)
    table = [
        (title, [_number(m.get(f"pooled_{s}_{k}"), pct) for k, (_, pct) in METRICS.items()])
        for s, title in SCORES.items()
        if any(f"pooled_{s}_{k}" in m for k in METRICS)
    ]
    auc = _number(m.get("pooled_model_roc_auc"), False)
    if "pooled_dash_roc_auc" in m:
        auc += f" (DASH {_number(m['pooled_dash_roc_auc'], False)})"
    recall = _number(m.get("pooled_model_recall_at_k"), True)
    if "pooled_dash_recall_at_k" in m:
        recall += f" (DASH {_number(m['pooled_dash_recall_at_k'], True)})"
    n, pos = m.get("pooled_model_n"), m.get("pooled_model_positives")
    tested = "not recorded"
    if n is not None and pos is not None and n > 0:
        tested = f"{int(n):,} incidents, {int(pos):,} of them escalated ({pos / n:.1%})"
    family = tags.get(FAMILY_TAG, "lightgbm")
    return VersionView(
        info=info,
        family=_FAMILIES.get(family, family),
        family_reason=tags.get(FAMILY_REASON_TAG),
        training=_period(tags, "training"),
        validation=_period(tags, "validation"),
        digest=tags.get("data_fingerprint"),
        table=table,
        auc=auc,
        recall=recall,
        gates=gates,
        fairness=verdict,
        fairness_ok=ok,
        tested=tested,
    )


def card_html(markdown: str) -> str:
    """The model card as HTML (its own markup escaped: only markdown is rendered)."""
    return str(_MARKDOWN.render(markdown))


@dataclass(frozen=True)
class ShapRow:
    name: str
    code: str
    value: float


def _plain(description: str, code: str) -> str:
    """``"… days since the last incident"`` reads "days since the last incident"."""
    text = description.strip().removesuffix(": …").removeprefix("… ").replace(" … ", " (n) ")
    text = text.replace("…", "").strip()
    return (text[:1].upper() + text[1:]) if text else code.replace("_", " ")


def shap_rows(raw: bytes) -> tuple[list[ShapRow], dict[str, Any]]:
    """The SHAP summary's features, most influential first, with plain names."""
    data = json.loads(raw)
    rows = [
        ShapRow(
            _plain(str(f.get("description") or ""), str(f["feature"])),
            str(f["feature"]),
            float(f["mean_abs_shap"]),
        )
        for f in data.get("features", [])
    ]
    rows.sort(key=lambda r: -r.value)
    return rows, {"sample": data.get("sample_size"), "space": data.get("space")}
