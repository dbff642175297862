"""Between the contract's normalised frames and the store's rows.

Rows carry the SHA-256 of their canonical content (contract columns in contract
order, timestamps as UTC ISO text to the microsecond), so a re-sent row is found
equal or different without comparing column by column. Stored rows come back as an
:class:`~triage.contract.names.Extract` built straight in the contract's dtypes: they
passed :func:`~triage.contract.validation.validate_frames` on the way in and the store never
changes a row, so checking them again on every read would only cost time
(``tests/service/test_frames.py`` proves both roads give the same extract).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from triage.contract.harm import load_harm_weights
from triage.contract.names import (
    BOOL_FLAGS,
    DASH_GRADES,
    DASH_QUESTIONS,
    ETHNICITIES,
    INCIDENT_COLUMNS,
    ORDER_COLUMNS,
    ORDER_TYPES,
    PEOPLE_COLUMNS,
    RELATIONSHIPS,
    SEXES,
    Extract,
)

__all__ = ["COLUMNS", "KEYS", "Record", "extract_from_records", "key_of", "records_of"]

Record = dict[str, Any]

COLUMNS: dict[str, tuple[str, ...]] = {
    "incidents": INCIDENT_COLUMNS,
    "people": PEOPLE_COLUMNS,
    "orders": ORDER_COLUMNS,
}
#: the columns that identify a row of each table
KEYS: dict[str, tuple[str, ...]] = {
    "incidents": ("incident_id",),
    "people": ("person_id",),
    "orders": ("person_id", "order_type", "start_at"),
}


def _python_values(series: pd.Series) -> list[Any]:
    """Plain Python values (``None`` for missing) a database driver accepts."""
    missing = series.isna().to_numpy(dtype=bool)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        stamps = series.dt.tz_convert("UTC").dt.floor("us")
        values: list[Any] = [
            None if m else t.to_pydatetime() for t, m in zip(stamps, missing, strict=True)
        ]
        return values
    if series.dtype == bool:
        return [bool(v) for v in series.to_numpy()]
    raw = series.astype(object).to_numpy()
    if isinstance(series.dtype, pd.BooleanDtype):
        return [None if m else bool(v) for v, m in zip(raw, missing, strict=True)]
    if isinstance(series.dtype, pd.Int64Dtype):
        return [None if m else int(v) for v, m in zip(raw, missing, strict=True)]
    return [None if m else str(v) for v, m in zip(raw, missing, strict=True)]


def _canonical(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def records_of(table: str, frame: pd.DataFrame) -> list[Record]:
    """The rows of a normalised contract table, each with its ``content_sha256``."""
    columns = COLUMNS[table]
    values = {c: _python_values(frame[c]) for c in columns}
    out: list[Record] = []
    for i in range(len(frame)):
        row = {c: values[c][i] for c in columns}
        text = json.dumps([_canonical(row[c]) for c in columns], separators=(",", ":"))
        row["content_sha256"] = hashlib.sha256(text.encode()).hexdigest()
        out.append(row)
    return out


def key_of(table: str, record: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(record[k] for k in KEYS[table])


_STRING = pd.StringDtype()
_UTC = pd.DatetimeTZDtype("ns", "UTC")


@functools.lru_cache(maxsize=8)
def _dtypes_for(incident_types: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    category = pd.CategoricalDtype
    incidents: dict[str, Any] = {
        "incident_id": _STRING,
        "reported_at": _UTC,
        "occurred_at": _UTC,
        "victim_id": _STRING,
        "perpetrator_id": _STRING,
        "relationship": category(list(RELATIONSHIPS)),
        "incident_type": category(list(incident_types)),
        **dict.fromkeys(BOOL_FLAGS, np.dtype(bool)),
        "dash_grade": category(list(DASH_GRADES)),
        **dict.fromkeys(DASH_QUESTIONS, pd.BooleanDtype()),
        "deprivation_decile": pd.Int64Dtype(),
    }
    people = {
        "person_id": _STRING,
        "sex": category(list(SEXES)),
        "birth_year": pd.Int64Dtype(),
        "ethnicity": category(list(ETHNICITIES)),
    }
    orders = {
        "person_id": _STRING,
        "order_type": category(list(ORDER_TYPES)),
        "start_at": _UTC,
        "end_at": _UTC,
    }
    return {"incidents": incidents, "people": people, "orders": orders}


def _dtypes() -> dict[str, dict[str, Any]]:
    """Each stored column's contract dtype (``triage.contract.validation``'s normalised tables)."""
    return _dtypes_for(tuple(load_harm_weights().names))


def _column(values: list[Any], dtype: Any) -> Any:
    if isinstance(dtype, pd.DatetimeTZDtype):
        return pd.to_datetime(pd.Series(values, dtype=object), utc=True).astype(dtype).array
    if isinstance(dtype, pd.CategoricalDtype):
        return pd.Categorical(values, dtype=dtype)
    if dtype == np.dtype(bool):
        return np.array(values, dtype=bool)
    return pd.array(values, dtype=dtype)


def _frame(table: str, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    types = _dtypes()[table]
    data = {c: _column([r[c] for r in rows], t) for c, t in types.items()}
    return pd.DataFrame(data, columns=list(types))


def _by_time(incidents: pd.DataFrame) -> pd.DataFrame:
    """In ``(reported_at, incident_id)`` order, as a validated extract is."""
    stamps = incidents["reported_at"].array.asi8
    ids = incidents["incident_id"].to_numpy(object)
    order = sorted(range(len(ids)), key=lambda i: (stamps[i], ids[i]))
    return incidents.take(order).reset_index(drop=True)


def extract_from_records(
    incidents: Sequence[Mapping[str, Any]],
    people: Sequence[Mapping[str, Any]],
    orders: Sequence[Mapping[str, Any]] | None,
) -> Extract:
    """Stored rows as a normalised extract (``orders=None``: the store holds none)."""
    return Extract(
        incidents=_by_time(_frame("incidents", incidents)),
        people=_frame("people", people),
        orders=None if orders is None else _frame("orders", orders),
    )
