"""The typer app, shared rendering and the rule that a ``TriageError`` is shown as a
message, never a traceback."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from triage import __version__
from triage.exceptions import SchemaError, TriageError

app = typer.Typer(
    name="triage",
    help=(
        "mash-triage: rank each day's domestic-abuse incidents for a MASH review, "
        "with point-in-time features, audited models and a reviewer queue.\n\n"
        "Scores support professional judgement; they never replace it."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def _version(value: bool) -> None:
    if value:
        console.print(f"mash-triage {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log progress details to stderr.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def progress_display(*, bar: bool = False) -> Progress:
    """The one way long work shows progress: a spinner (and a bar when the total is
    known) with elapsed time, on stderr, gone when done."""
    columns: list[ProgressColumn] = [SpinnerColumn(), TextColumn("{task.description}")]
    if bar:
        columns.append(BarColumn())
    columns.append(TimeElapsedColumn())
    return Progress(*columns, console=err_console, transient=True)


def fail(exc: TriageError) -> typer.Exit:
    """Render a deliberate error and return the exit to raise (code 1)."""
    from triage.cli._render import problems_table

    if isinstance(exc, SchemaError) and exc.problems:
        err_console.print(problems_table(exc.problems))
    err_console.print(f"[bold red]error:[/] {exc}")
    return typer.Exit(code=1)


def main() -> None:
    try:
        app()
    except TriageError as exc:  # pragma: no cover - subcommands catch their own
        err_console.print(f"error: {exc}")
        sys.exit(1)
