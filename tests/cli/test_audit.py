"""`triage audit`, `compare` and `promote` on small registered versions, through the
real command line and a real MLflow SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest
from registry_support import LENIENT, STRICT, audit_spec, fresh_registry, register_small
from typer.testing import CliRunner

from triage.cli import app
from triage.pipeline import Trained
from triage.registry.card import CARD_FILE
from triage.registry.gates import FAIRNESS_GATE

pytestmark = pytest.mark.xdist_group("cli-audit")
runner = CliRunner(env={"COLUMNS": "200"})
NAME = "any_repeat_90d"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Trained, Trained]:
    """v1 audited strictly (flags), v2 (another seed) leniently (no flags)."""
    registry = fresh_registry(tmp_path_factory, "cli-audit-store")
    folder = tmp_path_factory.mktemp("cli-audit")
    v1 = register_small(registry, folder, audit=audit_spec(**STRICT))
    v2 = register_small(registry, folder, audit=audit_spec(**LENIENT), seed=1)
    return registry.tracking_uri, v1, v2


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_audit_regenerates_the_logged_report_byte_for_byte(
    store: tuple[str, Trained, Trained], tmp_path: Path
) -> None:
    uri, v1, _ = store
    code, output = _run("audit", "1", "--name", NAME, "--tracking-uri", uri, "--out", str(tmp_path))
    assert code == 0, output
    assert "regenerated audit matches the report logged with the version" in output
    assert "Primary tests (missed cases and calibration across victim groups)" in output
    assert v1.fairness.primary_flags[0] in output
    folder = tmp_path / f"{NAME}-v1"
    assert (folder / "fairness.json").read_bytes() == v1.fairness_json.read_bytes()
    assert (folder / "fairness.html").exists()
    card = (folder / CARD_FILE).read_text()
    assert card.startswith(f"# Model card: {NAME} v1")


def test_compare_shows_metric_changes_and_cleared_flags(
    store: tuple[str, Trained, Trained],
) -> None:
    uri, v1, v2 = store
    code, output = _run("compare", "1", "2", "--model", NAME, "--tracking-uri", uri)
    assert code == 0, output
    before = v1.evaluation.pooled("model")["roc_auc"]
    after = v2.evaluation.pooled("model")["roc_auc"]
    line = next(row for row in output.splitlines() if "pooled ROC AUC" in row)
    assert f"{before:.4f}" in line
    assert f"{after:.4f}" in line
    assert f"{after - before:+.4f}" in line
    for title in ("pooled average precision", "pooled Brier score", "pooled ECE", "recall@k"):
        assert title in output
    assert "NPE at DASH's flag rate" in output
    assert v2.fairness.flags == ()
    cleared = next(row for row in output.splitlines() if row.startswith("cleared: "))
    assert set(cleared[len("cleared: ") :].split(", ")) >= set(v1.fairness.primary_flags)
    assert "newly flagged: none" in output


@pytest.mark.parametrize("command", [["audit", "9"], ["compare", "1", "9"]])
def test_an_unknown_version_is_a_clear_error(
    store: tuple[str, Trained, Trained], command: list[str]
) -> None:
    uri, _, _ = store
    code, output = _run(*command, "--model", NAME, "--tracking-uri", uri)
    assert code == 1
    assert "has no version or alias '9'" in output
    assert "Traceback" not in output


def test_a_flag_blocks_promote_until_a_reason_is_recorded_in_the_card(
    store: tuple[str, Trained, Trained], tmp_path: Path
) -> None:
    uri, _, _ = store
    code, output = _run("promote", "1", "--model", NAME, "--tracking-uri", uri)
    assert code == 1
    assert FAIRNESS_GATE in output
    assert "--override-reason" in output
    reason = "Reviewed with the MASH lead: the flagged groups are tracked monthly."
    code, output = _run(
        "promote", "1", "--model", NAME, "--tracking-uri", uri, "--override-reason", reason
    )
    assert code == 0, output
    assert f"@champion is now {NAME} v1" in output
    code, output = _run(
        "audit", "champion", "--model", NAME, "--tracking-uri", uri, "--out", str(tmp_path)
    )
    assert code == 0, output
    card = (tmp_path / f"{NAME}-v1" / CARD_FILE).read_text()
    assert f"> {reason}" in card
    assert "aliases: champion" in card
