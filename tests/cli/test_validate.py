"""`triage validate`: every problem in one table and exit 1, a summary and exit 0,
and never a traceback for bad data or a bad mapping file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from triage.cli import app
from triage.cli._app import err_console
from triage.cli._validate import MESSAGE_VALID
from triage.contract.checks import Rule

Tables = dict[str, pd.DataFrame]


@pytest.fixture
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wide enough that no rule text wraps in the rendered table."""
    monkeypatch.setattr(err_console, "_width", 250)


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["validate", *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.output


def test_valid_extract_prints_a_summary_and_exits_0(
    tables: Tables, write_extract: Callable[..., Path]
) -> None:
    code, output = _run(str(write_extract(tables)))
    assert code == 0
    assert "incidents" in output
    assert "2024-01-05 to 2024-03-01" in output
    assert MESSAGE_VALID.split("[/] ")[1] in output


@pytest.mark.usefixtures("wide_console")
def test_many_kinds_of_damage_are_all_reported_in_one_run(
    tables: Tables, write_extract: Callable[..., Path]
) -> None:
    incidents, people, orders = tables["incidents"], tables["people"], tables["orders"]
    incidents.loc[0, "relationship"] = "spouse"
    incidents.loc[1, "weapon"] = "maybe"
    incidents.loc[2, "reported_at"] = "yesterday"
    incidents.loc[3, "incident_id"] = "i1"
    incidents.loc[0, "victim_id"] = "p99"
    incidents.loc[1, "deprivation_decile"] = "0"
    incidents["notes"] = "free text"
    people.loc[0, "birth_year"] = "1850"
    people.loc[1, "ethnicity"] = "[bold]x[/bold]"
    tables["orders"] = orders.drop(columns=["order_type"])
    folder = write_extract(tables)
    (folder / "truth.parquet").write_bytes(b"ignored")
    code, output = _run(str(folder))
    assert code == 1
    expected_rules = [
        Rule.UNKNOWN_CATEGORY,
        Rule.NOT_BOOLEAN,
        Rule.UNPARSEABLE_TIMESTAMP,
        Rule.DUPLICATE_ID,
        Rule.UNKNOWN_PERSON,
        Rule.DECILE_OUT_OF_RANGE,
        Rule.UNKNOWN_COLUMN,
        Rule.IMPLAUSIBLE_BIRTH_YEAR,
        Rule.MISSING_COLUMN,
    ]
    for rule in expected_rules:
        assert rule.value in output
    assert "[bold]x[/bold]" in output  # values are shown literally
    assert "(11 problem(s))" in output


def test_bad_mapping_file_is_an_error_not_a_traceback(
    tables: Tables, write_extract: Callable[..., Path], tmp_path: Path
) -> None:
    mapping = tmp_path / "bad.yaml"
    mapping.write_text("columns: {A: not_a_column}\n")
    code, output = _run(str(write_extract(tables)), "--mapping", str(mapping))
    assert code == 1
    assert "not_a_column" in output
    assert "error" in output


def test_missing_folder_is_reported_not_raised(tmp_path: Path) -> None:
    code, output = _run(str(tmp_path / "nowhere"))
    assert code == 1
    assert Rule.NOT_A_FOLDER.value in output


def test_help_describes_the_options() -> None:
    result = CliRunner().invoke(app, ["validate", "--help"])
    assert result.exit_code == 0
    assert "--mapping" in result.output
    assert "--harm-weights" in result.output
