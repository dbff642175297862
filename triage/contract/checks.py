"""Problems, their rules, and the readers that turn one raw column (text from a CSV,
typed values from Parquet or JSON) into its contract dtype.

Each reader is vectorised: it parses the distinct values of a column once
(``pd.factorize``) rather than every cell, so a million-row extract costs seconds.
A value that cannot be read becomes missing *and* a problem, so the later
nullability check must not report the same cell twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from triage.contract.names import TABLES

__all__ = ["Problem", "ReadOptions", "Rule", "coerce_column", "problems_where", "short_value"]

#: folder-level problems (the path itself) use this table name
EXTRACT = "extract"
_TABLE_ORDER = (EXTRACT, *TABLES)
_VALUE_WIDTH = 60
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_INT_LIMIT = 2**53


class Rule(StrEnum):
    """The rule a problem breaks; the text is what a person reads."""

    NOT_A_FOLDER = "extract is not a folder"
    MISSING_FILE = "missing required table file"
    AMBIGUOUS_FILE = "ambiguous table file: both .csv and .parquet present"
    EMPTY_FILE = "empty file (no data rows)"
    NOT_UTF8 = "file is not valid UTF-8"
    UNREADABLE = "file cannot be read"
    MISSING_COLUMN = "missing required column"
    UNKNOWN_COLUMN = "unknown column"
    DUPLICATE_COLUMN = "duplicate column"
    NOT_BOOLEAN = "wrong type: expected true/false/1/0/yes/no"
    NOT_INTEGER = "wrong type: expected a whole number"
    UNPARSEABLE_TIMESTAMP = "unparseable timestamp"
    INVALID_LOCAL_TIME = "local time skipped or repeated by a clock change"
    UNKNOWN_CATEGORY = "unknown category"
    MISSING_VALUE = "missing value in a required field"
    DUPLICATE_ID = "duplicate id"
    BAD_ID = (
        "bad id: '.', '..', longer than 64 characters, or containing '/', a control "
        "character or an invisible one (zero-width, bidirectional)"
    )
    DECILE_OUT_OF_RANGE = "deprivation_decile outside 1-10"
    IMPLAUSIBLE_BIRTH_YEAR = "implausible birth_year"
    REPORTED_IN_FUTURE = "reported_at is in the future"
    OCCURRED_AFTER_REPORTED = "occurred_at is after reported_at"
    END_BEFORE_START = "end_at is before start_at"
    UNKNOWN_PERSON = "person not in people"
    WRONG_DTYPE = "wrong dtype"
    NOT_A_PROBABILITY = "not a probability between 0 and 1"
    UNKNOWN_INCIDENT = "incident not in incidents"
    INCIDENT_LEFT_OUT = "incidents of the extract missing from this table"


@dataclass(frozen=True)
class Problem:
    """One breach of the data contract.

    ``row`` is the 0-based data row in the file (the header is not a row), or
    ``None`` for a problem with a whole table or column; ``value`` is the offending
    value, shortened, or ``None``.
    """

    table: str
    column: str | None
    row: int | None
    value: str | None
    rule: str

    def sort_key(self) -> tuple[int, str, int, str, str]:
        rank = _TABLE_ORDER.index(self.table) if self.table in _TABLE_ORDER else len(_TABLE_ORDER)
        row = -1 if self.row is None else self.row
        return (rank, self.table, row, self.column or "", self.rule)


@dataclass(frozen=True)
class ReadOptions:
    """How to read timestamps: the zone of naive values and an optional strptime format."""

    naive_timezone: str = "UTC"
    timestamp_format: str | None = None


Coerced = tuple[pd.Series, list[tuple[np.ndarray, Rule]]]


def short_value(value: Any) -> str | None:
    """A value as a short string for a report (``None`` when missing)."""
    if value is None or (np.ndim(value) == 0 and pd.isna(value)):
        return None
    text = str(value)
    return text if len(text) <= _VALUE_WIDTH else text[: _VALUE_WIDTH - 3] + "..."


def problems_where(
    table: str, column: str, mask: np.ndarray, values: pd.Series, rule: str
) -> list[Problem]:
    """One problem for each row where ``mask`` is true, showing ``values`` there."""
    rows = np.flatnonzero(mask)
    if not len(rows):
        return []
    shown = values.iloc[rows].to_numpy(dtype=object)
    return [
        Problem(table, column, int(r), short_value(v), rule)
        for r, v in zip(rows, shown, strict=True)
    ]


def coerce_column(raw: pd.Series, target: Any, options: ReadOptions) -> Coerced:
    """Read ``raw`` into the pandas dtype ``target``; return it with the bad-cell masks."""
    if isinstance(target, pd.StringDtype):
        return _coerce_ids(raw), []
    if isinstance(target, pd.DatetimeTZDtype):
        return _coerce_timestamps(raw, options)
    if isinstance(target, pd.CategoricalDtype):
        return _coerce_category(raw, target)
    if isinstance(target, pd.BooleanDtype):
        return _coerce_bool(raw, nullable=True)
    if target == np.dtype(bool):
        return _coerce_bool(raw, nullable=False)
    if isinstance(target, pd.Int64Dtype):
        return _coerce_int(raw)
    raise TypeError(f"no reader for dtype {target!r}")  # pragma: no cover - a contract bug


def _by_distinct(raw: pd.Series, parse: Callable[[Any], Any]) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``parse`` to each distinct non-missing value; return per-row results and
    a per-row "could not parse" mask (``parse`` returns ``_BAD`` for those). Blank
    text is missing, as an empty CSV cell is."""
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    parsed = [None if _is_blank(u) else parse(u) for u in uniques]
    lookup = np.empty(len(parsed) + 1, dtype=object)
    lookup[:-1] = [None if p is _BAD else p for p in parsed]
    lookup[-1] = None
    bad_lookup = np.array([p is _BAD for p in parsed] + [False], dtype=bool)
    return lookup[codes], bad_lookup[codes]


