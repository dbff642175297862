"""Pydantic models of the YAML specs: what a feature set computes
(``features/*.yaml``) and what a model predicts and how it is validated
(``models/*.yaml``).

Everything that changes a result lives in a spec, and every spec has a
``fingerprint`` (sha256 of its canonical JSON) so a built artifact can name the exact
spec it came from. Specs forbid unknown keys: a typo is an error, not a silent
default. New sections (the model's parameters, calibration, runtime settings) are
added as new fields beside the existing ones.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from triage.exceptions import ConfigError
from triage.paths import spec_path

__all__ = [
    "AGGREGATES",
    "DEFAULT_FEATURE_SPEC",
    "DEFAULT_MODEL_NAME",
    "DEFAULT_MODEL_SPEC",
    "ENTITIES",
    "FAMILIES",
    "INCIDENT_ATTRIBUTES",
    "POINT_AGGREGATES",
    "PROTECTED_ATTRIBUTES",
    "WINDOWED_AGGREGATES",
    "AggregateGroup",
    "CalibrationSpec",
    "ChampionRule",
    "Family",
    "FeatureSetSpec",
    "GridPoint",
    "LabelSpec",
    "LightGBMParams",
    "LogisticSpec",
    "ModelParams",
    "ModelSpec",
    "SpecSource",
    "SplitSpec",
    "load_feature_spec",
    "load_model_spec",
    "load_yaml_model",
    "read_spec",
    "read_yaml_model",
]

DEFAULT_FEATURE_SPEC = "features/default.yaml"
DEFAULT_MODEL_SPEC = "models/escalation.yaml"
#: the registered model of the default label (a registered model is named after its label)
DEFAULT_MODEL_NAME = "serious_harm_365d"

Entity = Literal["victim", "perpetrator", "pair"]
Window = Annotated[int, Field(gt=0, le=36_500)] | Literal["all"]
WindowedAggregate = Literal[
    "count",
    "crimes",
    "serious",
    "injury",
    "strangulation",
    "weapon",
    "stalking_harassment",
    "breaches",
    "harm_sum",
    "harm_max",
    "harm_trend",
    "distinct_victims",
    "distinct_perpetrators",
    "dash_high",
    "dash_highest_grade",
    "orders",
]
PointAggregate = Literal[
    "days_since_last",
    "days_since_last_serious",
    "dash_last_grade",
    "dash_last_ticks",
    "order_active",
]
Aggregate = WindowedAggregate | PointAggregate
IncidentAttribute = Literal[
    "incident_type",
    "harm_weight",
    "flags",
    "relationship",
    "dash_grade",
    "dash_ticks",
    "dash_answers",
    "ages",
    "perpetrator_known",
]
ProtectedAttribute = Literal[
    "victim_sex",
    "perpetrator_sex",
    "victim_ethnicity",
    "perpetrator_ethnicity",
    "deprivation_decile",
]

ENTITIES: tuple[str, ...] = get_args(Entity)
WINDOWED_AGGREGATES: tuple[str, ...] = get_args(WindowedAggregate)
POINT_AGGREGATES: tuple[str, ...] = get_args(PointAggregate)
AGGREGATES: tuple[str, ...] = WINDOWED_AGGREGATES + POINT_AGGREGATES
INCIDENT_ATTRIBUTES: tuple[str, ...] = get_args(IncidentAttribute)
PROTECTED_ATTRIBUTES: tuple[str, ...] = get_args(ProtectedAttribute)

#: aggregates that only make sense for some entities
_ONLY_FOR: dict[str, frozenset[str]] = {
    "distinct_victims": frozenset({"perpetrator"}),
    "distinct_perpetrators": frozenset({"victim"}),
    "orders": frozenset({"victim", "perpetrator"}),
    "order_active": frozenset({"victim", "perpetrator"}),
}
#: windowed aggregates that need a finite window
_FINITE_ONLY = frozenset({"harm_trend"})

_NAME = r"^[a-z][a-z0-9_]*$"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON form: equal specs, equal fingerprints."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


class AggregateGroup(_Spec):
    """One collate-style block: every entity × every window × every aggregate.

    Point aggregates (``days_since_last`` …) describe the latest record and take no
    ``windows``; windowed aggregates need them (``all`` = all recorded history).
    """

    entities: tuple[Entity, ...] = Field(min_length=1)
    windows: tuple[Window, ...] | None = None
    aggregates: tuple[Aggregate, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _combinations_make_sense(self) -> AggregateGroup:
        windowed = [a for a in self.aggregates if a in WINDOWED_AGGREGATES]
        point = [a for a in self.aggregates if a in POINT_AGGREGATES]
        if windowed and point:
            raise ValueError(
                f"mixes windowed {windowed} and point {point} aggregates: "
                "put point aggregates (no windows) in a group of their own"
            )
        if windowed and not self.windows:
            raise ValueError(f"windowed aggregates {windowed} need `windows`")
        if point and self.windows:
            raise ValueError(f"point aggregates {point} take no `windows`")
        for agg in self.aggregates:
            allowed = _ONLY_FOR.get(agg)
            if allowed is not None and not set(self.entities) <= allowed:
                raise ValueError(f"aggregate {agg!r} applies only to {sorted(allowed)}")
            if agg in _FINITE_ONLY and "all" in (self.windows or ()):
                raise ValueError(f"aggregate {agg!r} needs finite windows, not 'all'")
        return self


class FeatureSetSpec(_Spec):
    """A feature set: history aggregates, the incident's own attributes, and which
    protected attributes (audit-only by default) are opted in as features."""

    name: str = Field(pattern=_NAME)
    description: str = ""
    history: tuple[AggregateGroup, ...] = ()
    incident: tuple[IncidentAttribute, ...] = INCIDENT_ATTRIBUTES  # type: ignore[assignment]
    protected_as_features: tuple[ProtectedAttribute, ...] = ()


class LabelSpec(_Spec):
    """An escalation label (docs/architecture.md §4): does a qualifying incident involving the same
    people follow within ``window_days``?

    ``match`` lists who counts as the same (any one suffices); ``types`` is
    ``serious`` (the harm table's serious types), ``any``, or explicit type names.
    """

    name: str = Field(pattern=_NAME)
    window_days: int = Field(gt=0, le=36_500)
    match: tuple[Entity, ...] = Field(min_length=1)
    types: Literal["serious", "any"] | tuple[str, ...] = "any"
    description: str = ""

    @model_validator(mode="after")
    def _types_not_empty(self) -> LabelSpec:
        if isinstance(self.types, tuple) and not self.types:
            raise ValueError("`types` needs at least one incident type")
        return self


class SplitSpec(_Spec):
    """Temporal validation (docs/architecture.md §6); see :mod:`triage.models.temporal`."""

    n_splits: int = Field(default=3, ge=1)
    step_days: int = Field(default=182, gt=0)
    test_span_days: int = Field(default=182, gt=0)


class LightGBMParams(_Spec):
    """The booster's settings; see the comments in ``models/escalation.yaml``."""

    learning_rate: float = Field(default=0.1, gt=0, le=1)
    num_leaves: int = Field(default=7, ge=2, le=4096)
    min_child_samples: int = Field(default=200, ge=1)
    feature_fraction: float = Field(default=0.5, gt=0, le=1)
    bagging_fraction: float = Field(default=0.5, gt=0, le=1)
    bagging_freq: int = Field(default=1, ge=0)
    lambda_l2: float = Field(default=10.0, ge=0)
    max_bin: int = Field(default=255, ge=3, le=65_535)
    scale_pos_weight: float = Field(default=1.0, gt=0)
    max_rounds: int = Field(default=1000, ge=1)
    early_stopping_rounds: int = Field(default=30, ge=1)
    num_threads: int = Field(default=1, ge=1, le=256)


class GridPoint(_Spec):
    """One alternative to the base parameters, tried on each calibration slice."""

    learning_rate: float | None = Field(default=None, gt=0, le=1)
    num_leaves: int | None = Field(default=None, ge=2, le=4096)
    min_child_samples: int | None = Field(default=None, ge=1)
    feature_fraction: float | None = Field(default=None, gt=0, le=1)
    lambda_l2: float | None = Field(default=None, ge=0)


class CalibrationSpec(_Spec):
    """How scores become probabilities: ``platt`` (a sigmoid of the raw margin, keeps
    the ranking) or ``isotonic`` (a monotone step map), fitted on the last
    ``slice_days`` of each training period."""

    method: Literal["platt", "isotonic"] = "platt"
    slice_days: int = Field(default=182, gt=0, le=3650)


class LogisticSpec(_Spec):
    """The elastic-net logistic baseline (standardised numeric, one-hot categories)."""

    C: float = Field(default=0.01, gt=0)
    l1_ratio: float = Field(default=0.5, ge=0, le=1)
    tol: float = Field(default=0.01, gt=0)
    max_iter: int = Field(default=200, ge=1)
    log_transform: bool = True
    max_rows: int = Field(default=100_000, ge=100)


Family = Literal["logistic", "lightgbm"]
#: the model families a champion may come from, simplest first
FAMILIES: tuple[Family, ...] = ("logistic", "lightgbm")


class ChampionRule(_Spec):
    """Which candidate family ships: the simplest, unless a more complex one beats
    it by at least ``min_auc_gain`` pooled out-of-time AUC and (with
    ``split_wins``) on every split."""

    families: tuple[Family, ...] = Field(default=FAMILIES, min_length=1)
    min_auc_gain: float = Field(default=0.005, ge=0, le=1)
    split_wins: bool = True

    @model_validator(mode="after")
    def _simplest_first(self) -> ChampionRule:
        if len(set(self.families)) != len(self.families):
            raise ValueError(f"families must be distinct, got {list(self.families)}")
        order = [FAMILIES.index(f) for f in self.families]
        if order != sorted(order):
            raise ValueError(f"list families simplest first ({', '.join(FAMILIES)})")
        return self


class ModelParams(_Spec):
    """The ``model:`` section: booster, grid, calibration, the logistic baseline,
    and the rule that picks the family that ships."""

    lightgbm: LightGBMParams = LightGBMParams()
    grid: tuple[GridPoint, ...] = ()
    calibration: CalibrationSpec = CalibrationSpec()
    logistic: LogisticSpec = LogisticSpec()
    champion: ChampionRule = ChampionRule()


class ModelSpec(_Spec):
    """A model spec: the labels it knows, the one it predicts, its validation and
    (``model``) how the booster, its calibration and the baselines are fitted."""

    label: str = Field(pattern=_NAME)
    labels: tuple[LabelSpec, ...] = Field(min_length=1)
    splits: SplitSpec = SplitSpec()
    model: ModelParams = ModelParams()

    @model_validator(mode="after")
    def _label_is_defined(self) -> ModelSpec:
        names = [lab.name for lab in self.labels]
        if len(set(names)) != len(names):
            raise ValueError(f"label names must be unique, got {names}")
        if self.label not in names:
            raise ValueError(f"label {self.label!r} is not among the defined labels {names}")
        return self

    @property
    def target(self) -> LabelSpec:
        """The label this model predicts."""
        return next(lab for lab in self.labels if lab.name == self.label)


_M = TypeVar("_M", bound=BaseModel)


def read_yaml_model(file: Path, model: type[_M], what: str) -> tuple[_M, bytes]:
    """Parse and validate a YAML spec file; return the model and the file's bytes
    (for hashing). Every failure is a ``ConfigError`` naming the file and field."""
    try:
        raw_bytes = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {file}: {exc.strerror}") from None
    try:
        raw: Any = yaml.safe_load(raw_bytes)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML ({exc})") from None
    try:
        return model.model_validate(raw), raw_bytes
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"{file}: invalid {what}: {details}") from None


