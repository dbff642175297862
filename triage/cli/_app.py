"""The typer app, shared rendering and the rule that a ``TriageError`` is shown as a
message, never a traceback."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from rich.console import Console

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
