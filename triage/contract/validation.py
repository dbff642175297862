"""The data contract (docs/architecture.md §3) as pandera schemas, and validation of an extract.

    report = validate_extract("data/extract", mapping="force_mapping.yaml")
    if report.ok:
        extract = report.extract

The schemas describe a *normalised* table (dtypes as in :mod:`triage.contract.names`).
Validation reads each raw column into that form (reporting what cannot be read),
lets pandera check nullability, uniqueness and ranges lazily, then runs the rules
that span columns or tables. Every problem is reported at once; nothing is written.
The folder path and an in-memory batch (:func:`validate_frames`) share all of it.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute
from pandera.errors import SchemaErrors

from triage.contract.checks import (
    Problem,
    ReadOptions,
    Rule,
    coerce_column,
    problems_where,
    short_value,
)
from triage.contract.fastcheck import clean
from triage.contract.harm import HarmWeights, load_harm_weights
from triage.contract.loading import Frames, read_folder
from triage.contract.mapping import ColumnMapping, apply_mapping, read_mapping
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
from triage.contract.text import BAD_ID_PATTERN, shown
from triage.exceptions import SchemaError

__all__ = [
    "ValidationReport",
    "incidents_schema",
    "load_extract",
    "orders_schema",
    "people_schema",
    "validate_extract",
    "validate_frames",
]

logger = logging.getLogger(__name__)

BIRTH_YEAR_MIN = 1900
_ID = pd.StringDtype()
_UTC = pd.DatetimeTZDtype("ns", "UTC")
_PANDAS_CONCAT_WARNING = "The behavior of DataFrame concatenation with empty or all-NA"
_PANDERA_RULES = {
    "not_nullable": Rule.MISSING_VALUE,
    "field_uniqueness": Rule.DUPLICATE_ID,
    "column_in_dataframe": Rule.MISSING_COLUMN,
    "column_in_schema": Rule.UNKNOWN_COLUMN,
}


#: ids are pseudonyms a store keeps in 64 characters, a URL path carries in one segment
#: and a person can read: nothing invisible, and not '.' or '..'
_ID_PATTERN = BAD_ID_PATTERN


def _id(*, unique: bool = False, nullable: bool = False) -> pa.Column:
    well_formed = pa.Check.str_matches(_ID_PATTERN, error=Rule.BAD_ID)
    return pa.Column(_ID, well_formed, unique=unique, nullable=nullable)


def _category(values: tuple[str, ...] | list[str]) -> pa.Column:
    return pa.Column(pd.CategoricalDtype(list(values)))


def _now(now: pd.Timestamp | None) -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)


def incidents_schema(
    harm_weights: HarmWeights | None = None, *, now: pd.Timestamp | None = None
) -> pa.DataFrameSchema:
    """A normalised ``incidents`` table; ``incident_type`` follows the harm table's order."""
    types = (harm_weights or load_harm_weights()).names
    cutoff = _now(now)
    not_future = pa.Check(
        lambda s: s <= cutoff,
        name="not_in_future",
        error=Rule.REPORTED_IN_FUTURE,
        statistics={"cutoff": cutoff},
    )
    columns = {
        "incident_id": _id(unique=True),
        "reported_at": pa.Column(_UTC, not_future),
        "occurred_at": pa.Column(_UTC, nullable=True),
        "victim_id": _id(),
        "perpetrator_id": _id(nullable=True),
        "relationship": _category(RELATIONSHIPS),
        "incident_type": _category(types),
        **{flag: pa.Column(bool) for flag in BOOL_FLAGS},
        "dash_grade": _category(DASH_GRADES),
        **{q: pa.Column("boolean", nullable=True) for q in DASH_QUESTIONS},
        "deprivation_decile": pa.Column(
            "Int64", pa.Check.in_range(1, 10, error=Rule.DECILE_OUT_OF_RANGE), nullable=True
        ),
    }
    assert tuple(columns) == INCIDENT_COLUMNS
    return pa.DataFrameSchema(columns, strict=True, ordered=True, name="incidents")


def people_schema(*, now: pd.Timestamp | None = None) -> pa.DataFrameSchema:
    """A normalised ``people`` table; a birth year must lie between 1900 and this year."""
    plausible = pa.Check.in_range(BIRTH_YEAR_MIN, _now(now).year, error=Rule.IMPLAUSIBLE_BIRTH_YEAR)
    columns = {
        "person_id": _id(unique=True),
        "sex": _category(SEXES),
        "birth_year": pa.Column("Int64", plausible, nullable=True),
        "ethnicity": _category(ETHNICITIES),
    }
    assert tuple(columns) == PEOPLE_COLUMNS
    return pa.DataFrameSchema(columns, strict=True, ordered=True, name="people")


