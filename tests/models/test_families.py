"""The simplest model that wins: the family rule, and a logistic bundle that scores,
explains, saves and loads like a LightGBM one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from synth_support import Trained, small_spec, small_world, trained_on

from triage.config import ChampionRule
from triage.evaluation.explain import (
    BASE_VALUE,
    contributions,
    explain_incidents,
    global_explanation,
)
from triage.models.bundle import ModelBundle
from triage.models.families import choose_family, score_column


def _validation(gains: list[float], n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Three splits; LightGBM's scores carry ``gains[s]`` more signal than logistic's."""
    rng = np.random.default_rng(seed)
    frames = []
    for s, gain in enumerate(gains, start=1):
        risk = rng.beta(1, 6, size=n)
        y = (rng.random(n) < risk).astype(np.int8)
        noise = rng.normal(0, 0.15, n)
        frames.append(
            pd.DataFrame(
                {
                    "split": s,
                    "y": y,
                    score_column("logistic"): risk + noise,
                    score_column("lightgbm"): risk + noise * (1 - gain),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_a_family_that_wins_clearly_on_every_split_ships() -> None:
    choice = choose_family(_validation([0.6, 0.6, 0.6]), ChampionRule())
    assert choice.family == "lightgbm"
    assert choice.pooled_auc["lightgbm"] - choice.pooled_auc["logistic"] >= 0.005
    assert "on all 3 judged split(s)" in choice.reason


def test_the_simpler_family_ships_when_the_gain_is_too_small() -> None:
    validation = _validation([0.0, 0.0, 0.0])
    choice = choose_family(validation, ChampionRule())
    assert choice.family == "logistic"
    assert "short of 0.0050" in choice.reason


def test_a_lost_split_keeps_the_simpler_family_unless_the_rule_waives_it() -> None:
    validation = _validation([0.9, 0.9, -0.5])
    gain = _pooled(validation, "lightgbm") - _pooled(validation, "logistic")
    assert gain > 0.005  # pooled it wins; on split 3 it loses
    strict = choose_family(validation, ChampionRule())
    assert strict.family == "logistic"
    assert "won 2 of 3 judged split(s)" in strict.reason
    lenient = choose_family(validation, ChampionRule(split_wins=False))
    assert lenient.family == "lightgbm"


def _pooled(validation: pd.DataFrame, family: str) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(validation["y"], validation[score_column(family)]))


def test_families_are_listed_simplest_first() -> None:
    with pytest.raises(ValidationError, match="simplest first"):
        ChampionRule.model_validate({"families": ["lightgbm", "logistic"]})


@pytest.fixture(scope="module")
def logistic() -> Trained:
    return trained_on(small_world(), small_spec(champion={"families": ["logistic"]}), seed=3)


def test_a_logistic_bundle_scores_with_the_calibrated_regression(logistic: Trained) -> None:
    bundle = logistic.result.bundle
    assert bundle.family == "logistic"
    X = logistic.matrix.X
    np.testing.assert_allclose(bundle.predict_proba(X), bundle.logistic.predict_proba(X), atol=0)
    validation = logistic.result.validation
    np.testing.assert_array_equal(validation["score_model"], validation["score_logistic"])
    assert logistic.result.family.family == "logistic"


def test_linear_contributions_are_exact(logistic: Trained) -> None:
    bundle = logistic.result.bundle
    rows = logistic.matrix.X.iloc[:200]
    contrib = contributions(bundle, rows)
    np.testing.assert_allclose(contrib.sum(axis=1), bundle.predict_raw(rows), atol=1e-9)
    assert (contrib[BASE_VALUE] == bundle.logistic.intercept).all()
    used = {c.split("=")[0].removesuffix("__missing") for c in bundle.logistic.columns}
    unused = [c for c in rows.columns if c not in used]
    assert (contrib[unused] == 0).all().all()


def test_a_logistic_bundle_explains_in_plain_words(logistic: Trained) -> None:
    bundle = logistic.result.bundle
    rows = logistic.matrix.X.iloc[:30]
    explained = explain_incidents(bundle, rows, logistic.matrix.catalogue, top=3)
    exact = contributions(bundle, rows).drop(columns=BASE_VALUE)
    for i, explanation in enumerate(explained):
        assert explanation.raw_score == pytest.approx(bundle.predict_raw(rows.iloc[[i]])[0])
        for reason in explanation.reasons:
            assert reason.text
            assert reason.contribution == pytest.approx(exact.iloc[i][reason.feature])
    summary = global_explanation(bundle, logistic.matrix.X, logistic.matrix.catalogue, sample=300)
    assert summary.sample_size == 300
    assert summary.beeswarm_png.startswith(b"\x89PNG")


def test_the_family_survives_saving_and_loading(logistic: Trained, tmp_path: Path) -> None:
    bundle = logistic.result.bundle
    loaded = ModelBundle.load(bundle.save(tmp_path / "bundle"))
    assert loaded.family == "logistic"
    assert loaded.metadata["family_reason"] == logistic.result.family.reason
    X = logistic.matrix.X.iloc[:100]
    np.testing.assert_array_equal(loaded.predict_proba(X), bundle.predict_proba(X))
