"""Arrays derived from incident frames: the record arrays the history aggregates
read, the incident's own attributes, and the audit-only protected attributes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from triage.contract.harm import HarmWeights
from triage.contract.names import (
    BOOL_FLAGS,
    DASH_GRADES,
    DASH_QUESTIONS,
    ETHNICITIES,
    RELATIONSHIPS,
    SEXES,
)
from triage.exceptions import ConfigError, SchemaError
from triage.features.catalogue import GRADE_ORDINAL, FeatureInfo
from triage.features.history import HARM_SCALE, Records
from triage.features.windows import IntArray, to_ns

Values = npt.NDArray[np.generic] | pd.Categorical

_IMPLIED_BY_TYPE = {
    "injury": ("assault_with_injury", "gbh"),
    "strangulation": ("non_fatal_strangulation",),
}


def from_codes(codes: IntArray, categories: Sequence[str]) -> pd.Categorical:
    """A categorical with the fixed ``categories`` (code -1 = missing)."""
    return cast(
        pd.Categorical,
        pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(list(categories))),
    )


def category_codes(
    col: pd.Series, categories: Sequence[str], what: str, error: type[Exception]
) -> IntArray:
    """Codes of ``col`` in the fixed ``categories`` (-1 = missing); unknown values raise."""
    if isinstance(col.dtype, pd.CategoricalDtype) and list(col.cat.categories) == list(categories):
        # already in these categories (a normalised extract): its codes are the answer
        own: IntArray = col.cat.codes.to_numpy().astype(np.int64)
        return own
    codes = pd.Categorical(col, categories=list(categories)).codes.astype(np.int64)
    unknown = (codes < 0) & col.notna().to_numpy()
    if unknown.any():
        bad = sorted({str(v) for v in col[unknown]})[:5]
        raise error(f"{what} {bad} not among the known categories {list(categories)}")
    return codes


def _flag(col: pd.Series) -> npt.NDArray[np.bool_]:
    """A yes/no column as booleans, missing as no."""
    if col.dtype == bool:
        return col.to_numpy()
    return col.astype("boolean").fillna(False).to_numpy(dtype=bool)


@dataclass(frozen=True)
class Incidents:
    """Arrays derived from one incidents frame (history or queries)."""

    ns: IntArray
    type_code: IntArray
    flags: dict[str, npt.NDArray[np.bool_]]
    grade_code: IntArray
    answers: npt.NDArray[np.float32]

    @classmethod
    def of(cls, frame: pd.DataFrame, harm: HarmWeights) -> Incidents:
        type_code = category_codes(
            frame["incident_type"], harm.names, "incident types (harm-weight table)", ConfigError
        )
        flags = {f: _flag(frame[f]) for f in BOOL_FLAGS if f in frame}
        grade = (
            category_codes(frame["dash_grade"], DASH_GRADES, "dash_grade", SchemaError)
            if "dash_grade" in frame
            else np.full(len(frame), -1, dtype=np.int64)
        )
        # column-major: each answer is written, and later read, as one contiguous column
        answers = np.full((len(frame), len(DASH_QUESTIONS)), np.nan, dtype=np.float32, order="F")
        for k, q in enumerate(DASH_QUESTIONS):
            if q in frame:
                col = frame[q] if frame[q].dtype == "boolean" else frame[q].astype("boolean")
                answers[:, k] = col.to_numpy(np.float32, na_value=np.nan)
        return cls(to_ns(frame["reported_at"]), type_code, flags, grade, answers)

    @cached_property
    def ticks(self) -> IntArray:
        ticks: IntArray = (self.answers == 1).sum(axis=1).astype(np.int64)
        return ticks


def records(
    inc: Incidents, rank: IntArray, codes: dict[str, IntArray], harm: HarmWeights
) -> Records:
    """The per-record arrays the history aggregates read."""
    names = harm.names
    types = [harm.types[t] for t in names]
    lookup = {
        "serious": np.array([t.serious for t in types]),
        "crime": np.array([t.crime for t in types]),
        "stalking_harassment": np.array([t in ("stalking", "harassment") for t in names]),
        "breach": np.array([t == "breach_of_order" for t in names]),
    }
    weight = np.array([round(t.weight * HARM_SCALE) for t in types], dtype=np.int64)
    t = inc.type_code
    flags = {k: v[t] for k, v in lookup.items()}
    for flag in ("injury", "weapon", "strangulation"):
        implied = [names.index(x) for x in _IMPLIED_BY_TYPE.get(flag, ()) if x in names]
        own = inc.flags.get(flag, np.zeros(len(t), dtype=bool))
        flags[flag] = own | np.isin(t, implied)
    ordinal = np.array([GRADE_ORDINAL.get(g, 0) for g in DASH_GRADES] + [0], dtype=np.int64)
    grade = ordinal[inc.grade_code]  # code -1 (missing) reads the trailing 0
    flags["assessed"] = grade > 0
    flags["dash_high"] = grade == GRADE_ORDINAL["high"]
    return Records(inc.ns, rank, codes, weight[t], grade, inc.ticks, flags)


def _take(values: npt.NDArray[np.generic], rows: IntArray, fill: float) -> npt.NDArray[np.float64]:
    out = np.full(len(rows), fill, dtype=np.float64)
    ok = rows >= 0
    out[ok] = values[rows[ok]]
    return out


def _take_category(
    people: pd.DataFrame, column: str, rows: IntArray, categories: Sequence[str]
) -> pd.Categorical:
    codes = category_codes(people[column], categories, column, SchemaError)
    taken = np.where(rows >= 0, codes[np.maximum(rows, 0)] if len(codes) else -1, -1)
    return from_codes(taken, categories)


def ages(
    inc: Incidents, people: pd.DataFrame, victim_row: IntArray, perp_row: IntArray
) -> dict[str, npt.NDArray[np.float64]]:
    """Age in whole calendar years at the incident: its year minus the birth year."""
    year = inc.ns.astype("datetime64[ns]").astype("datetime64[Y]").astype(np.int64) + 1970
    birth = people["birth_year"].astype("Float64").to_numpy(np.float64, na_value=np.nan)
    return {
        "victim_age": year - _take(birth, victim_row, np.nan),
        "perpetrator_age": year - _take(birth, perp_row, np.nan),
    }


def own_values(
    query: pd.DataFrame,
    inc: Incidents,
    perp_code: IntArray,
    harm: HarmWeights,
    wanted: Sequence[FeatureInfo],
    age: dict[str, npt.NDArray[np.float64]],
) -> dict[str, Values]:
    """The incident's own attributes, for the features ``wanted`` that are its own."""
    names = {f.name for f in wanted if f.entity == "incident"}
    weight = np.array([harm.types[t].weight for t in harm.names], dtype=np.float64)
    out: dict[str, Values] = {}
    if "incident_type" in names:
        out["incident_type"] = from_codes(inc.type_code, harm.names)
    if "harm_weight" in names:
        out["harm_weight"] = weight[inc.type_code]
    for flag in BOOL_FLAGS:
        if flag in names:
            out[flag] = inc.flags.get(flag, np.zeros(len(query), dtype=bool))
    if "relationship" in names:
        codes = category_codes(query["relationship"], RELATIONSHIPS, "relationship", SchemaError)
        out["relationship"] = from_codes(codes, RELATIONSHIPS)
    if "dash_grade" in names:
        out["dash_grade"] = from_codes(inc.grade_code, DASH_GRADES)
    if "dash_ticks" in names:
        out["dash_ticks"] = inc.ticks
    for k, q in enumerate(DASH_QUESTIONS):
        if q in names:
            out[q] = inc.answers[:, k]
    out.update({k: v for k, v in age.items() if k in names})
    if "perpetrator_known" in names:
        out["perpetrator_known"] = perp_code >= 0
    return out


def audit_frame(
    query: pd.DataFrame,
    people: pd.DataFrame,
    victim_row: IntArray,
    perp_row: IntArray,
    age: dict[str, npt.NDArray[np.float64]],
) -> pd.DataFrame:
    """Protected attributes and ages of each query incident, for the fairness audit."""
    decile = (
        query["deprivation_decile"].astype("Int64").to_numpy()
        if "deprivation_decile" in query
        else pd.array([pd.NA] * len(query), dtype="Int64")
    )
    return pd.DataFrame(
        {
            "incident_id": pd.array(query["incident_id"].to_numpy(), dtype="string"),
            "victim_sex": _take_category(people, "sex", victim_row, SEXES),
            "perpetrator_sex": _take_category(people, "sex", perp_row, SEXES),
            "victim_ethnicity": _take_category(people, "ethnicity", victim_row, ETHNICITIES),
            "perpetrator_ethnicity": _take_category(people, "ethnicity", perp_row, ETHNICITIES),
            "deprivation_decile": pd.array(decile, dtype="Int64"),
            **age,
        }
    )