def orders_schema() -> pa.DataFrameSchema:
    """A normalised ``orders`` table; an open-ended order has no ``end_at``."""
    columns = {
        "person_id": _id(),
        "order_type": _category(ORDER_TYPES),
        "start_at": pa.Column(_UTC),
        "end_at": pa.Column(_UTC, nullable=True),
    }
    assert tuple(columns) == ORDER_COLUMNS
    return pa.DataFrameSchema(columns, strict=True, ordered=True, name="orders")


@dataclass(frozen=True)
class ValidationReport:
    """Every problem found, a summary, and the normalised extract when there are none."""

    problems: list[Problem]
    row_counts: dict[str, int] = field(default_factory=dict)
    reported_from: pd.Timestamp | None = None
    reported_to: pd.Timestamp | None = None
    extract: Extract | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def validate_extract(
    path: str | Path,
    mapping: ColumnMapping | str | Path | None = None,
    harm_weights: HarmWeights | str | Path | None = None,
) -> ValidationReport:
    """Validate the extract folder at ``path``. Bad data is reported, never raised;
    a bad mapping or harm-weight file raises ``ConfigError``."""
    started = time.perf_counter()
    spec = read_mapping(mapping) if isinstance(mapping, str | Path) else mapping
    weights = _harm_weights(harm_weights)
    frames, problems = read_folder(Path(path), spec.missing_values if spec else ())
    options = ReadOptions()
    if spec is not None:
        frames = {t: None if f is None else apply_mapping(f, t, spec) for t, f in frames.items()}
        options = ReadOptions(spec.naive_timezone, spec.timestamp_format)
    report = _validate(frames, problems, weights, options)
    logger.info("validated %s in %.1fs", path, time.perf_counter() - started)
    return report


def load_extract(
    path: str | Path,
    mapping: ColumnMapping | str | Path | None = None,
    harm_weights: HarmWeights | str | Path | None = None,
) -> Extract:
    """The normalised extract at ``path``; ``SchemaError`` lists every problem."""
    report = validate_extract(path, mapping=mapping, harm_weights=harm_weights)
    if report.extract is None:
        raise SchemaError(report.problems)
    return report.extract


def validate_frames(
    incidents_df: pd.DataFrame,
    people_df: pd.DataFrame,
    orders_df: pd.DataFrame | None = None,
    harm_weights: HarmWeights | str | Path | None = None,
    *,
    read_options: ReadOptions | None = None,
) -> ValidationReport:
    """Validate in-memory tables that already use the contract's names (e.g. a JSON
    batch); rows are numbered by position. ``read_options`` give the zone and format
    of naive timestamps (a mapping's, as :func:`validate_extract` applies them)."""
    frames: Frames = {"incidents": incidents_df, "people": people_df, "orders": orders_df}
    options = read_options if read_options is not None else ReadOptions()
    return _validate(frames, [], _harm_weights(harm_weights), options)


def _harm_weights(harm_weights: HarmWeights | str | Path | None) -> HarmWeights:
    if isinstance(harm_weights, HarmWeights):
        return harm_weights
    return load_harm_weights(harm_weights)


def _validate(
    frames: Frames, problems: list[Problem], weights: HarmWeights, options: ReadOptions
) -> ValidationReport:
    now = pd.Timestamp.now(tz="UTC")
    schemas = {
        "incidents": incidents_schema(weights, now=now),
        "people": people_schema(now=now),
        "orders": orders_schema(),
    }
    found = list(problems)
    typed: dict[str, pd.DataFrame] = {}
    for table, raw in frames.items():
        if raw is not None:
            typed[table], table_problems = _check_table(table, raw, schemas[table], options)
            found.extend(table_problems)
    found.extend(_reference_problems(typed))
    found.sort(key=Problem.sort_key)
    reported = typed.get("incidents", pd.DataFrame()).get("reported_at")
    return ValidationReport(
        problems=found,
        row_counts={t: len(f) for t, f in frames.items() if f is not None},
        reported_from=None if reported is None or reported.isna().all() else reported.min(),
        reported_to=None if reported is None or reported.isna().all() else reported.max(),
        extract=None if found else _normalised(typed),
    )


