"""The MLflow registry on a real SQLite tracking store: runs, versions, gates,
promotion with recorded reasons, rollback."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest
from registry_support import registry_in

from triage.exceptions import ConfigError, ModelNotFoundError, PromotionRefused
from triage.registry.card import SECTIONS, model_card
from triage.registry.gates import (
    FAIRNESS_FLAGS_TAG,
    LOGISTIC_AUC,
    MODEL_AUC,
    MODEL_ECE,
    promotion_gates,
)
from triage.registry.tracking import CHAMPION, OVERRIDE_TAG, MlflowRegistry, NullTracker, RunRecord
from triage.settings import Settings, artifact_root_for

pytestmark = pytest.mark.xdist_group("mlflow")
NAME = "serious_harm_365d"


@pytest.fixture
def registry(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> MlflowRegistry:
    return registry_in(tmp_path_factory, tmp_path)


def _bundle(folder: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    x = rng.random((300, 3))
    y = (x[:, 0] + 0.3 * rng.random(300) > 0.6).astype(int)
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "seed": seed, "num_threads": 1},
        lgb.Dataset(x, y),
        num_boost_round=5,
    )
    folder.mkdir(parents=True)
    booster.save_model(str(folder / "booster.txt"))
    (folder / "manifest.json").write_text('{"files": {}}\n')
    return folder


def _run(tmp_path: Path, seed: int, auc: float, logistic: float, ece: float) -> RunRecord:
    bundle = _bundle(tmp_path / f"bundle-{seed}", seed)
    report = tmp_path / f"report-{seed}.html"
    report.write_text("<html>evaluation</html>")
    extra = tmp_path / f"extra-{seed}.json"
    extra.write_text("{}")
    return RunRecord(
        label=NAME,
        params={"seed": seed, "num_leaves": 31},
        metrics={MODEL_AUC: auc, LOGISTIC_AUC: logistic, MODEL_ECE: ece},
        tags={"feature_spec_sha256": "abc", "model_spec_sha256": "def"},
        bundle_dir=bundle,
        booster_file=bundle / "booster.txt",
        reports=[report],
        artifacts={"audit": [extra]},
    )


def test_a_name_never_registered_has_no_champion_and_no_decisions(
    registry: MlflowRegistry,
) -> None:
    assert registry.champion("never_registered") is None
    assert registry.decisions("never_registered") == []


def test_recording_a_run_registers_a_version_with_its_metrics(
    registry: MlflowRegistry, tmp_path: Path
) -> None:
    first = registry.record(_run(tmp_path, 1, 0.74, 0.72, 0.01))
    second = registry.record(_run(tmp_path, 2, 0.75, 0.72, 0.01))
    assert (first.version, second.version) == (1, 2)
    assert second.metrics[MODEL_AUC] == pytest.approx(0.75)
    assert second.tags["feature_spec_sha256"] == "abc"
    assert [v.version for v in registry.versions(NAME)] == [2, 1]


def test_bundle_and_reports_come_back_byte_for_byte(
    registry: MlflowRegistry, tmp_path: Path
) -> None:
    run = _run(tmp_path, 3, 0.74, 0.72, 0.01)
    info = registry.record(run)
    got = registry.download_bundle(NAME, info.version, tmp_path / "dl")
    assert (got / "booster.txt").read_bytes() == (run.bundle_dir / "booster.txt").read_bytes()
    reports = registry.download_reports(NAME, info.version, tmp_path / "rep")
    assert (reports / "report-3.html").read_text() == "<html>evaluation</html>"


def test_artifacts_live_beside_the_database_and_hold_no_pickle(
    registry: MlflowRegistry, tmp_path: Path
) -> None:
    registry.record(_run(tmp_path, 4, 0.74, 0.72, 0.01))
    artifacts = tmp_path / "models" / "artifacts"
    files = [p for p in artifacts.rglob("*") if p.is_file()]
    assert files
    assert not [p for p in files if p.suffix in {".pkl", ".pickle"}]
    boosters = [p for p in files if p.name == "model.lgb"]
    assert boosters
    assert boosters[0].read_text().startswith("tree")


def test_a_version_worse_than_logistic_needs_a_recorded_override(
    registry: MlflowRegistry, tmp_path: Path
) -> None:
    info = registry.record(_run(tmp_path, 5, 0.70, 0.72, 0.01))
    gates = promotion_gates(info)
    assert [g.passed for g in gates] == [False, True]
    with pytest.raises(PromotionRefused, match="beats the logistic baseline"):
        registry.promote(NAME, info.version, gates)
    assert registry.champion(NAME) is None
    decision = registry.promote(NAME, info.version, gates, override_reason="pilot on one team")
    assert decision.override_reason == "pilot on one team"
    assert registry.champion(NAME).version == info.version  # type: ignore[union-attr]
    assert registry.version(NAME, info.version).tags[OVERRIDE_TAG] == "pilot on one team"
    recorded = registry.decisions(NAME)
    assert recorded[-1]["override_reason"] == "pilot on one team"
    assert recorded[-1]["gates"][0]["passed"] is False


def test_blank_override_reason_is_refused(registry: MlflowRegistry, tmp_path: Path) -> None:
    info = registry.record(_run(tmp_path, 6, 0.74, 0.72, 0.05))
    with pytest.raises(ConfigError, match="visible text"):
        registry.promote(NAME, info.version, promotion_gates(info), override_reason="   ")
    with pytest.raises(PromotionRefused, match="calibrated"):
        registry.promote(NAME, info.version, promotion_gates(info))
    assert CHAMPION not in registry.version(NAME, info.version).aliases


def test_promote_then_rollback_restores_the_previous_champion(
    registry: MlflowRegistry, tmp_path: Path
) -> None:
    v1 = registry.record(_run(tmp_path, 7, 0.74, 0.72, 0.01))
    v2 = registry.record(_run(tmp_path, 8, 0.76, 0.72, 0.01))
    registry.promote(NAME, v1.version, promotion_gates(v1))
    registry.promote(NAME, v2.version, promotion_gates(v2))
    assert registry.version(NAME, CHAMPION).version == v2.version
    assert CHAMPION in registry.version(NAME, v2.version).aliases
    decision = registry.rollback(NAME, reason="scores drifted")
    assert (decision.version, decision.previous) == (v1.version, v2.version)
    assert registry.champion(NAME).version == v1.version  # type: ignore[union-attr]
    with pytest.raises(PromotionRefused, match="no previous champion"):
        registry.rollback(NAME)
    assert [d["action"] for d in registry.decisions(NAME)] == ["promote", "promote", "rollback"]


def test_promoting_the_champion_again_is_refused(registry: MlflowRegistry, tmp_path: Path) -> None:
    v1 = registry.record(_run(tmp_path, 9, 0.74, 0.72, 0.01))
    registry.promote(NAME, v1.version, promotion_gates(v1))
    with pytest.raises(PromotionRefused, match="already the champion"):
        registry.promote(NAME, v1.version, promotion_gates(v1))


def test_fairness_flags_become_a_gate(registry: MlflowRegistry, tmp_path: Path) -> None:
    v1 = registry.record(_run(tmp_path, 10, 0.74, 0.72, 0.01))
    registry.client.set_tag(v1.run_id, FAIRNESS_FLAGS_TAG, "victim_ethnicity:black:fnr")
    gates = promotion_gates(registry.version(NAME, v1.version))
    assert gates[-1].name == "no unexplained fairness flag"
    assert not gates[-1].passed
    assert "victim_ethnicity:black:fnr" in gates[-1].detail


def test_a_promotion_through_passing_gates_records_no_override(
    registry: MlflowRegistry, tmp_path: Path
) -> None:
    info = registry.record(_run(tmp_path, 13, 0.74, 0.72, 0.01))
    registry.promote(NAME, info.version, promotion_gates(info))
    assert registry.version(NAME, info.version).tags[OVERRIDE_TAG] == ""


def test_params_and_extra_artifacts_are_recorded(registry: MlflowRegistry, tmp_path: Path) -> None:
    info = registry.record(_run(tmp_path, 14, 0.74, 0.72, 0.01))
    assert info.params["num_leaves"] == "31"
    got = registry.download_artifact(NAME, info.version, "audit/extra-14.json", tmp_path / "a")
    assert got.read_text() == "{}"
    with pytest.raises(ModelNotFoundError, match=r"no logged artifact 'audit/none\.json'"):
        registry.download_artifact(NAME, info.version, "audit/none.json", tmp_path / "b")


def test_a_card_of_a_run_without_an_audit_says_so(registry: MlflowRegistry, tmp_path: Path) -> None:
    info = registry.record(_run(tmp_path, 15, 0.74, 0.72, 0.01))
    card = model_card(registry, NAME, info.version).to_markdown()
    assert [line[3:] for line in card.splitlines() if line.startswith("## ")] == list(SECTIONS)
    assert "No fairness report was logged with this version." in card
    assert "| Model (LightGBM) | 0.740 |" in card
    assert "beats the logistic baseline | pass | AUC 0.740 vs logistic 0.720" in card


def test_unknown_model_and_version_are_clear_errors(
    registry: MlflowRegistry, tmp_path: Path
) -> None:
    with pytest.raises(ModelNotFoundError, match="no registered model"):
        registry.version(NAME, 1)
    registry.record(_run(tmp_path, 11, 0.74, 0.72, 0.01))
    with pytest.raises(ModelNotFoundError, match="has no version or alias 7"):
        registry.version(NAME, 7)
    assert registry.champion(NAME) is None


def test_null_tracker_records_nothing(tmp_path: Path) -> None:
    assert NullTracker().record(_run(tmp_path, 12, 0.7, 0.7, 0.01)) is None


def test_settings_come_from_the_environment_and_options_win() -> None:
    env = {"TRIAGE_TRACKING_URI": "sqlite:///x/y.db", "TRIAGE_CAPACITY": "25"}
    s = Settings.from_env(env)
    assert (s.tracking_uri, s.capacity) == ("sqlite:///x/y.db", 25)
    assert Settings.from_env(env, capacity=5).capacity == 5
    assert Settings.from_env({}).tracking_uri == "sqlite:///models/mlflow.db"
    with pytest.raises(ConfigError, match="TRIAGE_CAPACITY"):
        Settings.from_env({"TRIAGE_CAPACITY": "lots"})


def test_default_artifacts_sit_beside_the_database() -> None:
    root = artifact_root_for("sqlite:///models/mlflow.db")
    assert root is not None
    assert root.endswith("/models/artifacts")
    assert artifact_root_for("http://tracking:5000") is None
