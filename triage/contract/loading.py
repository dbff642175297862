"""Finding and reading the table files of an extract folder.

Reading never raises for bad data: a missing, ambiguous, empty, undecodable or
unparseable file becomes a :class:`~triage.contract.checks.Problem` and its table ``None``.
CSV cells are read as text (only an empty cell, or a listed ``missing_values`` code,
is missing); Parquet keeps its types, with pandas' nullable dtypes.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa

from triage.contract.checks import EXTRACT, Problem, Rule, short_value
from triage.contract.names import TABLES

__all__ = ["read_folder"]

logger = logging.getLogger(__name__)

SUFFIXES = ("csv", "parquet")
_PARSER_LINE = re.compile(r"line (\d+)")

Frames = dict[str, pd.DataFrame | None]


def read_folder(folder: Path, missing_values: Sequence[str] = ()) -> tuple[Frames, list[Problem]]:
    """Read every contract table found in ``folder``; other files are ignored."""
    if not folder.is_dir():
        return dict.fromkeys(TABLES), [Problem(EXTRACT, None, None, str(folder), Rule.NOT_A_FOLDER)]
    frames: Frames = {}
    problems: list[Problem] = []
    for table, required in TABLES.items():
        found = [folder / f"{table}.{s}" for s in SUFFIXES if (folder / f"{table}.{s}").is_file()]
        frame: pd.DataFrame | None = None
        if not found and required:
            names = " or ".join(f"{table}.{s}" for s in SUFFIXES)
            problems.append(Problem(table, None, None, names, Rule.MISSING_FILE))
        elif len(found) > 1:
            names = ", ".join(p.name for p in found)
            problems.append(Problem(table, None, None, names, Rule.AMBIGUOUS_FILE))
        elif found:
            path = found[0]
            if path.suffix == ".csv":
                frame, faults = _read_csv(path, table, missing_values)
            else:
                frame, faults = _read_parquet(path, table)
            if frame is not None and frame.empty and required:
                faults.append(Problem(table, None, None, path.name, Rule.EMPTY_FILE))
                frame = None
            problems.extend(faults)
            if frame is not None:
                logger.info("read %s: %d rows", path, len(frame))
        frames[table] = frame
    return frames, problems


def _read_csv(
    path: Path, table: str, missing_values: Sequence[str]
) -> tuple[pd.DataFrame | None, list[Problem]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [Problem(table, None, None, f"{path.name}: {exc.strerror}", Rule.UNREADABLE)]
    if not data or data.isspace():
        return None, [Problem(table, None, None, path.name, Rule.EMPTY_FILE)]
    encoding = "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8"
    try:
        data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start)  # 0-based; line 0 is the header
        bad = data[exc.start : exc.end].hex(" ").upper()
        value = f"{path.name} line {line + 1}: byte {bad}"
        return None, [Problem(table, None, line - 1 if line else None, value, Rule.NOT_UTF8)]
    try:
        frame = pd.read_csv(
            io.BytesIO(data),
            dtype=str,
            keep_default_na=False,
            na_values=["", *missing_values],
            encoding=encoding,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        match = _PARSER_LINE.search(str(exc))
        row = int(match.group(1)) - 2 if match else None
        return None, [
            Problem(table, None, row, short_value(f"{path.name}: {exc}"), Rule.UNREADABLE)
        ]
    return frame, []


def _read_parquet(path: Path, table: str) -> tuple[pd.DataFrame | None, list[Problem]]:
    try:
        if path.stat().st_size == 0:
            return None, [Problem(table, None, None, path.name, Rule.EMPTY_FILE)]
        frame = pd.read_parquet(path, dtype_backend="numpy_nullable")
    except (OSError, ValueError, pa.ArrowException) as exc:
        return None, [
            Problem(table, None, None, short_value(f"{path.name}: {exc}"), Rule.UNREADABLE)
        ]
    if not isinstance(frame.index, pd.RangeIndex):  # an index written by pandas is a column
        frame = frame.reset_index(drop=all(n is None for n in frame.index.names))
    return frame.reset_index(drop=True), []
