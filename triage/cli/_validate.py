"""`triage validate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from triage.cli._app import app, console, fail
from triage.cli._options import MappingOpt
from triage.cli._render import validation_summary
from triage.contract.validation import validate_extract
from triage.exceptions import SchemaError, TriageError

MESSAGE_VALID = "[bold green]valid:[/] the extract meets the data contract"


@app.command("validate")
def validate(
    directory: Annotated[
        Path,
        typer.Argument(
            help=(
                "Extract folder: incidents.csv|.parquet and people.csv|.parquet, optionally "
                "orders.csv|.parquet. Other files are ignored."
            ),
            show_default=False,
        ),
    ],
    mapping: MappingOpt = None,
    harm_weights: Annotated[
        Path | None,
        typer.Option(
            "--harm-weights",
            help="Harm-weight table whose types are the valid incident types.",
            show_default="features/harm_weights.yaml",
        ),
    ] = None,
) -> None:
    """Check an extract against the data contract and report every problem at once.

    Each problem names its table, column, row (0-based, header not counted), value, rule.

    Nothing is written. Exit code 0 if the extract is valid, 1 if it is not.
    """
    try:
        report = validate_extract(directory, mapping=mapping, harm_weights=harm_weights)
    except TriageError as exc:
        raise fail(exc) from None
    if not report.ok:
        raise fail(SchemaError(report.problems))
    console.print(validation_summary(report))
    console.print(MESSAGE_VALID)
