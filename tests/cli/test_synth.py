"""`triage synth` and `triage demo` through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from triage.cli import app

runner = CliRunner(env={"COLUMNS": "200"})
SMALL = ["--years", "2", "--incidents-per-year", "800", "--seed", "5"]


def test_synth_writes_a_valid_world_and_reports_calibration(tmp_path: Path) -> None:
    out = tmp_path / "world"
    result = runner.invoke(app, ["synth", "--out", str(out), *SMALL])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {
        "incidents.parquet",
        "people.parquet",
        "orders.parquet",
        "truth.parquet",
        "world.json",
    }
    assert "Calibration" in result.output
    assert "(ceiling)" in result.output
    assert json.loads((out / "world.json").read_text())["config"]["seed"] == 5
    validated = runner.invoke(app, ["validate", str(out)])
    assert validated.exit_code == 0, validated.output


def test_synth_csv_without_truth(tmp_path: Path) -> None:
    out = tmp_path / "csv"
    result = runner.invoke(
        app, ["synth", "--out", str(out), *SMALL, "--format", "csv", "--no-truth"]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "incidents.csv",
        "orders.csv",
        "people.csv",
        "world.json",
    ]
    assert "(ceiling)" not in result.output


def test_synth_report_on_an_existing_world(tmp_path: Path) -> None:
    out = tmp_path / "world"
    assert runner.invoke(app, ["synth", "--out", str(out), *SMALL]).exit_code == 0
    result = runner.invoke(app, ["synth", "--report", str(out)])
    assert result.exit_code == 0, result.output
    assert "(ceiling)" in result.output


def test_synth_refuses_to_overwrite_and_changes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "world"
    assert runner.invoke(app, ["synth", "--out", str(out), *SMALL]).exit_code == 0
    before = (out / "incidents.parquet").read_bytes()
    again = runner.invoke(app, ["synth", "--out", str(out), *SMALL, "--seed", "6"])
    assert again.exit_code == 1
    assert "--overwrite" in again.output
    assert "Traceback" not in again.output
    assert (out / "incidents.parquet").read_bytes() == before


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--record-bias", "ethnicity=asian", "--record-bias 'ethnicity=asian'"),
        ("--record-bias", "religion=x:0.5", "attribute"),
        ("--record-bias", "ethnicity=asian:-1", "factor"),
        ("--record-bias", "ethnicity=asian:0.5:sometimes", "applies_to"),
        ("--grading-bias", "sex=female:lots", "--grading-bias 'sex=female:lots'"),
        ("--down-record", "ethnicity=asian:1.5", "rate"),
        ("--down-record", "ethnicity=asian:0.5:0.5:0.5", "too many"),
    ],
)
def test_bad_knob_is_a_clear_error(tmp_path: Path, option: str, value: str, message: str) -> None:
    result = runner.invoke(app, ["synth", "--out", str(tmp_path / "w"), *SMALL, option, value])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "w").exists()


def test_down_record_knob_lands_in_the_world(tmp_path: Path) -> None:
    out = tmp_path / "down"
    knob = ["--down-record", "ethnicity=asian:0.8:0.5"]
    result = runner.invoke(app, ["synth", "--out", str(out), *SMALL, "--no-truth", *knob])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "world.json").read_text())["config"]
    assert config["down_recording"] == [
        {"attribute": "ethnicity", "group": "asian", "rate": 0.8, "unnamed": 0.5}
    ]


def test_no_group_risk_lands_in_the_world(tmp_path: Path) -> None:
    out = tmp_path / "null"
    result = runner.invoke(
        app, ["synth", "--out", str(out), *SMALL, "--no-truth", "--no-group-risk"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((out / "world.json").read_text())["config"]["group_risk"] is False


def test_sex_knob_without_group_risk_is_a_clear_error(tmp_path: Path) -> None:
    knob = ["--record-bias", "sex=male:0.5", "--no-group-risk"]
    result = runner.invoke(app, ["synth", "--out", str(tmp_path / "w"), *SMALL, *knob])
    assert result.exit_code == 1
    assert "a knob on victims' sex needs group_risk" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "w").exists()


def test_synth_needs_out_or_report() -> None:
    result = runner.invoke(app, ["synth"])
    assert result.exit_code == 1
    assert "--out" in result.output


def test_report_on_a_broken_world_shows_the_problems(tmp_path: Path) -> None:
    out = tmp_path / "world"
    assert runner.invoke(app, ["synth", "--out", str(out), *SMALL]).exit_code == 0
    (out / "people.parquet").unlink()
    result = runner.invoke(app, ["synth", "--report", str(out)])
    assert result.exit_code == 1
    assert "people" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["synth", "validate", "demo", "labels", "features", "splits"])
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output
