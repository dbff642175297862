"""The alert rules as a spec (``features/alerts.yaml``; docs/architecture.md §5): what
each rule looks for and what it suggests, checked when loaded so a typo in a rule is
a clear error rather than an alert that never fires. The engine is
:mod:`triage.features.alerts`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from triage.config import load_yaml_model

__all__ = [
    "DEFAULT_ALERT_SPEC",
    "AlertRule",
    "AlertSpec",
    "CourseOfConduct",
    "OrderBreach",
    "RisingFrequency",
    "SerialPerpetrator",
    "load_alert_spec",
]

DEFAULT_ALERT_SPEC = "features/alerts.yaml"


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = Field(min_length=1)
    action: str = Field(min_length=1)


class CourseOfConduct(_Rule):
    """At least ``min_count`` incidents of ``types`` by the same perpetrator against
    the same victim in the last ``window_days``."""

    rule: Literal["course_of_conduct"]
    types: tuple[str, ...] = Field(min_length=1)
    window_days: int = Field(gt=0, le=36_500)
    min_count: int = Field(ge=1)


class OrderBreach(_Rule):
    """An order on the perpetrator is in force, made after an earlier incident of
    this pair (so it protects this victim)."""

    rule: Literal["order_breach"]


class RisingFrequency(_Rule):
    """At least ``min_recent`` incidents of the pair in ``recent_days``, and at least
    ``ratio`` times what their earlier rate predicts: the rate over the
    ``baseline_days`` before, or over the part of them since the pair's first record
    (an expectation below one incident counts as one). A pair with no record before
    the recent days has no earlier rate, so it never fires."""

    rule: Literal["rising_frequency"]
    recent_days: int = Field(gt=0, le=3650)
    baseline_days: int = Field(gt=0, le=36_500)
    min_recent: int = Field(ge=1)
    ratio: float = Field(gt=1)


class SerialPerpetrator(_Rule):
    """The perpetrator has at least ``min_victims`` victims, counting this one."""

    rule: Literal["serial_perpetrator"]
    min_victims: int = Field(ge=2)


AlertRule = Annotated[
    CourseOfConduct | OrderBreach | RisingFrequency | SerialPerpetrator,
    Field(discriminator="rule"),
]


class AlertSpec(BaseModel):
    """The alert rules, in the order a reviewer reads them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alerts: tuple[AlertRule, ...]

    @model_validator(mode="after")
    def _unique_names(self) -> AlertSpec:
        names = [a.name for a in self.alerts]
        if len(set(names)) != len(names):
            raise ValueError(f"alert names must be unique, got {names}")
        return self


def load_alert_spec(path: str | Path | None = None) -> AlertSpec:
    """Load an alert spec (default: the shipped ``features/alerts.yaml``)."""
    return load_yaml_model(path, DEFAULT_ALERT_SPEC, AlertSpec, "alert spec")
