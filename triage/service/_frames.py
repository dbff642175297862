"""Between the contract's normalised frames and the store's rows.

Rows carry the SHA-256 of their canonical content (contract columns in contract
order, timestamps as UTC ISO text to the microsecond), so a re-sent row is found
equal or different without comparing column by column. Stored rows come back as an
:class:`~triage.contract.Extract` through :func:`~triage.schema.validate_frames`:
the very contract that let them in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from triage.contract import INCIDENT_COLUMNS, ORDER_COLUMNS, PEOPLE_COLUMNS, Extract
from triage.schema import validate_frames

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


def _frame(table: str, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    columns = COLUMNS[table]
    data = {c: pd.Series([r[c] for r in rows], dtype=object) for c in columns}
    return pd.DataFrame(data, columns=list(columns))


def extract_from_records(
    incidents: Sequence[Mapping[str, Any]],
    people: Sequence[Mapping[str, Any]],
    orders: Sequence[Mapping[str, Any]] | None,
) -> Extract:
    """Stored rows as a normalised extract (``orders=None``: the store holds none)."""
    inc = _frame("incidents", incidents)
    for column in ("reported_at", "occurred_at"):
        inc[column] = pd.to_datetime(inc[column], utc=True)
    ords = None
    if orders is not None:
        ords = _frame("orders", orders)
        for column in ("start_at", "end_at"):
            ords[column] = pd.to_datetime(ords[column], utc=True)
    report = validate_frames(inc, _frame("people", people), ords)
    if report.extract is None:  # stored rows passed this contract when they came in
        raise RuntimeError(f"stored rows break the data contract ({len(report.problems)})")
    return report.extract
