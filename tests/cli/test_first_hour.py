"""A new user's first hour through the real command line: no traceback, bad knobs and
URIs named, no empty registry or store created by a typo, the demo's store found,
and a demo re-run that never deletes keys or reviews without being told to."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from triage.cli import app

runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture(autouse=True)
def _no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("TRIAGE_DATABASE_URL", "TRIAGE_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def _refused(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return " ".join(result.output.split())  # the error console wraps long lines


@pytest.mark.parametrize(
    "command",
    [
        ["models"],
        ["evaluate", "1"],
        ["promote", "1"],
        ["rollback"],
        ["audit", "1"],
        ["compare", "1", "2"],
    ],
)
def test_a_registry_command_names_an_unsupported_tracking_uri(command: list[str]) -> None:
    output = _refused([*command, "--tracking-uri", "foo://bar"])
    assert "unsupported tracking URI 'foo://bar'" in output


@pytest.mark.parametrize(
    ("knob", "form"),
    [
        ("--grading-bias", "ATTRIBUTE=GROUP:+N"),
        ("--record-bias", "ATTRIBUTE=GROUP:FACTOR"),
        ("--down-record", "ATTRIBUTE=GROUP:RATE"),
    ],
)
def test_a_malformed_bias_knob_names_the_expected_form(
    tmp_path: Path, knob: str, form: str
) -> None:
    output = _refused(["synth", "--out", str(tmp_path / "w"), knob, "foo"])
    assert form in output
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize(
    "knob",
    [
        ["--grading-bias", "ethnicity=purple:+3"],
        ["--record-bias", "ethnicity=purple:0.5"],
        ["--down-record", "ethnicity=purple:0.8"],
    ],
)
def test_an_unknown_group_in_a_bias_knob_is_refused_naming_the_known_ones(
    tmp_path: Path, knob: list[str]
) -> None:
    output = _refused(["synth", "--out", str(tmp_path / "w"), *knob])
    assert "unknown ethnicity group 'purple'" in output
    assert "white, mixed, asian, black, other, unknown" in output
    assert not (tmp_path / "w").exists()


def test_a_tiny_county_is_written_and_reported_without_a_traceback(tmp_path: Path) -> None:
    out = tmp_path / "tiny"
    made = runner.invoke(
        app, ["synth", "--out", str(out), "--years", "0.5", "--incidents-per-year", "500"]
    )
    assert made.exit_code == 0, made.output
    assert "too small or too short" in made.output
    report = runner.invoke(app, ["synth", "--report", str(out)])
    assert report.exit_code == 0, report.output
    assert "Traceback" not in made.output + report.output


def test_a_county_with_no_incident_is_refused_and_nothing_written(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    output = _refused(["synth", "--out", str(out), "--years", "0.05", "--incidents-per-year", "10"])
    assert "recorded no incident" in output
    assert not out.exists()


@pytest.mark.parametrize("command", [["models"], ["promote", "champion"], ["rollback"]])
def test_a_registry_command_refuses_a_registry_that_does_not_exist(
    tmp_path: Path, command: list[str]
) -> None:
    db = tmp_path / "nowhere" / "mlflow.db"
    output = _refused([*command, "--tracking-uri", f"sqlite:///{db}"])
    assert f"registry: sqlite:///{db}" in output
    assert f"no registry at {db}" in output
    assert not db.exists()
    assert not db.parent.exists()


@pytest.mark.parametrize(
    "command", [["keys", "list"], ["keys", "revoke", "k1"], ["audit-log", "verify"]]
)
def test_a_store_command_refuses_a_store_that_does_not_exist(
    tmp_path: Path, command: list[str]
) -> None:
    db = tmp_path / "typo.db"
    output = _refused([*command, "--database-url", f"sqlite:///{db}"])
    assert f"no store at {db}" in output
    assert not db.exists()


def test_keys_create_makes_the_store_and_says_which(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    result = runner.invoke(
        app, ["keys", "create", "--role", "reviewer", "--database-url", f"sqlite:///{db}"]
    )
    assert result.exit_code == 0, result.output
    assert f"store: sqlite:///{db} (new)" in result.output
    listed = runner.invoke(app, ["keys", "list", "--database-url", f"sqlite:///{db}"])
    assert listed.exit_code == 0, listed.output
    assert f"store: sqlite:///{db}\n" in listed.output
    assert "(new)" not in listed.output


def test_queue_says_where_it_looked_when_there_is_no_store(tmp_path: Path) -> None:
    output = _refused(["queue", "--date", "2024-03-01"])
    assert "triage.db" in output
    assert "work/demo/triage.db" in output
    assert not (tmp_path / "triage.db").exists()


def test_queue_finds_the_demos_store(tmp_path: Path) -> None:
    made = runner.invoke(
        app,
        ["keys", "create", "--role", "reviewer", "--database-url", "sqlite:///work/demo/triage.db"],
    )
    assert made.exit_code == 0, made.output
    output = _refused(["queue", "--date", "2024-03-01"])  # no registry: nothing to rank with
    assert "store: sqlite:///work/demo/triage.db" in output
    assert not (tmp_path / "triage.db").exists()


def test_promote_refuses_an_invisible_override_reason() -> None:
    from triage.exceptions import ConfigError
    from triage.registry.tracking import MlflowRegistry

    registry = MlflowRegistry.__new__(MlflowRegistry)
    with pytest.raises(ConfigError, match="visible text"):
        registry.promote("m", 1, [], override_reason=" \u200b\u202e ")


def test_the_demo_refuses_to_wipe_a_store_holding_keys(tmp_path: Path) -> None:
    work = tmp_path / "work"
    db = work / "triage.db"
    made = runner.invoke(
        app, ["keys", "create", "--role", "reviewer", "--database-url", f"sqlite:///{db}"]
    )
    assert made.exit_code == 0, made.output
    before = db.read_bytes()
    output = _refused(
        ["demo", "--workdir", str(work), "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"]
    )
    assert str(db) in output
    assert "1 API key(s)" in output
    assert "--reset" in output
    assert db.read_bytes() == before
    assert not (work / "extract").exists()


def test_the_demo_store_check_counts_only_what_people_made(tmp_path: Path) -> None:
    from triage.cli._stores import check_demo_store, people_made

    db = tmp_path / "triage.db"
    assert people_made(db) == {}
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE incidents (id TEXT)")
        con.execute("INSERT INTO incidents VALUES ('i1')")
        con.execute("CREATE TABLE reviews (id INTEGER)")
    check_demo_store(db, reset=False)  # the demo's own records: rebuilt without asking
    with sqlite3.connect(db) as con:
        con.execute("INSERT INTO reviews VALUES (1)")
    assert people_made(db) == {"review(s)": 1}
    from triage.exceptions import ConfigError

    with pytest.raises(ConfigError, match="1 review"):
        check_demo_store(db, reset=False)
    check_demo_store(db, reset=True)