def _check_table(
    table: str, raw: pd.DataFrame, schema: pa.DataFrameSchema, options: ReadOptions
) -> tuple[pd.DataFrame, list[Problem]]:
    raw = raw.set_axis([str(c) for c in raw.columns], axis=1).reset_index(drop=True)
    repeated = raw.columns.duplicated()
    problems = [Problem(table, c, None, None, Rule.DUPLICATE_COLUMN) for c in raw.columns[repeated]]
    raw = raw.loc[:, ~repeated]
    expected = list(schema.columns)
    missing = [c for c in expected if c not in raw.columns]
    problems += [Problem(table, c, None, None, Rule.MISSING_COLUMN) for c in missing]
    problems += [
        Problem(table, c, None, None, Rule.UNKNOWN_COLUMN) for c in raw.columns if c not in expected
    ]
    typed: dict[str, pd.Series] = {}
    unreadable: set[tuple[str, int | None]] = set()
    for column in expected:
        if column in missing:
            continue
        typed[column], masks = coerce_column(
            raw[column], schema.columns[column].dtype.type, options
        )
        for mask, rule in masks:
            if mask.any():
                bad = problems_where(table, column, mask, raw[column], rule)
                unreadable.update((column, p.row) for p in bad)
                problems += bad
    frame = pd.DataFrame(typed, index=raw.index)
    present = schema.remove_columns(missing) if missing else schema
    problems += _pandera_problems(table, present, frame, unreadable)
    problems += _row_problems(table, frame)
    return frame, problems


def _pandera_problems(
    table: str,
    schema: pa.DataFrameSchema,
    frame: pd.DataFrame,
    unreadable: set[tuple[str, int | None]],
) -> list[Problem]:
    """Pandera's lazy failures as problems, without re-reporting unreadable cells."""
    if clean(schema, frame):
        return []
    try:
        with warnings.catch_warnings():
            # pandera 0.35 concatenates all-NA failure cases, which pandas 2.x warns about
            warnings.filterwarnings("ignore", _PANDAS_CONCAT_WARNING, FutureWarning)
            schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases[["column", "check", "failure_case", "index"]]
    else:
        return []
    problems = []
    for column, check, case, index in cases.itertuples(index=False, name=None):
        rule = _PANDERA_RULES.get(str(check)) or _rule(str(check))
        row = None if pd.isna(index) else int(index)
        if rule in (Rule.MISSING_COLUMN, Rule.UNKNOWN_COLUMN):
            column, case = case, None
        if (rule == Rule.MISSING_VALUE and (column, row) in unreadable) or (
            rule == Rule.DUPLICATE_ID and pd.isna(case)
        ):
            continue
        if rule == Rule.BAD_ID and isinstance(case, str):
            case = shown(case)  # an invisible character is shown as its escape
        problems.append(Problem(table, column, row, short_value(case), rule))
    return problems


def _rule(check: str) -> str:
    if check.startswith("dtype("):
        return Rule.WRONG_DTYPE
    try:
        return Rule(check)
    except ValueError:
        return check


def _row_problems(table: str, frame: pd.DataFrame) -> list[Problem]:
    """Rules across columns of one row (a missing value never breaks them)."""
    pairs = {
        "incidents": ("occurred_at", "reported_at", Rule.OCCURRED_AFTER_REPORTED),
        "orders": ("start_at", "end_at", Rule.END_BEFORE_START),
    }
    if table not in pairs:
        return []
    early, late, rule = pairs[table]
    if early not in frame or late not in frame:
        return []
    bad = (frame[early] > frame[late]).to_numpy(dtype=bool)
    shown = early if rule is Rule.OCCURRED_AFTER_REPORTED else late
    return problems_where(table, shown, bad, frame[shown], rule)


def _reference_problems(typed: Mapping[str, pd.DataFrame]) -> list[Problem]:
    """Every person an incident or order names must be in ``people``."""
    people = typed.get("people")
    if people is None or "person_id" not in people:
        return []
    known = people["person_id"].dropna().unique()
    problems = []
    for table, columns in (
        ("incidents", ("victim_id", "perpetrator_id")),
        ("orders", ("person_id",)),
    ):
        frame = typed.get(table)
        for column in columns:
            if frame is None or column not in frame:
                continue
            ids = frame[column]
            codes, distinct = pd.factorize(ids, use_na_sentinel=True)
            unknown = np.append(~pd.Index(distinct).isin(known), False)
            bad = unknown[codes]
            problems += problems_where(table, column, bad, ids, Rule.UNKNOWN_PERSON)
    return problems


def _normalised(typed: Mapping[str, pd.DataFrame]) -> Extract:
    incidents = typed["incidents"]
    keys = pyarrow.table(
        {
            "reported_at": incidents["reported_at"].array.asi8,
            "incident_id": pyarrow.array(
                incidents["incident_id"].to_numpy(object), pyarrow.string()
            ),
        }
    )
    order = pyarrow.compute.sort_indices(
        keys, sort_keys=[(k, "ascending") for k in keys.column_names]
    ).to_numpy()  # pyarrow sorts strings several times faster than pandas
    if not np.array_equal(order, np.arange(len(order))):
        incidents = incidents.take(order)
    incidents = incidents.reset_index(drop=True)
    orders = typed.get("orders")
    return Extract(
        incidents=incidents,
        people=typed["people"].reset_index(drop=True),
        orders=None if orders is None else orders.reset_index(drop=True),
    )
