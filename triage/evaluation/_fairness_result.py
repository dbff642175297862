"""The fairness audit's result: plain frozen dataclasses that serialise to JSON and
back (``to_dict`` / ``from_dict``). Undefined numbers are NaN in Python and ``null``
in JSON."""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd

from triage.evaluation._thresholds import ThresholdChange, ThresholdOption

__all__ = [
    "FLAGGED",
    "GATE_FLAGGED",
    "GATE_NOT_JUDGED",
    "GATE_PASS",
    "JUDGED",
    "NOT_JUDGED",
    "OUTSIDE",
    "REFERENCE",
    "TOO_SMALL",
    "UNCERTAIN",
    "UNDEFINED",
    "WITHIN",
    "AttributeResult",
    "Disparity",
    "FairnessReport",
    "GroupResult",
    "OperatingPoint",
    "ThresholdChange",
    "ThresholdOption",
]

FLAGGED = "flagged"
WITHIN = "within tolerance"
UNCERTAIN = "uncertain"  # the interval straddles an edge of the band
OUTSIDE = "outside tolerance"  # as FLAGGED, for a metric that is reported, not tested
TOO_SMALL = "too small to judge"
REFERENCE = "reference"
UNDEFINED = "undefined"  # no ratio: the reference's value is zero or missing
NOT_JUDGED = "not judged (attribute not recorded)"  # the spec's judge_missing is false
#: the verdicts that judge a comparison (the interval said something about the band)
JUDGED = (FLAGGED, WITHIN, UNCERTAIN, OUTSIDE)
#: the fairness gate's three answers
GATE_PASS, GATE_FLAGGED, GATE_NOT_JUDGED = "pass", "flagged", "not judged"


@dataclass(frozen=True)
class OperatingPoint:
    """How scores became flags, and what that gives over all audited incidents.

    ``rule`` is ``daily_top_k`` (each day's ``capacity`` highest scores) or
    ``threshold`` (scores at or above ``threshold``). ``capacity_recall`` is the share
    of escalations in the daily top ``capacity`` whatever the rule.
    """

    rule: str
    capacity: int
    threshold: float | None
    days: int
    incidents: int
    positives: int
    selection_rate: float
    recall: float
    precision: float
    capacity_recall: float


@dataclass(frozen=True)
class GroupResult:
    """Every audit metric of one group at the operating point (see ``audit.yaml``)."""

    group: str
    n: int
    positives: int
    judgeable: bool
    base_rate: float
    mean_score: float
    selection_rate: float
    fnr: float
    fpr: float
    precision: float
    fdr: float
    calibration: float
    auc: float
    capacity_recall: float


@dataclass(frozen=True)
class Disparity:
    """A group's metric as a ratio to the reference group's, with its bootstrap
    interval. ``test`` disparities can be flagged; ``primary`` marks the primary
    tests across victim groups (missed cases, calibration within group).
    ``detectable_low`` / ``detectable_high``: the ratios a true disparity would need
    to be flagged with 80% power at this size (NaN unless judged)."""

    attribute: str
    group: str
    metric: str
    reference: str
    value: float
    reference_value: float
    ratio: float
    low: float
    high: float
    status: str
    test: bool
    primary: bool
    detectable_low: float = math.nan
    detectable_high: float = math.nan

    @property
    def flagged(self) -> bool:
        return self.status == FLAGGED

    @property
    def judged(self) -> bool:
        return self.status in JUDGED

    @property
    def name(self) -> str:
        """``attribute:group:metric``, the form used in ``FairnessReport.flags``."""
        return f"{self.attribute}:{self.group}:{self.metric}"


@dataclass(frozen=True)
class AttributeResult:
    """One grouping: its groups' metrics and their disparities to ``reference``."""

    name: str
    side: str
    reference: str
    groups: tuple[GroupResult, ...]
    disparities: tuple[Disparity, ...]


@dataclass(frozen=True)
class FairnessReport:
    """The fairness audit of one set of scored incidents (docs/architecture.md §8)."""

    spec_name: str
    spec_fingerprint: str
    operating_point: OperatingPoint
    tolerance: tuple[float, float]
    confidence: float
    resamples: int
    seed: int
    min_n: int
    min_positives: int
    attributes: tuple[AttributeResult, ...]
    thresholds: ThresholdOption | None
    summary: tuple[str, ...]
    flags: tuple[str, ...]
    #: what each side's bootstrap resampled: victims, perpetrators or incidents
    victim_resampling: str = "incidents"
    perpetrator_resampling: str = "incidents"

    @property
    def primary_flags(self) -> tuple[str, ...]:
        """Flags of the primary tests (missed cases and calibration across victim
        groups)."""
        return tuple(d.name for d in self.iter_disparities() if d.primary and d.flagged)

    @property
    def unjudged(self) -> tuple[str, ...]:
        """Attributes with a primary test where fewer than half of the groups compared
        with the reference were judged (on at least one primary test), as
        ``attribute (j of m groups judged)``. Groups excluded by ``judge_missing``
        are not counted; an attribute with nothing to compare is unjudged."""
        out = []
        for attribute in self.attributes:
            by_group: dict[str, list[Disparity]] = {}
            for d in attribute.disparities:
                if d.primary and d.status not in (REFERENCE, NOT_JUDGED):
                    by_group.setdefault(d.group, []).append(d)
            if not any(d.primary for d in attribute.disparities):
                continue
            judged = sum(any(d.judged for d in ds) for ds in by_group.values())
            if 2 * judged < len(by_group) or not by_group:
                out.append(f"{attribute.name} ({judged} of {len(by_group)} groups judged)")
        return tuple(out)

    @property
    def gate_answer(self) -> str:
        """The fairness gate's answer: flagged (a primary flag), not judged (see
        ``unjudged``), or pass."""
        if self.primary_flags:
            return GATE_FLAGGED
        return GATE_NOT_JUDGED if self.unjudged else GATE_PASS

    def iter_disparities(self) -> typing.Iterator[Disparity]:
        for attribute in self.attributes:
            yield from attribute.disparities

    def disparity_frame(self) -> pd.DataFrame:
        """Every disparity as one row (for tables and notebooks)."""
        return pd.DataFrame([dataclasses.asdict(d) for d in self.iter_disparities()])

    def group_frame(self) -> pd.DataFrame:
        """Every group's metrics as one row, with its attribute."""
        rows = [
            {"attribute": a.name, **dataclasses.asdict(g)}
            for a in self.attributes
            for g in a.groups
        ]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: lists for tuples, ``None`` for NaN."""
        out = _jsonable(dataclasses.asdict(self))
        assert isinstance(out, dict)
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FairnessReport:
        return _build(cls, data)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


_T = TypeVar("_T")


def _build(cls: type[_T], data: dict[str, Any]) -> _T:
    hints = typing.get_type_hints(cls)
    kwargs = {  # a field added later, with a default, may be missing from older reports
        f.name: _value(hints[f.name], data[f.name])
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.name in data or f.default is dataclasses.MISSING
    }
    return cls(**kwargs)


def _value(tp: Any, value: Any) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return _value(next(a for a in args if a is not type(None)), value)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_value(args[0], v) for v in value)
        return tuple(_value(a, v) for a, v in zip(args, value, strict=True))
    if dataclasses.is_dataclass(tp):
        return _build(tp, value)  # type: ignore[arg-type]
    if tp is float:
        return math.nan if value is None else float(value)
    return value
