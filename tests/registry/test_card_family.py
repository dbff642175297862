"""The card's algorithm line names the family that ships: a logistic model's card
never describes it as LightGBM trees."""

from __future__ import annotations

from datetime import UTC, datetime

from triage.registry.card import ModelCard
from triage.registry.gates import FAMILY_REASON_TAG, FAMILY_TAG
from triage.registry.tracking import VersionInfo


def _algorithm(tags: dict[str, str]) -> str:
    info = VersionInfo(
        "any_repeat_90d",
        2,
        "run",
        datetime(2025, 1, 1, tzinfo=UTC),
        (),
        {},
        {"label": "any_repeat_90d", **tags},
        {"best_iteration": "34", "calibration": "platt", "seed": "0"},
    )
    card = ModelCard(info, None, (), ()).to_markdown()
    (line,) = [x for x in card.splitlines() if x.startswith("- **Algorithm:**")]
    return line


def test_a_logistic_model_is_described_as_the_regression_with_the_reason() -> None:
    line = _algorithm({FAMILY_TAG: "logistic", FAMILY_REASON_TAG: "LightGBM gained 0.001 AUC"})
    assert line.startswith("- **Algorithm:** elastic-net logistic regression")
    assert "Chosen over LightGBM (34 trees" in line
    assert line.endswith(": LightGBM gained 0.001 AUC.")


def test_a_lightgbm_model_or_one_logged_before_families_is_described_as_trees() -> None:
    for tags in ({FAMILY_TAG: "lightgbm"}, {}):
        line = _algorithm(tags)
        assert line.startswith("- **Algorithm:** LightGBM gradient-boosted trees (34 trees")