_BAD = object()


def _is_blank(value: Any) -> bool:
    return isinstance(value, str) and not value.strip()


def _is_text(raw: pd.Series) -> bool:
    return isinstance(raw.dtype, pd.StringDtype) or (
        raw.dtype == object and ptypes.infer_dtype(raw, skipna=True) in ("string", "empty")
    )


def _id_text(value: Any) -> Any:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _coerce_ids(raw: pd.Series) -> pd.Series:
    if _is_text(raw):
        text = raw.astype(pd.StringDtype())
    else:
        text = pd.Series(_by_distinct(raw, _id_text)[0], index=raw.index, dtype=pd.StringDtype())
    text = text.str.strip()
    return text.mask(text == "")


def _missing_mask(raw: pd.Series) -> np.ndarray:
    return np.asarray(raw.isna().to_numpy(), dtype=bool)


def _coerce_category(raw: pd.Series, dtype: pd.CategoricalDtype) -> Coerced:
    positions = {c: i for i, c in enumerate(dtype.categories)}

    def parse(value: Any) -> Any:
        return positions.get(str(value).strip(), _BAD)

    found, bad = _by_distinct(raw, parse)
    codes = np.where(pd.isna(found), -1, found).astype(np.int64)
    values = pd.Series(pd.Categorical.from_codes(codes, dtype=dtype), index=raw.index)
    return values, [(bad, Rule.UNKNOWN_CATEGORY)]


def _parse_bool(value: Any) -> Any:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, str):
        token = value.strip().lower()
        if token in _TRUE:
            return True
        if token in _FALSE:
            return False
    return _BAD


def _coerce_bool(raw: pd.Series, *, nullable: bool) -> Coerced:
    if ptypes.is_bool_dtype(raw.dtype):
        values = raw.astype("boolean")
        bad = np.zeros(len(raw), dtype=bool)
    elif ptypes.is_numeric_dtype(raw.dtype) or ptypes.is_datetime64_any_dtype(raw.dtype):
        bad = ~_missing_mask(raw)
        values = pd.Series(pd.NA, index=raw.index, dtype="boolean")
    else:
        found, bad = _by_distinct(raw, _parse_bool)
        values = pd.Series(pd.array(found, dtype="boolean"), index=raw.index)
    masks: list[tuple[np.ndarray, Rule]] = [(bad, Rule.NOT_BOOLEAN)]
    if nullable:
        return values, masks
    missing = _missing_mask(values) & ~bad
    masks.append((missing, Rule.MISSING_VALUE))
    return values.fillna(False).astype(bool), masks


