"""The fairness gate's three answers (pass, flagged, not judged), the cluster numbers
logged for re-auditing, and `triage compare` across data and judgement, on small
registered versions in a real MLflow store (docs/architecture.md §8, §10)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from registry_support import (
    STRICT,
    audit_spec,
    fresh_registry,
    register_small,
    register_world,
)
from typer.testing import CliRunner

from triage.cli import app
from triage.evaluation.fairness import CLUSTER_COLUMNS
from triage.pipeline import Trained
from triage.registry.audit import AUDIT_PREDICTIONS, dataset_digest
from triage.registry.card import model_card
from triage.registry.gates import (
    FAIRNESS_FLAGS_TAG,
    FAIRNESS_GATE,
    FAIRNESS_UNJUDGED_TAG,
    promotion_gates,
)
from triage.registry.tracking import AUDIT_PATH, OVERRIDE_TAG, MlflowRegistry, VersionInfo

pytestmark = pytest.mark.xdist_group("fairness-gate")
runner = CliRunner(env={"COLUMNS": "200"})
NAME = "any_repeat_90d"


def _info(tags: dict[str, str]) -> VersionInfo:
    metrics = {
        "pooled_model_roc_auc": 0.8,
        "pooled_logistic_roc_auc": 0.7,
        "pooled_model_ece": 0.01,
    }
    return VersionInfo(NAME, 1, "run", datetime.now(UTC), (), metrics, tags)


@pytest.mark.parametrize(
    ("tags", "passed", "answer"),
    [
        ({FAIRNESS_FLAGS_TAG: "", FAIRNESS_UNJUDGED_TAG: ""}, True, "pass"),
        ({FAIRNESS_FLAGS_TAG: "victim_sex:male:fnr", FAIRNESS_UNJUDGED_TAG: ""}, False, "flagged"),
        (
            {FAIRNESS_FLAGS_TAG: "", FAIRNESS_UNJUDGED_TAG: "victim_sex (0 of 2 groups judged)"},
            False,
            "not judged",
        ),
        ({FAIRNESS_FLAGS_TAG: ""}, True, "pass"),  # audited before the rule: flags only
    ],
)
def test_the_fairness_gate_answers_pass_flagged_or_not_judged(
    tags: dict[str, str], passed: bool, answer: str
) -> None:
    gate = promotion_gates(_info(tags))[-1]
    assert (gate.name, gate.passed) == (FAIRNESS_GATE, passed)
    assert gate.detail.startswith(answer)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[MlflowRegistry, Trained, Trained]:
    """v1: the small world audited strictly (flags); v2: another small world audited
    with the shipped minimum group sizes, too small a county to judge."""
    registry = fresh_registry(tmp_path_factory, "fairness-gate-store")
    folder = tmp_path_factory.mktemp("fairness-gate")
    v1 = register_small(registry, folder, audit=audit_spec(**STRICT))
    v2 = register_world(registry, folder, 8, audit=audit_spec())
    return registry, v1, v2


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_a_county_too_small_to_judge_is_refused_without_an_override_reason(
    store: tuple[MlflowRegistry, Trained, Trained],
) -> None:
    registry, _, v2 = store
    assert v2.fairness.primary_flags == ()
    assert v2.fairness.unjudged, "the small county should be too small to judge"
    assert v2.fairness.gate_answer == "not judged"
    info = registry.version(NAME, 2)
    assert info.tags[FAIRNESS_UNJUDGED_TAG] == ",".join(v2.fairness.unjudged)
    uri = registry.tracking_uri
    code, output = _run("promote", "2", "--model", NAME, "--tracking-uri", uri)
    assert code == 1, output
    assert "not judged" in output
    assert "--override-reason" in output
    assert registry.champion(NAME) is None
    reason = "Too few victims per group to judge; a larger extract is being audited."
    code, output = _run(
        "promote", "2", "--model", NAME, "--tracking-uri", uri, "--override-reason", reason
    )
    assert code == 0, output
    assert registry.version(NAME, 2).tags[OVERRIDE_TAG] == reason
    card = model_card(registry, NAME, 2).to_markdown()
    assert "answer for the promotion gate: **not judged**" in card
    assert reason in card


def test_logged_predictions_carry_cluster_numbers_and_no_identifiers(
    store: tuple[MlflowRegistry, Trained, Trained], tmp_path: Path
) -> None:
    registry, v1, _ = store
    folder = registry.download_artifact(NAME, 1, AUDIT_PATH, tmp_path)
    logged = pd.read_parquet(folder / AUDIT_PREDICTIONS)
    assert not {"victim_id", "perpetrator_id", "incident_id"} & set(logged.columns)
    for column in CLUSTER_COLUMNS.values():
        codes = logged[column].to_numpy()
        first = pd.unique(codes)
        assert list(first) == list(range(len(first)))  # 0..k-1 in order of first appearance
        assert len(first) < len(codes)  # people have several incidents
    assert (v1.fairness.victim_resampling, v1.fairness.perpetrator_resampling) == (
        "victims",
        "perpetrators",
    )


def test_compare_says_the_data_differ_and_keeps_no_longer_judged_apart_from_cleared(
    store: tuple[MlflowRegistry, Trained, Trained],
) -> None:
    registry, v1, v2 = store
    a, b = (dataset_digest(registry, registry.version(NAME, v)) for v in (1, 2))
    assert a is not None
    assert a != b
    uri = registry.tracking_uri
    code, output = _run("compare", "1", "2", "--model", NAME, "--tracking-uri", uri)
    assert code == 0, output
    assert "v1 and v2 were trained on different data" in output
    rows = output.splitlines()
    cleared = next(r for r in rows if r.startswith("cleared: "))
    gone = next(r for r in rows if r.startswith("no longer judged"))
    after = {d.name: d for d in v2.fairness.iter_disparities()}
    unjudged = []
    for flag in v1.fairness.primary_flags:
        now = after.get(flag)
        if now is not None and now.judged:
            assert flag in cleared or now.flagged
            assert flag not in gone
        else:
            unjudged.append(flag)
            assert flag in gone
            assert flag not in cleared
    assert unjudged, "some of v1's flags fall on groups too small to judge in v2"
    code, output = _run("compare", "1", "1", "--model", NAME, "--tracking-uri", uri)
    assert code == 0, output
    assert "v1 and v1 were trained on the same data" in output
