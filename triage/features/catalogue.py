"""The feature catalogue: every feature a spec defines, with its dtype, its fixed
categories and the plain-words template a reviewer sees as a reason."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from triage.config import FeatureSetSpec
from triage.contract.harm import HarmWeights
from triage.contract.names import (
    BOOL_FLAGS,
    DASH_GRADES,
    DASH_QUESTIONS,
    ETHNICITIES,
    RELATIONSHIPS,
    SEXES,
)
from triage.exceptions import ConfigError

#: DASH grades as ordinals for history aggregates; ``not_completed`` has none.
GRADE_ORDINAL: dict[str, int] = {"standard": 1, "medium": 2, "high": 3}
_GRADE_LEVELS: dict[int, str] = {v: k for k, v in GRADE_ORDINAL.items()}

#: Short statements of the 27 DASH (2009) questions, as a reviewer would read them.
DASH_TEXT: tuple[str, ...] = (
    "the current incident resulted in injury",
    "the victim is very frightened",
    "the victim is afraid of further injury or violence",
    "the victim feels isolated from family or friends",
    "the victim feels depressed or has suicidal thoughts",
    "the victim has separated or tried to separate in the past year",
    "there is conflict over child contact",
    "the perpetrator constantly contacts, follows, stalks or harasses the victim",
    "the victim is pregnant or recently had a baby",
    "there are other children or dependants in the household",
    "the perpetrator has hurt the children or dependants",
    "the perpetrator has threatened to hurt or kill the children or dependants",
    "the abuse is happening more often",
    "the abuse is getting worse",
    "the perpetrator tries to control everything or is excessively jealous",
    "the perpetrator has used weapons or objects to hurt the victim",
    "the perpetrator has threatened to kill and the victim believed it",
    "the perpetrator has tried to strangle, choke, suffocate or drown the victim",
    "the perpetrator does or says sexual things that hurt or degrade",
    "another person has threatened the victim or is feared",
    "the perpetrator is known to have hurt someone else",
    "the perpetrator has mistreated an animal or pet",
    "there are financial issues",
    "the perpetrator had drug, alcohol or mental-health problems in the past year",
    "the perpetrator has threatened or attempted suicide",
    "the perpetrator has breached bail, an injunction or a contact agreement",
    "the perpetrator has been in trouble with the police or has a criminal history",
)

_FLAG_TEXT: dict[str, tuple[str, str]] = {
    "injury": ("injury reported in this incident", "no injury reported in this incident"),
    "weapon": ("weapon reported in this incident", "no weapon reported in this incident"),
    "strangulation": (
        "strangulation reported in this incident",
        "no strangulation reported in this incident",
    ),
    "children_present": ("children present at this incident", "no children present"),
    "substance_misuse": (
        "substance misuse reported in this incident",
        "no substance misuse reported in this incident",
    ),
}

_INVOLVING = {
    "victim": "involving this victim",
    "perpetrator": "involving this perpetrator",
    "pair": "between this victim and this perpetrator",
}

_WINDOWED_TEXT: dict[str, str] = {
    "count": "{value} earlier incidents {inv} {win}",
    "crimes": "{value} earlier recorded crimes {inv} {win}",
    "serious": "{value} earlier serious-harm incidents {inv} {win}",
    "injury": "{value} earlier incidents with injury {inv} {win}",
    "strangulation": "{value} earlier incidents with strangulation {inv} {win}",
    "weapon": "{value} earlier incidents with a weapon {inv} {win}",
    "stalking_harassment": "{value} earlier stalking or harassment incidents {inv} {win}",
    "breaches": "{value} earlier breaches of an order {inv} {win}",
    "harm_sum": "harm of {value} (days' custody equivalent) in earlier incidents {inv} {win}",
    "harm_max": "most harmful earlier incident {inv} {win}: harm {value}",
    "harm_trend": (
        "harm {inv} changed by {value} from the earlier to the later half of the last {days} days"
    ),
    "distinct_victims": "{value} different victims of this perpetrator {win}",
    "distinct_perpetrators": "{value} different perpetrators against this victim {win}",
    "dash_high": "{value} earlier incidents {inv} graded DASH high {win}",
    "dash_highest_grade": "highest DASH grade of earlier incidents {inv} {win}: {value}",
    "orders": "{value} protective orders naming {who} started {win}",
}
_POINT_TEXT: dict[str, str] = {
    "days_since_last": "{value} days since the last earlier incident {inv}",
    "days_since_last_serious": "{value} days since the last serious-harm incident {inv}",
    "dash_last_grade": "DASH grade at the last assessed incident {inv}: {value}",
    "dash_last_ticks": "{value} DASH questions answered yes at the last assessed incident {inv}",
}
_DTYPE: dict[str, str] = {
    "harm_sum": "float64",
    "harm_max": "float64",
    "harm_trend": "float64",
    "dash_highest_grade": "float64",
    "days_since_last": "float64",
    "days_since_last_serious": "float64",
    "dash_last_grade": "float64",
    "dash_last_ticks": "float64",
    "orders": "float32",
    "order_active": "float32",
}
_PROTECTED: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "victim_sex": ("victim's sex: {value}", SEXES),
    "perpetrator_sex": ("perpetrator's sex: {value}", SEXES),
    "victim_ethnicity": ("victim's ethnicity: {value}", ETHNICITIES),
    "perpetrator_ethnicity": ("perpetrator's ethnicity: {value}", ETHNICITIES),
    "deprivation_decile": ("incident area in deprivation decile {value}", None),
}


@dataclass(frozen=True)
class FeatureInfo:
    """One feature: what it is, how it is stored, and how a reviewer reads it.

    ``description`` is a template with ``{value}``; yes/no features instead carry a
    statement for yes (``description``) and one for no (``absent``).
    """

    name: str
    description: str
    entity: str  # victim, perpetrator, pair, or incident (own attributes)
    window: int | str | None  # days, "all", or None for point / own attributes
    aggregate: str
    dtype: str  # int8, int32, float32, float64 or category
    categories: tuple[str, ...] | None = None
    absent: str | None = None
    levels: Mapping[int, str] = field(default_factory=dict)

    def describe(self, value: Any) -> str:
        """The reason text for one value of this feature."""
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        if self.absent is not None:
            if missing:
                return f"{self.description} (not recorded)"
            return self.description if bool(value) else self.absent
        if missing:
            text = "unknown"
        elif self.levels:
            text = self.levels.get(int(value), str(value))
        elif isinstance(value, float):
            text = f"{value:.0f}" if value.is_integer() else f"{value:.1f}"
        else:
            text = str(value).replace("_", " ")
        return self.description.format(value=text)


def _window_phrase(window: int | str) -> str:
    return "on record" if window == "all" else f"in the last {window} days"


def _windowed(entity: str, window: int | str, agg: str) -> FeatureInfo:
    suffix = "all" if window == "all" else f"{window}d"
    text = _WINDOWED_TEXT[agg].format(
        value="{value}",
        inv=_INVOLVING[entity],
        win=_window_phrase(window),
        who=f"this {entity}",
        days=window,
    )
    levels = _GRADE_LEVELS if agg == "dash_highest_grade" else {}
    return FeatureInfo(
        f"{entity}_{agg}_{suffix}",
        text,
        entity,
        window,
        agg,
        _DTYPE.get(agg, "int32"),
        levels=levels,
    )


def _point(entity: str, agg: str) -> FeatureInfo:
    if agg == "order_active":
        return FeatureInfo(
            f"{entity}_order_active",
            f"a protective order naming this {entity} was in force",
            entity,
            None,
            agg,
            "float32",
            absent=f"no protective order naming this {entity} was in force",
        )
    text = _POINT_TEXT[agg].format(value="{value}", inv=_INVOLVING[entity])
    levels = _GRADE_LEVELS if agg == "dash_last_grade" else {}
    return FeatureInfo(f"{entity}_{agg}", text, entity, None, agg, _DTYPE[agg], levels=levels)


def _own(attribute: str, harm: HarmWeights) -> list[FeatureInfo]:
    def own(name: str, text: str, dtype: str, **kw: Any) -> FeatureInfo:
        return FeatureInfo(name, text, "incident", None, attribute, dtype, **kw)

    if attribute == "incident_type":
        return [
            own("incident_type", "incident type: {value}", "category", categories=tuple(harm.names))
        ]
    if attribute == "harm_weight":
        return [own("harm_weight", "this incident's type carries harm {value}", "float64")]
    if attribute == "flags":
        return [own(f, _FLAG_TEXT[f][0], "int8", absent=_FLAG_TEXT[f][1]) for f in BOOL_FLAGS]
    if attribute == "relationship":
        return [own("relationship", "relationship: {value}", "category", categories=RELATIONSHIPS)]
    if attribute == "dash_grade":
        return [
            own(
                "dash_grade",
                "DASH grade of this incident: {value}",
                "category",
                categories=DASH_GRADES,
            )
        ]
    if attribute == "dash_ticks":
        return [own("dash_ticks", "{value} DASH questions answered yes in this incident", "int32")]
    if attribute == "dash_answers":
        return [
            own(q, f"DASH yes: {t}", "float32", absent=f"DASH no: {t}")
            for q, t in zip(DASH_QUESTIONS, DASH_TEXT, strict=True)
        ]
    if attribute == "ages":
        return [
            own("victim_age", "victim aged {value} at this incident", "float64"),
            own("perpetrator_age", "perpetrator aged {value} at this incident", "float64"),
        ]
    if attribute == "perpetrator_known":
        return [
            own(
                "perpetrator_known",
                "the perpetrator is identified",
                "int8",
                absent="the perpetrator is not identified",
            )
        ]
    raise AssertionError(attribute)  # pragma: no cover - the spec's Literal forbids it


def protected_info(attribute: str) -> FeatureInfo:
    text, cats = _PROTECTED[attribute]
    dtype = "category" if cats is not None else "float64"
    return FeatureInfo(attribute, text, "incident", None, attribute, dtype, categories=cats)


def build_catalogue(spec: FeatureSetSpec, harm: HarmWeights) -> tuple[FeatureInfo, ...]:
    """Every feature of ``spec`` in matrix column order; names are unique."""
    out: list[FeatureInfo] = []
    for attribute in spec.incident:
        out.extend(_own(attribute, harm))
    for group in spec.history:
        for entity in group.entities:
            for agg in group.aggregates:
                if group.windows is None:
                    out.append(_point(entity, agg))
                else:
                    out.extend(_windowed(entity, w, agg) for w in group.windows)
    out.extend(protected_info(p) for p in spec.protected_as_features)
    dupes = sorted(n for n, k in Counter(f.name for f in out).items() if k > 1)
    if dupes:
        raise ConfigError(f"feature spec {spec.name!r} defines these features twice: {dupes}")
    return tuple(out)