#: a spec as given: parsed with its exact text, parsed alone, a path, or the default
SpecSource = BaseModel | tuple[BaseModel, str] | str | Path | None


def read_spec(source: SpecSource, model: type[_M], default: str | None) -> tuple[_M, str]:
    """A spec and its exact YAML text, read once: from a path (or ``default``), passed
    through when already read (``(spec, text)``), or dumped from a spec object
    (canonical form, comments lost)."""
    if isinstance(source, tuple):
        given, text = source
        if not isinstance(given, model):
            raise ConfigError(f"expected a {model.__name__}, got a {type(given).__name__}")
        return given, text
    if isinstance(source, model):
        return source, yaml.safe_dump(source.model_dump(mode="json"), sort_keys=False)
    if isinstance(source, BaseModel):
        raise ConfigError(f"expected a {model.__name__}, got a {type(source).__name__}")
    if source is None:
        if default is None:
            raise ConfigError(f"a {model.__name__} is required")
        source = default
    parsed, raw = read_yaml_model(spec_path(source), model, model.__name__)
    return parsed, raw.decode("utf-8")


def load_yaml_model(path: str | Path | None, default: str, model: type[_M], what: str) -> _M:
    return read_yaml_model(spec_path(path if path is not None else default), model, what)[0]


def load_feature_spec(path: str | Path | None = None) -> FeatureSetSpec:
    """Load a feature-set spec (default: the shipped ``features/default.yaml``)."""
    return load_yaml_model(path, DEFAULT_FEATURE_SPEC, FeatureSetSpec, "feature spec")


def load_model_spec(path: str | Path | None = None) -> ModelSpec:
    """Load a model spec (default: the shipped ``models/escalation.yaml``)."""
    return load_yaml_model(path, DEFAULT_MODEL_SPEC, ModelSpec, "model spec")
