"""The typer app, shared rendering and the rule that a ``TriageError`` is shown as a
message, never a traceback."""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import Annotated, Any

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
from typer.core import TyperGroup, TyperOption

from triage import __version__
from triage.exceptions import SchemaError, TriageError

#: the first sentence of a help text ("e.g." and "i.e." do not end one)
_FIRST_SENTENCE = re.compile(r"\s*(.+?(?<!e\.g)(?<!i\.e)\.)(?:\s|$)", re.DOTALL)


def _tidy_help(command: Any) -> None:
    """Tidy the help of every command in the tree. An off-by-default ``--x/--no-x``
    flag shows no default (typer prints ``[default: no-x]``, which reads as an option to
    pass), and a command is listed by its whole first sentence, wrapped, where click
    would cut it at a fixed width mid-phrase."""
    for param in command.params:
        if isinstance(param, TyperOption) and param.is_bool_flag and not param.default:
            param.show_default = False
    if command.short_help is None and command.help:
        found = _FIRST_SENTENCE.match(command.help)
        if found:
            command.short_help = " ".join(found.group(1).split())
    for sub in getattr(command, "commands", {}).values():
        _tidy_help(sub)


class _TriageGroup(TyperGroup):
    """The root command group; it tidies the help of every command under it once,
    so no command has to remember to."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _tidy_help(self)


# Help is click's plain layout: typer's rich tables print ``<bool>`` beside every flag
# and, at 80 columns, squeeze long option names and URLs into truncated cells.
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
    rich_markup_mode=None,
    cls=_TriageGroup,
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
    # MLflow's and tqdm's own progress bars would interleave with ours on stderr
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("TQDM_DISABLE", "1")
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
