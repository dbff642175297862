"""`triage transparency VERSION --out DIR` through the real command line: the record
written as JSON and HTML, the force's fields read from its YAML or marked missing,
and every bad input a clear error with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from registry_support import LENIENT, audit_spec, fresh_registry, register_small
from typer.testing import CliRunner

from triage.cli import app
from triage.registry.transparency import (
    DEFAULT_FORCE_INFO,
    NOT_PROVIDED,
    ForceInfo,
    load_force_info,
)

pytestmark = pytest.mark.xdist_group("cli-transparency")
runner = CliRunner(env={"COLUMNS": "200"})
NAME = "any_repeat_90d"
EXAMPLE = Path(__file__).resolve().parents[2] / DEFAULT_FORCE_INFO


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["transparency", *args])
    return result.exit_code, result.output


def _uncommented_example() -> str:
    """The shipped example with its commented fields switched on."""
    _, _, body = EXAMPLE.read_text().partition("\n\n")
    return "\n".join(line[2:] if line.startswith("# ") else line for line in body.splitlines())


def test_the_shipped_example_is_all_comments_and_valid_once_filled_in() -> None:
    assert load_force_info(EXAMPLE) == ForceInfo()
    filled = ForceInfo.model_validate(yaml.safe_load(_uncommented_example()))
    assert filled.missing() == []
    assert filled.other_assessments


@pytest.fixture(scope="module")
def uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    registry = fresh_registry(tmp_path_factory, "cli-transparency-store")
    register_small(
        registry, tmp_path_factory.mktemp("cli-transparency"), audit=audit_spec(**LENIENT)
    )
    return registry.tracking_uri


def test_the_record_is_written_with_the_force_fields(uri: str, tmp_path: Path) -> None:
    force = tmp_path / "force.yaml"
    force.write_text(_uncommented_example())
    out = tmp_path / "out"
    code, output = _run(
        "1", "--model", NAME, "--out", str(out), "--force-info", str(force),
        "--tracking-uri", uri, "--resamples", "20",
    )  # fmt: skip
    assert code == 0, output
    record = json.loads((out / f"{NAME}-v1" / "transparency.json").read_text())
    assert record["missing_force_fields"] == []
    assert record["tier_1"]["organisation"] == "Exampleshire Police"
    assert record["model"] == {**record["model"], "name": NAME, "version": 1}
    html = (out / f"{NAME}-v1" / "transparency.html").read_text()
    assert "Exampleshire Police" in html
    assert "not provided" not in output


def test_without_force_fields_each_is_marked_missing(uri: str, tmp_path: Path) -> None:
    code, output = _run(
        "1", "--model", NAME, "--out", str(tmp_path), "--force-info", str(EXAMPLE),
        "--tracking-uri", uri, "--resamples", "20",
    )  # fmt: skip
    assert code == 0, output
    assert "not provided by the force (marked in the record): organisation, team" in output
    record = json.loads((tmp_path / f"{NAME}-v1" / "transparency.json").read_text())
    assert record["tier_2"]["owner_and_responsibility"]["contact"] == NOT_PROVIDED
    assert len(record["missing_force_fields"]) == 9


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("owner: Exampleshire Police\n", "force.yaml: owner: Extra inputs are not permitted"),
        ("contact: [1, 2]\n", "force.yaml: contact: Input should be a valid string"),
        ("- a list\n", "force.yaml: expected a mapping of field: value"),
        ("contact: 'unclosed\n", "force.yaml: not readable YAML"),
    ],
)
def test_a_bad_force_file_is_a_clear_error_and_writes_nothing(
    tmp_path: Path, content: str, message: str
) -> None:
    force = tmp_path / "force.yaml"
    force.write_text(content)
    out = tmp_path / "out"
    code, output = _run("1", "--out", str(out), "--force-info", str(force))
    assert code == 1
    assert message in " ".join(output.split())
    assert "Traceback" not in output
    assert not out.exists()


def test_unknown_versions_and_bad_folders_are_clear_errors(uri: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = _run("9", "--model", NAME, "--out", str(out), "--tracking-uri", uri)
    assert code == 1
    assert "has no version or alias '9'" in output
    assert not out.exists()
    code, output = _run("1", "--model", "nope", "--out", str(out), "--tracking-uri", uri)
    assert code == 1
    assert "no registered model named 'nope'" in output
    afile = tmp_path / "a-file"
    afile.write_text("")
    code, output = _run("1", "--model", NAME, "--out", str(afile), "--tracking-uri", uri)
    assert code == 1
    assert "exists and is not a folder" in output
    missing = tmp_path / "missing.yaml"
    code, output = _run("1", "--out", str(out), "--force-info", str(missing))
    assert code == 1
    assert "no such force information file" in output
    assert "Traceback" not in output
