"""The ground-truth table of a synthetic extract (docs/architecture.md §3, §9).

A synthetic world knows, for every incident, the exact probability of each label
given its hidden state at ``reported_at``. It writes them beside the extract as
``truth.parquet`` or ``truth.csv``:

=============== ======================================================
column          contents
=============== ======================================================
``incident_id`` the incident (every incident of the extract, once)
``p_<label>``   the probability of ``<label>``, a number in [0, 1]
=============== ======================================================

A real extract has no truth table; with one, training reports the truth's AUC as
the ceiling a model can approach. :func:`read_truth` checks the table before any
work starts and names every problem (table ``truth``, column, row, value).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from triage.contract.checks import Problem, Rule, problems_where, short_value
from triage.exceptions import SchemaError

__all__ = [
    "TRUTH_FILE",
    "TRUTH_TABLE",
    "check_truth_covers",
    "find_truth",
    "read_truth",
    "truth_column",
]

#: the file's name without its suffix (``truth.parquet`` or ``truth.csv``)
TRUTH_FILE = "truth"
#: the table name problems carry
TRUTH_TABLE = "truth"
_MAX_ROW_PROBLEMS = 20


def truth_column(label: str) -> str:
    """The truth's column of ``label``: ``p_<label>``."""
    return f"p_{label}"


def find_truth(folder: str | Path) -> Path | None:
    """The truth file in ``folder``, or None when the extract has none."""
    found = [Path(folder) / f"{TRUTH_FILE}.{s}" for s in ("parquet", "csv")]
    present = [p for p in found if p.is_file()]
    if len(present) > 1:
        problem = Problem(TRUTH_TABLE, None, None, None, Rule.AMBIGUOUS_FILE)
        raise SchemaError([problem], "the truth table is there twice (truth.csv and .parquet)")
    return present[0] if present else None


def _read(path: Path) -> pd.DataFrame:
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype={"incident_id": "string"}, keep_default_na=True)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        problem = Problem(TRUTH_TABLE, None, None, short_value(str(exc)), Rule.UNREADABLE)
        raise SchemaError([problem], f"{path}: the truth table cannot be read") from None


def read_truth(folder: str | Path, labels: Sequence[str]) -> pd.DataFrame | None:
    """The truth table of the extract in ``folder`` (None when there is none), with
    ``incident_id`` as strings and a ``p_<label>`` column for each of ``labels``.

    Raises ``SchemaError`` listing every problem: a missing column, a missing or
    duplicate id, a value that is not a probability. :func:`check_truth_covers`
    then checks it against the extract's incidents.
    """
    path = find_truth(folder)
    if path is None:
        return None
    frame = _read(path)
    wanted = [truth_column(label) for label in labels]
    problems = [
        Problem(TRUTH_TABLE, column, None, None, Rule.MISSING_COLUMN)
        for column in ("incident_id", *wanted)
        if column not in frame.columns
    ]
    if problems:
        raise SchemaError(problems, f"{path}: {_summary(problems)}")
    ids = frame["incident_id"].astype("string")
    missing = ids.isna().to_numpy()
    problems += _where("incident_id", missing, ids, Rule.MISSING_VALUE)
    duplicated = ids.duplicated(keep="first").to_numpy() & ~missing
    problems += _where("incident_id", duplicated, ids, Rule.DUPLICATE_ID)
    out = pd.DataFrame({"incident_id": ids})
    for column in wanted:
        raw = frame[column]
        values = pd.to_numeric(raw, errors="coerce").astype(np.float64)
        bad = (values.isna() | (values < 0) | (values > 1)).to_numpy()
        problems += _where(column, bad, raw, Rule.NOT_A_PROBABILITY)
        out[column] = values
    if problems:
        raise SchemaError(problems, f"{path}: {_summary(problems)}")
    return out


def check_truth_covers(truth: pd.DataFrame, incident_ids: pd.Series) -> None:
    """Refuse a truth table that names an incident the extract does not hold, or
    leaves one out (``SchemaError`` listing them)."""
    ids = truth["incident_id"]
    known = pd.Index(incident_ids.astype("string"))
    unknown = ~ids.isin(known).to_numpy(dtype=bool, na_value=False)
    problems = _where("incident_id", unknown, ids, Rule.UNKNOWN_INCIDENT)
    left_out = known.difference(pd.Index(ids))
    if len(left_out):
        value = f"{len(left_out)} incident(s), e.g. {left_out[0]}"
        problems.append(Problem(TRUTH_TABLE, "incident_id", None, value, Rule.INCIDENT_LEFT_OUT))
    if problems:
        raise SchemaError(
            problems, f"the truth table does not match the extract: {_summary(problems)}"
        )


def _where(column: str, mask: np.ndarray, values: pd.Series, rule: Rule) -> list[Problem]:
    """The first rows where ``mask`` holds, and one line counting the rest."""
    found = problems_where(TRUTH_TABLE, column, mask, values, rule)
    if len(found) <= _MAX_ROW_PROBLEMS:
        return found
    more = f"and {len(found) - _MAX_ROW_PROBLEMS} more row(s)"
    return [*found[:_MAX_ROW_PROBLEMS], Problem(TRUTH_TABLE, column, None, more, rule)]


def _summary(problems: Sequence[Problem]) -> str:
    return f"the truth table breaks its contract ({len(problems)} problem(s))"
