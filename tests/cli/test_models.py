"""`triage train`, `models`, `promote`, `evaluate`, `rollback` on the default county,
through the real command line and a real MLflow SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest
from synth_support import default_county
from typer.testing import CliRunner

from triage.cli import app
from triage.registry.gates import FAIRNESS_FLAGS_TAG, FAIRNESS_GATE
from triage.registry.tracking import MlflowRegistry
from triage.synth import write_world

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("county-cli")]
runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    root = tmp_path_factory.mktemp("cli-models")
    extract = root / "extract"
    write_world(default_county(), extract)
    uri = f"sqlite:///{root / 'models' / 'mlflow.db'}"
    result = runner.invoke(
        app,
        ["train", str(extract), "--tracking-uri", uri, "--reports", str(root / "reports")],
    )
    assert result.exit_code == 0, result.output
    return root, uri, result.output


def test_train_prints_model_baselines_and_oracle_and_registers(
    trained: tuple[Path, str, str],
) -> None:
    root, _, output = trained
    for needle in ("logistic (elastic net)", "DASH grade", "truth (ceiling)", "version 1"):
        assert needle in output
    for report in ("evaluation.html", "fairness.html", "fairness.json", "model_card.md"):
        assert (root / "reports" / report).exists()
    assert "fairness report:" in output


def test_promote_lists_gates_and_models_shows_the_champion(trained: tuple[Path, str, str]) -> None:
    _, uri, _ = trained
    flags = MlflowRegistry(uri).version("serious_harm_365d", 1).tags[FAIRNESS_FLAGS_TAG]
    promoted = runner.invoke(app, ["promote", "1", "--tracking-uri", uri])
    assert FAIRNESS_GATE in promoted.output
    if flags:  # a flagged disparity needs a recorded reason
        assert promoted.exit_code == 1
        assert "--override-reason" in promoted.output
        promoted = runner.invoke(
            app, ["promote", "1", "--tracking-uri", uri, "--override-reason", "known effect"]
        )
    assert promoted.exit_code == 0, promoted.output
    assert "beats the logistic baseline" in promoted.output
    assert "@champion is now serious_harm_365d v1" in promoted.output
    again = runner.invoke(app, ["promote", "1", "--tracking-uri", uri])
    assert again.exit_code == 1
    assert "already the champion" in again.output
    listed = runner.invoke(app, ["models", "--tracking-uri", uri])
    assert listed.exit_code == 0
    assert "champion" in listed.output
    rollback = runner.invoke(app, ["rollback", "--tracking-uri", uri])
    assert rollback.exit_code == 1
    assert "no previous champion" in rollback.output


def test_evaluate_fetches_the_report_of_a_version(trained: tuple[Path, str, str]) -> None:
    root, uri, _ = trained
    result = runner.invoke(
        app, ["evaluate", "1", "--tracking-uri", uri, "--out", str(root / "fetched")]
    )
    assert result.exit_code == 0, result.output
    assert (root / "fetched" / "serious_harm_365d-v1" / "reports" / "evaluation.html").exists()
    assert "Out-of-time validation" in result.output


def test_unknown_version_is_a_clear_error(trained: tuple[Path, str, str]) -> None:
    _, uri, _ = trained
    result = runner.invoke(app, ["promote", "9", "--tracking-uri", uri])
    assert result.exit_code == 1
    assert "no version or alias '9'" in result.output
    assert "Traceback" not in result.output


def test_train_on_a_broken_extract_shows_the_validation_report(tmp_path: Path) -> None:
    (tmp_path / "incidents.csv").write_text("incident_id\nI1\n")
    result = runner.invoke(app, ["train", str(tmp_path), "--no-register"])
    assert result.exit_code == 1
    assert "people" in result.output
    assert "Traceback" not in result.output
