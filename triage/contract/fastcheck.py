"""A fast path for clean tables: pandera's own pass costs tens of milliseconds even
for one row, which the service pays on every ingest. :func:`clean` answers True only
when it can see directly that pandera would find nothing; on any doubt (a check it
does not know, a dtype or category order that differs) it answers False and the
caller lets pandera report the problems, so the rules stay pandera's."""

from __future__ import annotations

import operator
import re

import pandas as pd
import pandera.pandas as pa

__all__ = ["clean"]


def clean(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> bool:
    """True only if pandera would find nothing, checked directly (pandera's own pass
    costs tens of milliseconds even for one row); any doubt leaves it to pandera."""
    if list(frame.columns) != list(schema.columns):
        return False
    for name, column in schema.columns.items():
        values, dtype = frame[name], column.dtype.type
        if values.dtype != dtype or (
            isinstance(dtype, pd.CategoricalDtype)
            and list(values.cat.categories) != list(dtype.categories)
        ):
            return False
        missing = values.isna().to_numpy(dtype=bool)
        if (not column.nullable and missing.any()) or (column.unique and values.duplicated().any()):
            return False
        if not all(_passes(check, values[~missing]) for check in column.checks):
            return False
    return True


def _passes(check: pa.Check, values: pd.Series) -> bool:
    """A built-in or contract check on the non-missing values (an unknown one: False)."""
    stats = check.statistics or {}
    if check.name == "str_matches":
        return all(map(re.compile(stats["pattern"]).match, values))
    if check.name == "in_range":
        low = operator.ge if stats["include_min"] else operator.gt
        high = operator.le if stats["include_max"] else operator.lt
        return bool((low(values, stats["min_value"]) & high(values, stats["max_value"])).all())
    return check.name == "not_in_future" and bool((values <= stats["cutoff"]).all())
