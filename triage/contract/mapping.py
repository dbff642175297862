"""The column-mapping file: how one force's export maps onto the data contract.

Renames (``columns``, source name -> contract name) apply first, then recodes
(``values``, keyed by contract column or by the renamed source column). Both may be
given for every table at once and per table; per-table entries win.
"""

from __future__ import annotations

import zoneinfo
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from triage.contract.names import INCIDENT_COLUMNS, ORDER_COLUMNS, PEOPLE_COLUMNS
from triage.exceptions import ConfigError

__all__ = ["ColumnMapping", "TableMapping", "apply_mapping", "read_mapping"]

CONTRACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "incidents": INCIDENT_COLUMNS,
    "people": PEOPLE_COLUMNS,
    "orders": ORDER_COLUMNS,
}
_ALL_COLUMNS = frozenset(c for cols in CONTRACT_COLUMNS.values() for c in cols)

MESSAGE_UNREADABLE = "cannot read mapping file {path}: {reason}"
MESSAGE_NOT_YAML = "{path}: not valid YAML ({reason})"
MESSAGE_INVALID = "{path}: invalid column mapping: {details}"
MESSAGE_NOT_CONTRACT_COLUMN = "rename target {target!r} is not a contract column{where}"
MESSAGE_TWO_SOURCES = "{first!r} and {second!r} are both renamed to {target!r}{where}"
MESSAGE_UNKNOWN_RECODE = (
    "recode for {key!r}{where}: neither a contract column nor a renamed source column"
)
MESSAGE_YAML_BOOL_KEY = (
    "recode key {key!r} in {column!r} is a YAML boolean; quote the source code (e.g. 'Y')"
)
MESSAGE_UNKNOWN_ZONE = "naive_timezone {zone!r} is not a known IANA time zone"

RecodeTarget = str | bool | int | float | None
Recodes = dict[str, dict[Any, RecodeTarget]]


def _check_recode_keys(values: Recodes) -> dict[str, dict[str, RecodeTarget]]:
    checked: dict[str, dict[str, RecodeTarget]] = {}
    for column, codes in values.items():
        for key in codes:
            if isinstance(key, bool):
                raise ValueError(MESSAGE_YAML_BOOL_KEY.format(key=key, column=column))
        checked[column] = {str(k).strip(): v for k, v in codes.items()}
    return checked


class TableMapping(BaseModel):
    """Renames and recodes for one table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: dict[str, str] = Field(default_factory=dict)
    values: dict[str, dict[Any, RecodeTarget]] = Field(default_factory=dict)

    @field_validator("values")
    @classmethod
    def _string_keys(cls, values: Recodes) -> dict[str, dict[str, RecodeTarget]]:
        return _check_recode_keys(values)


class ColumnMapping(TableMapping):
    """A whole mapping file: shared renames/recodes, per-table ones, and how to read times."""

    tables: dict[Literal["incidents", "people", "orders"], TableMapping] = Field(
        default_factory=dict
    )
    naive_timezone: str = "UTC"
    timestamp_format: str | None = None
    missing_values: list[str] = Field(default_factory=list)

    @field_validator("naive_timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(MESSAGE_UNKNOWN_ZONE.format(zone=zone)) from None
        return zone

    @model_validator(mode="after")
    def _consistent(self) -> ColumnMapping:
        _check_renames(self.columns, _ALL_COLUMNS, "")
        every_rename = dict(self.columns)
        for entry in self.tables.values():
            every_rename.update(entry.columns)
        _check_recodes(self.values, every_rename, _ALL_COLUMNS, "")
        for table, entry in self.tables.items():
            where = f" (tables.{table})"
            allowed = frozenset(CONTRACT_COLUMNS[table])
            _check_renames(entry.columns, allowed, where)
            _check_recodes(entry.values, self.renames_for(table), allowed, where)
        return self

    def renames_for(self, table: str) -> dict[str, str]:
        entry = self.tables.get(table)  # type: ignore[call-overload]
        return {**self.columns, **(entry.columns if entry else {})}

    def recodes_for(self, table: str) -> dict[str, dict[str, RecodeTarget]]:
        """Recodes for ``table`` keyed by contract column (per-table codes win)."""
        renames = self.renames_for(table)
        allowed = CONTRACT_COLUMNS[table]
        entry = self.tables.get(table)  # type: ignore[call-overload]
        merged: dict[str, dict[str, RecodeTarget]] = {}
        for values in (self.values, entry.values if entry else {}):
            for key, codes in values.items():
                column = key if key in allowed else renames.get(key)
                if column in allowed:
                    merged[column] = {**merged.get(column, {}), **codes}
        return merged


def _check_renames(renames: dict[str, str], allowed: frozenset[str], where: str) -> None:
    seen: dict[str, str] = {}
    for source, target in renames.items():
        if target not in allowed:
            raise ValueError(MESSAGE_NOT_CONTRACT_COLUMN.format(target=target, where=where))
        if target in seen:
            raise ValueError(
                MESSAGE_TWO_SOURCES.format(
                    first=seen[target], second=source, target=target, where=where
                )
            )
        seen[target] = source


def _check_recodes(
    values: dict[str, Any], renames: dict[str, str], allowed: frozenset[str], where: str
) -> None:
    for key in values:
        if key not in allowed and renames.get(key) not in allowed:
            raise ValueError(MESSAGE_UNKNOWN_RECODE.format(key=key, where=where))


def read_mapping(path: str | Path) -> ColumnMapping:
    """Read and validate a column-mapping YAML; any fault is a ``ConfigError``."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(MESSAGE_UNREADABLE.format(path=file, reason=reason)) from None
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(MESSAGE_NOT_YAML.format(path=file, reason=exc)) from None
    try:
        return ColumnMapping.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(file)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(MESSAGE_INVALID.format(path=file, details=details)) from None


def apply_mapping(frame: pd.DataFrame, table: str, mapping: ColumnMapping) -> pd.DataFrame:
    """Rename and recode one raw table (never in place)."""
    renamed = frame.rename(columns=mapping.renames_for(table))
    recodes = mapping.recodes_for(table)
    if not recodes:
        return renamed
    if not renamed.columns.duplicated().any():
        for column, codes in recodes.items():
            if column in renamed.columns:
                renamed[column] = _recode(renamed[column], codes)
        return renamed
    parts = [  # repeated names (reported later): recode by position
        _recode(renamed.iloc[:, i], recodes[name]) if name in recodes else renamed.iloc[:, i]
        for i, name in enumerate(renamed.columns)
    ]
    out = pd.concat(parts, axis=1, ignore_index=True)
    out.columns = renamed.columns
    return out


def _recode(raw: pd.Series, codes: dict[str, RecodeTarget]) -> pd.Series:
    positions, uniques = pd.factorize(raw, use_na_sentinel=True)
    keys = [str(u).strip() for u in uniques]
    if not any(k in codes for k in keys):
        return raw
    lookup = np.empty(len(keys) + 1, dtype=object)
    lookup[:-1] = [codes.get(k, u) for k, u in zip(keys, uniques, strict=True)]
    lookup[-1] = None
    return pd.Series(lookup[positions], index=raw.index, dtype=object)
