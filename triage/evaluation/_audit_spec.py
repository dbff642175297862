"""The audit spec (``evaluation/audit.yaml``, docs/architecture.md §8): which groups are compared on
which metrics, against which reference, with what tolerance, bootstrap and minimum
group sizes. Everything that changes an audit's result lives here; the file is
hashed like the other specs so a report can name the exact spec it came from."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from triage.config import load_yaml_model

__all__ = [
    "DEFAULT_AUDIT_SPEC",
    "GROUPINGS",
    "METRICS",
    "AttributeSpec",
    "AuditSpec",
    "BootstrapSpec",
    "MinGroupSpec",
    "OperatingPointSpec",
    "ThresholdOptionSpec",
    "load_audit_spec",
]

DEFAULT_AUDIT_SPEC = "evaluation/audit.yaml"

Metric = Literal[
    "base_rate",
    "mean_score",
    "selection_rate",
    "fnr",
    "fpr",
    "precision",
    "fdr",
    "calibration",
    "auc",
    "capacity_recall",
]
Grouping = Literal[
    "victim_sex",
    "victim_age_band",
    "victim_ethnicity",
    "victim_sex_ethnicity",
    "deprivation_quintile",
    "perpetrator_sex",
    "perpetrator_age_band",
    "perpetrator_ethnicity",
]
Constraint = Literal[
    "false_negative_rate_parity",
    "true_positive_rate_parity",
    "false_positive_rate_parity",
    "demographic_parity",
    "equalized_odds",
]
Objective = Literal["balanced_accuracy_score", "accuracy_score"]

METRICS: tuple[str, ...] = get_args(Metric)
GROUPINGS: tuple[str, ...] = get_args(Grouping)


class _AuditModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AttributeSpec(_AuditModel):
    """One grouping of incidents. ``tests`` are the metrics whose disparities can be
    flagged; ``report`` metrics are shown with intervals but never flag."""

    name: Grouping
    reference: str = Field(default="largest", min_length=1)
    tests: tuple[Metric, ...] = ()
    report: tuple[Metric, ...] = ()

    @property
    def side(self) -> str:
        """Whose group this is: ``perpetrator`` or ``victim`` (deprivation describes
        the area of the victim's incident, so it counts as a victim group)."""
        return "perpetrator" if self.name.startswith("perpetrator_") else "victim"

    @model_validator(mode="after")
    def _metrics_listed_once(self) -> AttributeSpec:
        both = sorted(set(self.tests) & set(self.report))
        if both:
            raise ValueError(f"metrics {both} are listed under both `tests` and `report`")
        if len(set(self.tests)) != len(self.tests) or len(set(self.report)) != len(self.report):
            raise ValueError("a metric is listed twice")
        return self


class OperatingPointSpec(_AuditModel):
    """Which incidents count as flagged. By default each day's ``capacity`` highest
    scores (the hub's daily review queue); with ``threshold``, every score at or above
    it. The capacity view (share of escalations in the daily top k) always uses
    ``capacity``."""

    capacity: int = Field(default=10, ge=1, le=100_000)
    threshold: float | None = Field(default=None, gt=0, lt=1)


class BootstrapSpec(_AuditModel):
    """Percentile bootstrap over incidents for the disparity intervals."""

    resamples: int = Field(default=200, ge=20, le=100_000)
    seed: int = Field(default=20240601, ge=0)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)


class MinGroupSpec(_AuditModel):
    """Below either size a group is too small to judge and never flagged. On each
    metric a group is also judged only if, at the reference group's rate, it would
    count at least ``expected_events`` events and as many non-events (for the
    missed-case rate: missed and caught escalations)."""

    n: int = Field(default=100, ge=1)
    positives: int = Field(default=20, ge=1)
    expected_events: int = Field(default=10, ge=0)


class ThresholdOptionSpec(_AuditModel):
    """Group-specific thresholds (fairlearn ``ThresholdOptimizer``): shown as an
    option considered, never applied."""

    enabled: bool = True
    attribute: Grouping = "victim_ethnicity"
    constraint: Constraint = "false_negative_rate_parity"
    objective: Objective = "balanced_accuracy_score"


class AuditSpec(_AuditModel):
    """The fairness audit of docs/architecture.md §8."""

    name: str = Field(default="default", pattern=r"^[a-z][a-z0-9_]*$")
    operating_point: OperatingPointSpec = OperatingPointSpec()
    tolerance: tuple[float, float] = (0.8, 1.25)
    bootstrap: BootstrapSpec = BootstrapSpec()
    min_group: MinGroupSpec = MinGroupSpec()
    age_bands: tuple[int, ...] = (25, 35, 45, 55)
    judge_missing: bool = False
    attributes: tuple[AttributeSpec, ...] = Field(min_length=1)
    thresholds: ThresholdOptionSpec = ThresholdOptionSpec()

    @model_validator(mode="after")
    def _consistent(self) -> AuditSpec:
        low, high = self.tolerance
        if not 0 < low < 1 < high:
            raise ValueError(
                f"tolerance must be [low, high] with 0 < low < 1 < high, got {low, high}"
            )
        bands = self.age_bands
        if not bands or any(b <= a for a, b in itertools.pairwise(bands)) or bands[0] <= 0:
            raise ValueError(f"age_bands must be positive, strictly increasing ages, got {bands}")
        names = [a.name for a in self.attributes]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"attributes {dupes} are listed twice")
        return self

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON form: equal specs, equal fingerprints."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


def load_audit_spec(path: str | Path | None = None) -> AuditSpec:
    """Load an audit spec (default: the shipped ``evaluation/audit.yaml``); a missing,
    malformed or invalid file raises ``ConfigError`` naming the file and the field."""
    return load_yaml_model(path, DEFAULT_AUDIT_SPEC, AuditSpec, "audit spec")
