"""Every registered version carries its SHAP summary, fairness report, audit data and
model card; the card is read from the registry and shows any override reason."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from registry_support import STRICT, audit_spec, fresh_registry, register_small

from triage.evaluation.fairness_report import plain_summary
from triage.exceptions import PromotionRefused
from triage.pipeline import Trained
from triage.registry.audit import AUDIT_COLUMNS, AUDIT_PREDICTIONS, AUDIT_SPEC, reaudit
from triage.registry.card import CARD_FILE, SECTIONS, log_model_card, model_card
from triage.registry.gates import FAIRNESS_FLAGS_TAG, FAIRNESS_GATE, promotion_gates
from triage.registry.tracking import AUDIT_PATH, OVERRIDE_TAG, MlflowRegistry

pytestmark = pytest.mark.xdist_group("model-card")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REPORTS = (
    "evaluation.html",
    "evaluation.json",
    "fairness.html",
    "fairness.json",
    "shap_beeswarm.png",
    "shap_bar.png",
    "shap_summary.json",
    CARD_FILE,
)


@pytest.fixture(scope="module")
def registered(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[MlflowRegistry, Trained, Path]:
    registry = fresh_registry(tmp_path_factory, "card-store")
    folder = tmp_path_factory.mktemp("card")
    trained = register_small(registry, folder, audit=audit_spec(**STRICT))
    return registry, trained, folder


def _section(card: str, title: str) -> str:
    start = card.index(f"## {title}\n")
    end = card.find("\n## ", start + 1)
    return card[start : end if end > 0 else None]


def test_every_version_carries_its_reports_shap_summary_and_card(
    registered: tuple[MlflowRegistry, Trained, Path], tmp_path: Path
) -> None:
    registry, trained, _ = registered
    assert trained.version is not None
    folder = registry.download_reports(trained.version.name, trained.version.version, tmp_path)
    assert {p.name for p in folder.iterdir()} >= set(REPORTS)
    for png in ("shap_beeswarm.png", "shap_bar.png"):
        assert (folder / png).read_bytes().startswith(PNG_MAGIC)
    shap = json.loads((folder / "shap_summary.json").read_text())
    assert shap["sample_size"] == 200
    assert shap["features"][0]["mean_abs_shap"] >= shap["features"][-1]["mean_abs_shap"]
    fairness = json.loads((folder / "fairness.json").read_text())
    assert fairness["flags"] == list(trained.fairness.flags)
    assert fairness["operating_point"]["capacity"] == 2  # the team's capacity, not the spec's
    assert (folder / CARD_FILE).read_text().startswith("# Model card: any_repeat_90d v1")


def test_logged_predictions_hold_group_labels_and_no_identifiers(
    registered: tuple[MlflowRegistry, Trained, Path], tmp_path: Path
) -> None:
    registry, trained, _ = registered
    assert trained.version is not None
    folder = registry.download_artifact(trained.version.name, 1, AUDIT_PATH, tmp_path)
    frame = pd.read_parquet(folder / AUDIT_PREDICTIONS)
    assert set(frame.columns) <= set(AUDIT_COLUMNS)
    assert not [c for c in frame.columns if c.endswith("_id")]
    assert len(frame) == len(trained.training.validation)
    stamps = pd.to_datetime(frame["reported_at"], utc=True)
    assert (stamps == stamps.dt.floor("D")).all()
    for age in ("victim_age", "perpetrator_age"):
        values = set(frame[age].dropna().unique())
        assert values <= {0.0, 25.0, 35.0, 45.0, 55.0}
    assert (folder / AUDIT_SPEC).exists()


def test_the_audit_rerun_from_the_registry_equals_the_logged_one(
    registered: tuple[MlflowRegistry, Trained, Path],
) -> None:
    registry, trained, _ = registered
    again = reaudit(registry, "any_repeat_90d", 1)
    assert again.to_dict() == trained.fairness.to_dict()


def test_fairness_flags_tag_lists_the_primary_flags_and_feeds_the_gate(
    registered: tuple[MlflowRegistry, Trained, Path],
) -> None:
    registry, trained, _ = registered
    info = registry.version("any_repeat_90d", 1)
    flags = trained.fairness.primary_flags
    assert flags, "the strict audit spec should flag the small world"
    assert info.tags[FAIRNESS_FLAGS_TAG] == ",".join(flags)
    gate = promotion_gates(info)[-1]
    assert (gate.name, gate.passed) == (FAIRNESS_GATE, False)
    assert flags[0] in gate.detail


def test_card_has_every_section_and_the_numbers_of_the_run(
    registered: tuple[MlflowRegistry, Trained, Path],
) -> None:
    registry, trained, _ = registered
    card = model_card(registry, "any_repeat_90d", 1).to_markdown()
    headings = re.findall(r"^## (.+)$", card, flags=re.MULTILINE)
    assert headings == list(SECTIONS)
    info = registry.version("any_repeat_90d", 1)
    m, p, t = info.metrics, info.params, info.tags
    metrics = _section(card, "Metrics")
    row = next(line for line in metrics.splitlines() if line.startswith("| Model (LightGBM) |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:5] == [
        f"{m['pooled_model_roc_auc']:.3f}",
        f"{m['pooled_model_average_precision']:.3f}",
        f"{m['pooled_model_brier']:.4f}",
        f"{m['pooled_model_ece']:.4f}",
    ]
    assert f"model {100 * m['headline_model_npe']:.1f}%" in metrics
    evaluation = _section(card, "Evaluation data")
    assert f"{m['headline_incidents']:,.0f} incidents" in evaluation
    assert f"from {t['validation.first_day']} to {t['validation.last_day']}" in evaluation
    assert f"{p['training_rows']} labelled incidents" in _section(card, "Training data")
    analyses = _section(card, "Quantitative analyses")
    for sentence in plain_summary(trained.fairness):  # as in the logged fairness JSON
        assert sentence in analyses
    black = next(d for d in trained.fairness.iter_disparities() if d.flagged)
    assert f"{black.ratio:.2f} ({black.low:.2f} to {black.high:.2f}) | flagged" in analyses
    assert "This version has not been promoted." in _section(card, "Promotion record")


def test_a_flag_blocks_promotion_until_a_reason_is_given_and_the_card_shows_it(
    registered: tuple[MlflowRegistry, Trained, Path], tmp_path: Path
) -> None:
    registry, _, _ = registered
    gates = promotion_gates(registry.version("any_repeat_90d", 1))
    with pytest.raises(PromotionRefused, match=FAIRNESS_GATE):
        registry.promote("any_repeat_90d", 1, gates)
    reason = "Reviewed: the flag | reflects a known difference in risk.\nSecond line."
    registry.promote("any_repeat_90d", 1, gates, override_reason=reason)
    assert registry.version("any_repeat_90d", 1).tags[OVERRIDE_TAG] == reason
    log_model_card(registry, "any_repeat_90d", 1, tmp_path / "local")
    logged = registry.download_reports("any_repeat_90d", 1, tmp_path / "dl") / CARD_FILE
    record = _section(logged.read_text(), "Promotion record")
    assert "**promote** at" in record
    assert "overriding failed gates" in record
    assert "> Reviewed: the flag | reflects a known difference in risk.\n> Second line." in record
    assert (tmp_path / "local" / CARD_FILE).read_text() == logged.read_text()


def test_shap_summary_is_drawn_on_a_bounded_sample(
    registered: tuple[MlflowRegistry, Trained, Path],
) -> None:
    _, trained, _ = registered
    assert trained.shap.sample_size == 200
    assert len(trained.shap.mean_abs_shap) == trained.prepared.matrix.X.shape[1]
    assert np.isfinite(list(trained.shap.mean_abs_shap.values())).all()
