"""A version's transparency record in the shape of the UK Algorithmic Transparency
Recording Standard (ATRS): a tier 1 summary for the public and tier 2 detail (owner
and responsibility, description and rationale, decision process and human oversight,
data, impact assessments, risks and mitigations, performance and fairness with their
intervals), as JSON that validates against ``schemas/atrs.schema.json`` and as HTML
(docs/architecture.md §10).

What the software knows is read from the registry: the run's logged metrics (every
figure is the logged value itself, so the record cannot drift from the run), the
fairness report logged with the version, the bundle's feature spec and the promotion
record. Intervals of the pooled metrics come from a bootstrap of the predictions the
version logged for its audit (``evaluation/metric_intervals.py``). What only the
force knows (owner, senior responsible owner, contact, purpose in its own words,
impact assessments) comes from ``evaluation/transparency.yaml``; a field the force
has not filled in is marked :data:`NOT_PROVIDED` and listed in
``missing_force_fields``, never invented.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from triage import __version__
from triage.contract.harm import load_harm_weights
from triage.evaluation.fairness import AuditSpec
from triage.evaluation.findings import ATTRIBUTE_TEXT
from triage.evaluation.metric_intervals import Interval, Scored, metric_intervals
from triage.exceptions import ConfigError, ModelNotFoundError
from triage.features.catalogue import build_catalogue
from triage.models.bundle import ModelBundle
from triage.paths import spec_path
from triage.registry.audit import AUDIT_PREDICTIONS, AUDIT_SPEC, SCORE, logged_fairness
from triage.registry.compare import disparity_title
from triage.registry.gates import promotion_gates
from triage.registry.tracking import (
    AUDIT_PATH,
    BUNDLE_PATH,
    MANIFEST_TAG,
    OVERRIDE_TAG,
    MlflowRegistry,
)
from triage.registry.transparency_text import (
    BASELINES,
    PERFORMANCE,
    SOURCES,
    risks_and_mitigations,
)

__all__ = [
    "DEFAULT_FORCE_INFO",
    "NOT_PROVIDED",
    "SCHEMA_FILE",
    "ForceInfo",
    "load_force_info",
    "record_json",
    "transparency_record",
]

DEFAULT_FORCE_INFO = "evaluation/transparency.yaml"
NOT_PROVIDED = "not provided by the force"
SCHEMA_FILE = Path(__file__).parent / "schemas" / "atrs.schema.json"
SCHEMA_ID = "mash-triage/atrs-record/1"
_AUDIT_USE = "used only to audit the model for fairness; not a feature"
_FEATURE_USE = "a model feature (opted in by the feature spec) and audited for fairness"


class ForceInfo(BaseModel):
    """What only the force can say (``evaluation/transparency.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    organisation: str | None = None
    team: str | None = None
    senior_responsible_owner: str | None = None
    contact: str | None = None
    phase: str | None = None
    purpose: str | None = None
    human_oversight: str | None = None
    dpia_reference: str | None = None
    equality_impact_assessment: str | None = None
    other_assessments: tuple[str, ...] = ()

    def field(self, name: str) -> str:
        value = getattr(self, name)
        return value.strip() if isinstance(value, str) and value.strip() else NOT_PROVIDED

    def missing(self) -> list[str]:
        blank = [n for n in type(self).model_fields if n != "other_assessments"]
        return [n for n in blank if self.field(n) == NOT_PROVIDED]


def load_force_info(path: str | Path | None = None) -> ForceInfo:
    """Read the force's fields (default ``evaluation/transparency.yaml``); a file of
    comments only gives every field missing. Errors name the file and the field."""
    file = spec_path(path or DEFAULT_FORCE_INFO)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such force information file") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{file}: not readable YAML ({type(exc).__name__})") from None
    if data is None:
        return ForceInfo()
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: expected a mapping of field: value")
    try:
        return ForceInfo.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{file}: {problems}") from None