def _parse_int(value: Any) -> Any:
    if isinstance(value, bool | np.bool_):
        return _BAD
    number: Any = value
    if isinstance(value, str):
        text = value.strip()
        try:
            number = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                return _BAD
    if isinstance(number, float | np.floating):
        if not np.isfinite(number) or not float(number).is_integer():
            return _BAD
        number = int(number)
    if isinstance(number, int | np.integer) and abs(int(number)) < _INT_LIMIT:
        return int(number)
    return _BAD


def _coerce_int(raw: pd.Series) -> Coerced:
    if ptypes.is_integer_dtype(raw.dtype) and not ptypes.is_bool_dtype(raw.dtype):
        return raw.astype("Int64"), []
    found, bad = _by_distinct(raw, _parse_int)
    return pd.Series(pd.array(found, dtype="Int64"), index=raw.index), [(bad, Rule.NOT_INTEGER)]


_AWARE_SUFFIX = r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"
_NS_BOUNDS = (pd.Timestamp.min, pd.Timestamp.max)


def _within_ns(stamps: pd.Series) -> pd.Series:
    lo, hi = _NS_BOUNDS
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        lo, hi = lo.tz_localize("UTC"), hi.tz_localize("UTC")
    inside = stamps.where((stamps >= lo) & (stamps <= hi))
    return cast(pd.Series, inside.dt.as_unit("ns"))


def _localise(naive: pd.Series, zone: str) -> pd.Series:
    if zone == "UTC":
        return cast(pd.Series, naive.dt.tz_localize("UTC"))
    local = naive.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
    return cast(pd.Series, local.dt.tz_convert("UTC"))


def _parse_text_timestamps(raw: pd.Series, options: ReadOptions) -> tuple[pd.Series, np.ndarray]:
    """Parse text; offsets are honoured, naive values are in ``options.naive_timezone``."""
    fmt = options.timestamp_format or "ISO8601"
    no_local_fail = np.zeros(len(raw), dtype=bool)
    if options.naive_timezone == "UTC":
        return pd.to_datetime(raw, utc=True, errors="coerce", format=fmt), no_local_fail
    text = raw.astype(pd.StringDtype()).str.strip()
    aware = text.str.contains(_AWARE_SUFFIX, na=False).to_numpy(dtype=bool)
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
    if aware.any():
        out[aware] = pd.to_datetime(text[aware], utc=True, errors="coerce", format=fmt)
    naive = pd.to_datetime(text[~aware], errors="coerce", format=fmt)
    out[~aware] = _localise(naive, options.naive_timezone)
    local_fail = no_local_fail.copy()
    local_fail[~aware] = naive.notna().to_numpy() & out[~aware].isna().to_numpy()
    return out, local_fail


def _coerce_timestamps(raw: pd.Series, options: ReadOptions) -> Coerced:
    local_fail = np.zeros(len(raw), dtype=bool)
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        parsed = _within_ns(raw).dt.tz_convert("UTC")
    elif ptypes.is_datetime64_dtype(raw.dtype):
        naive = _within_ns(raw)
        parsed = _localise(naive, options.naive_timezone)
        local_fail = naive.notna().to_numpy() & parsed.isna().to_numpy()
    elif ptypes.is_numeric_dtype(raw.dtype) or ptypes.is_bool_dtype(raw.dtype):
        parsed = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
    else:
        parsed, local_fail = _parse_text_timestamps(raw, options)
    parsed = parsed.astype(pd.DatetimeTZDtype("ns", "UTC"))
    unparsed = ~_missing_mask(raw) & _missing_mask(parsed) & ~local_fail
    if unparsed.any():  # blank text is missing, not unparseable
        rows = np.flatnonzero(unparsed)
        unparsed[rows] = [not _is_blank(v) for v in raw.iloc[rows]]
    return parsed, [(unparsed, Rule.UNPARSEABLE_TIMESTAMP), (local_fail, Rule.INVALID_LOCAL_TIME)]
