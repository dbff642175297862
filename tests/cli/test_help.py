"""`--help` of every command and subcommand reads cleanly in an 80-column terminal:
wrapped, not cut, and without type or default noise on flags."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from triage.cli import app

runner = CliRunner()
#: a rich closing tag (``[/]``, ``[/b]``) printed as text: markup that was not rendered
MARKUP = re.compile(r"\[/[a-z ]*\]")


def _paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path of the tree under ``command``, itself first."""
    found = [path]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found += _paths(sub, (*path, name))
    return found


PATHS = _paths(typer.main.get_command(app))


def test_the_walk_reaches_the_nested_subcommands() -> None:
    assert {(), ("serve",), ("keys", "create"), ("audit-log", "verify")} <= set(PATHS)
    assert len(PATHS) > 20


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "triage")
def test_help_fits_80_columns_without_flag_noise(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    output = result.output
    assert result.exit_code == 0, output
    assert "Usage: triage" in output
    too_long = [line for line in output.splitlines() if len(line) > 80]
    assert too_long == []
    for noise in ("<bool>", "[default: no-", "[default: False]", "Traceback"):
        assert noise not in output
    assert MARKUP.search(output) is None
    cut = [line for line in output.splitlines()[1:] if line.endswith("...")]  # click cut it
    assert cut == []


def test_a_flag_that_is_on_by_default_still_says_so() -> None:
    output = runner.invoke(app, ["ingest", "--help"], terminal_width=80).output
    assert "--score / --no-score" in output
    assert "[default: score]" in output
    serve = runner.invoke(app, ["serve", "--help"], terminal_width=80).output
    assert "--allow-remote / --no-allow-remote" in serve
    assert "--create" in serve