def _number(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def _figure(key: str, title: str, m: Any, ci: Interval | None) -> dict[str, Any] | None:
    if key not in m:
        return None
    low = None if ci is None else _number(ci.low)
    high = None if ci is None else _number(ci.high)
    return {"key": key, "title": title, "value": float(m[key]), "low": low, "high": high}


def _intervals(
    registry: MlflowRegistry, name: str, version: int, dst: Path, resamples: int
) -> dict[str, Interval]:
    try:
        folder = registry.download_artifact(name, version, AUDIT_PATH, dst)
    except ModelNotFoundError:
        return {}
    spec = AuditSpec.model_validate_json((folder / AUDIT_SPEC).read_text())
    frame = pd.read_parquet(folder / AUDIT_PREDICTIONS)
    scored = Scored.of(frame, capacity=spec.operating_point.capacity, score=SCORE)
    boot = spec.bootstrap
    found = metric_intervals(
        scored, resamples=resamples, seed=boot.seed, confidence=boot.confidence
    )
    return {f"pooled_model_{k}": v for k, v in found.items()}


def _fields(bundle: ModelBundle) -> tuple[list[dict[str, str]], tuple[str, ...]]:
    spec = bundle.feature_spec
    try:
        catalogue = {f.name: f for f in build_catalogue(spec, load_harm_weights())}
    except ConfigError:
        catalogue = {}
    out = []
    for feature in bundle.schema.names:
        info = catalogue.get(feature)
        text = info.description.replace("{value}", "N").strip() if info else feature
        out.append({"name": feature, "description": text})
    return out, tuple(spec.protected_as_features)


def transparency_record(
    registry: MlflowRegistry,
    name: str,
    version: int | str,
    force: ForceInfo | None = None,
    *,
    resamples: int = 200,
) -> dict[str, Any]:
    """The record of one version as a JSON-ready dict (see the module docstring)."""
    force = force or ForceInfo()
    info = registry.version(name, version)
    m, t, p = info.metrics, info.tags, info.params
    with tempfile.TemporaryDirectory(prefix="triage-atrs-") as tmp:
        folder = Path(tmp)
        intervals = _intervals(registry, name, info.version, folder / "audit", resamples)
        bundle = ModelBundle.load(
            registry.download_artifact(name, info.version, BUNDLE_PATH, folder / "bundle"),
            manifest_sha256=t.get(MANIFEST_TAG),
        )
        try:
            fairness = logged_fairness(registry, name, info.version, folder / "fairness")
        except ModelNotFoundError:
            fairness = None
    fields, protected_features = _fields(bundle)
    label = t.get("label", name)
    described = t.get("label_description") or label.replace("_", " ")
    family = (
        "logistic regression" if bundle.family == "logistic" else "LightGBM gradient-boosted trees"
    )
    what = (
        f"Ranks each day's police-recorded domestic-abuse incidents by the calibrated "
        f"probability that {described}, so a safeguarding team reviews the most likely "
        "first. Each score is shown with its main reasons and the incident's DASH grade."
    )
    decision = (
        "The model orders a daily review queue; it decides nothing. A reviewer reads each "
        "incident, its chronology, its DASH answers and the reasons behind the score, and "
        "records a decision (refer to MARAC, safeguarding action, monitor, no further "
        "action), overriding the score's band with a note when they disagree. Every score "
        "shown, queue read and decision is kept in a hash-chained audit log."
    )
    performance = [_figure(k, title, m, intervals.get(k)) for k, title in PERFORMANCE]
    baselines = [_figure(k, title, m, None) for k, title in BASELINES]
    attributes = fairness.attributes if fairness is not None else ()
    protected = [
        {
            "attribute": a.name,
            "title": ATTRIBUTE_TEXT.get(a.name, a.name.replace("_", " ")),
            "use": _FEATURE_USE if a.name in protected_features else _AUDIT_USE,
        }
        for a in attributes
    ]
    gates = promotion_gates(info)
    risks = risks_and_mitigations(fairness, info.tags.get(OVERRIDE_TAG, ""))
    owner = {
        "organisation": force.field("organisation"),
        "team": force.field("team"),
        "senior_responsible_owner": force.field("senior_responsible_owner"),
        "contact": force.field("contact"),
        "supplier": f"mash-triage {t.get('triage_version', __version__)}, open-source software",
    }
    return {
        "schema": SCHEMA_ID,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "software_version": __version__,
        "missing_force_fields": force.missing(),
        "model": {
            "name": name,
            "version": info.version,
            "run_id": info.run_id,
            "registered": info.created.isoformat(timespec="seconds"),
            "aliases": list(info.aliases),
            "label": label,
            "label_description": described,
            "family": bundle.family,
        },
        "tier_1": {
            "name": f"Domestic-abuse incident triage ({label}), version {info.version}",
            "organisation": owner["organisation"],
            "contact": owner["contact"],
            "phase": force.field("phase"),
            "description": what,
            "purpose": force.field("purpose"),
            "how_it_works": (
                f"A {family} model trained on the force's recorded history of incidents, "
                "people and orders, using only what was known when each incident was "
                "reported, validated on later months it never saw, and audited for "
                "differences between groups of victims and perpetrators."
            ),
            "decision_process": decision,
        },
        "tier_2": {
            "owner_and_responsibility": owner,
            "description_and_rationale": {
                "description": what,
                "purpose": force.field("purpose"),
                "rationale": (
                    "A hub cannot review every incident in depth; the DASH grade alone "
                    "predicts escalation barely better than chance in published studies, "
                    "while models of recorded history do markedly better. The model is "
                    "compared with the DASH grade and two simpler baselines below."
                ),
                "model_family": t.get("model.family_reason") or family,
            },
            "decision_process_and_human_oversight": {
                "decision_process": decision,
                "human_oversight": force.field("human_oversight"),
                "promotion": (
                    "A version serves only after a person promotes it, and only if it "
                    "beats the simpler model, is calibrated and passes the fairness audit, "
                    "or with a recorded reason for overriding a failed gate."
                ),
                "gates": [asdict(g) for g in gates],
                "override_reason": info.tags.get(OVERRIDE_TAG) or None,
            },
            "data": {
                "sources": list(SOURCES),
                "training_period": [t.get("training.first_day"), t.get("training.last_day")],
                "validation_period": [
                    t.get("validation.first_day"),
                    t.get("validation.last_day"),
                ],
                "training_rows": _int(p.get("training_rows")),
                "data_fingerprint": t.get("data_fingerprint"),
                "fields": fields,
                "protected_characteristics": protected,
            },
            "impact_assessments": {
                "dpia_reference": force.field("dpia_reference"),
                "equality_impact_assessment": force.field("equality_impact_assessment"),
                "other": list(force.other_assessments),
            },
            "risks_and_mitigations": risks,
            "performance": {
                "capacity": _int(p.get("capacity"))
                or (fairness.operating_point.capacity if fairness is not None else None),
                "confidence": fairness.confidence if fairness is not None else 0.95,
                "model": [f for f in performance if f is not None],
                "baselines": [f for f in baselines if f is not None],
            },
            "fairness": _fairness(fairness),
        },
    }


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


def _fairness(report: Any) -> dict[str, Any]:
    if report is None:
        return {"audited": False, "gate_answer": "not audited", "disparities": []}
    shown = [d for d in report.iter_disparities() if d.primary or d.flagged]
    return {
        "audited": True,
        "gate_answer": report.gate_answer,
        "tolerance": list(report.tolerance),
        "confidence": report.confidence,
        "flags": list(report.flags),
        "unjudged": list(report.unjudged),
        "disparities": [
            {
                "key": d.name,
                "title": disparity_title(d.name),
                "primary": d.primary,
                "ratio": _number(d.ratio),
                "low": _number(d.low),
                "high": _number(d.high),
                "status": d.status,
            }
            for d in shown
        ],
    }


def record_json(record: dict[str, Any]) -> str:
    """The record as JSON text (NaN never appears: missing figures are null)."""
    return json.dumps(record, indent=2, allow_nan=False) + "\n"
