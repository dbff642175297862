"""Rich renderings shared by commands: problem tables and validation summaries."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from rich.table import Table
from rich.text import Text

from triage.contract.checks import Problem
from triage.contract.validation import ValidationReport

__all__ = ["problems_table", "validation_summary"]


def problems_table(problems: Sequence[Problem]) -> Table:
    """Every problem, sorted by table then row (values are shown literally, not as markup)."""
    table = Table(
        title=f"Data contract problems ({len(problems)})",
        caption="row: 0-based data row in the file (the header is not counted)",
        header_style="bold",
    )
    table.add_column("table", no_wrap=True)
    table.add_column("column", overflow="fold")
    table.add_column("row", justify="right", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("rule", overflow="fold")
    for p in sorted(problems, key=Problem.sort_key):
        table.add_row(
            Text(p.table),
            Text(p.column or "-"),
            Text("-" if p.row is None else str(p.row)),
            Text("" if p.value is None else p.value),
            Text(p.rule, style="red"),
        )
    return table


def _day(stamp: pd.Timestamp | None) -> str:
    return "-" if stamp is None else stamp.strftime("%Y-%m-%d")


def validation_summary(report: ValidationReport) -> Table:
    """Rows per table and the span of ``reported_at`` for a report."""
    table = Table(title="Extract summary", header_style="bold")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in report.row_counts.items():
        table.add_row(name, f"{count:,}")
    table.add_section()
    table.add_row("reported_at", f"{_day(report.reported_from)} to {_day(report.reported_to)}")
    return table
