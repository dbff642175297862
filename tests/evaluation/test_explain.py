"""Explanations: exact contributions, the reasons shown, their wording, the SHAP summary."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from synth_support import small_world

from triage.config import load_model_spec
from triage.evaluation.explain import (
    BASE_VALUE,
    contributions,
    describe_value,
    explain_incidents,
    for_unknown_suspect,
    global_explanation,
)
from triage.features.build import FeatureMatrix, build_features
from triage.features.catalogue import FeatureInfo
from triage.features.labels import build_labels

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@cache
def _model() -> tuple[lgb.Booster, FeatureMatrix]:
    world = small_world()
    matrix = build_features(world.extract)
    spec = load_model_spec()
    labels = build_labels(world.extract, spec.target)[spec.label]
    known = labels.notna().to_numpy()
    params = {
        "objective": "binary",
        "verbose": -1,
        "seed": 1,
        "deterministic": True,
        "num_threads": 1,
        "min_data_in_leaf": 20,
    }
    data = lgb.Dataset(matrix.X[known], labels[known].astype(int))
    return lgb.train(params, data, num_boost_round=40), matrix


def test_base_value_plus_contributions_equals_the_raw_score() -> None:
    booster, matrix = _model()
    contrib = contributions(booster, matrix.X)
    raw = booster.predict(matrix.X, raw_score=True)
    np.testing.assert_allclose(contrib.sum(axis=1).to_numpy(), raw, rtol=0, atol=1e-6)
    explained = explain_incidents(booster, matrix.X.iloc[:50], matrix.catalogue)
    np.testing.assert_allclose([e.raw_score for e in explained], raw[:50], rtol=0, atol=1e-6)
    assert contrib[BASE_VALUE].nunique() == 1


def test_reasons_are_the_largest_contributions_with_their_sign() -> None:
    booster, matrix = _model()
    rows = matrix.X.iloc[100:160]
    contrib = contributions(booster, rows).drop(columns=BASE_VALUE)
    explained = explain_incidents(booster, rows, matrix.catalogue, top=4)
    for (_, phi), explanation in zip(contrib.iterrows(), explained, strict=True):
        magnitudes = phi.abs().sort_values(ascending=False, kind="stable")
        shown = [r.feature for r in explanation.reasons]
        assert shown == list(magnitudes.index[: len(shown)])
        assert len(shown) == min(4, int((magnitudes > 0).sum()))
        for reason in explanation.reasons:
            assert reason.contribution == pytest.approx(phi[reason.feature])
            assert reason.direction == ("raises" if reason.contribution > 0 else "lowers")


def test_reason_text_fills_the_catalogue_template_with_the_value() -> None:
    booster, matrix = _model()
    rows = matrix.X.iloc[:300]
    explained = explain_incidents(booster, rows, matrix.catalogue, top=len(matrix.catalogue))
    info = {f.name: f for f in matrix.catalogue}
    for (_, row), explanation in zip(rows.iloc[:20].iterrows(), explained, strict=False):
        for reason in explanation.reasons:
            text = describe_value(info[reason.feature], row[reason.feature])
            if not row["perpetrator_known"]:  # an unknown suspect's record is not clean
                text = for_unknown_suspect(replace(reason, text=text)).text
            assert reason.text == text
    texts = {r.feature: r.text for e in explained for r in e.reasons}
    assert texts["incident_type"].startswith("incident type: ")
    assert "_" not in texts["incident_type"]  # categories read as words
    assert "{value}" not in "".join(texts.values())
    assert json.loads(json.dumps(explained[0].to_dict()))["reasons"]


def _info(name: str, description: str, **kw: object) -> FeatureInfo:
    fields: dict[str, object] = {
        "entity": "incident",
        "window": None,
        "aggregate": name,
        "dtype": "float64",
    }
    fields.update(kw)
    return FeatureInfo(name, description, **fields)  # type: ignore[arg-type]


def test_wording_of_counts_flags_categories_and_missing_values() -> None:
    count = _info(
        "perpetrator_count_90d",
        "{value} earlier incidents involving this perpetrator in the last 90 days",
        entity="perpetrator",
        aggregate="count",
    )
    assert describe_value(count, np.int32(3)) == (
        "3 earlier incidents involving this perpetrator in the last 90 days"
    )
    assert describe_value(count, 1) == (
        "1 earlier incident involving this perpetrator in the last 90 days"
    )
    flag = _info(
        "strangulation",
        "strangulation reported in this incident",
        absent="no strangulation reported in this incident",
    )
    assert describe_value(flag, np.int8(1)) == "strangulation reported in this incident"
    assert describe_value(flag, np.int8(0)) == "no strangulation reported in this incident"
    dash = _info("dash_q01", "DASH yes: injury", absent="DASH no: injury")
    assert describe_value(dash, np.float32("nan")) == "DASH yes: injury (not recorded)"
    kind = _info("relationship", "relationship: {value}", dtype="category")
    assert describe_value(kind, "ex_partner") == "relationship: ex partner"
    since = _info(
        "victim_days_since_last",
        "{value} days since the last earlier incident involving this victim",
        entity="victim",
        aggregate="days_since_last",
    )
    assert describe_value(since, float("nan")) == "no earlier incident involving this victim"
    age = _info("victim_age", "victim aged {value} at this incident", aggregate="ages")
    assert describe_value(age, np.nan) == "victim's age not recorded"
    assert describe_value(age, 34.0) == "victim aged 34 at this incident"


def test_top_must_be_positive_and_columns_must_match() -> None:
    booster, matrix = _model()
    with pytest.raises(ValueError, match="top"):
        explain_incidents(booster, matrix.X.iloc[:2], matrix.catalogue, top=0)
    with pytest.raises(ValueError, match="missing"):
        contributions(booster, matrix.X.iloc[:2, 1:])


def test_global_explanation_gives_plots_and_a_json_summary() -> None:
    booster, matrix = _model()
    result = global_explanation(booster, matrix.X, matrix.catalogue, sample=400, max_display=12)
    assert result.sample_size == 400
    assert result.beeswarm_png.startswith(PNG_MAGIC)
    assert result.bar_png.startswith(PNG_MAGIC)
    values = list(result.mean_abs_shap.values())
    assert values == sorted(values, reverse=True)
    assert set(result.mean_abs_shap) == set(matrix.X.columns)
    # TreeExplainer on the sample agrees with the booster's exact contributions
    rows = matrix.X.sample(n=400, random_state=0)
    exact = contributions(booster, rows).drop(columns=BASE_VALUE).abs().mean()
    top = next(iter(result.mean_abs_shap))
    assert result.mean_abs_shap[top] == pytest.approx(exact[top], rel=1e-6)
    summary = json.loads(json.dumps(result.to_dict()))
    assert summary["features"][0]["feature"] == top
    assert summary["features"][0]["description"]
    assert not any("{" in f["description"] for f in summary["features"])  # no raw template


def test_explanations_accept_a_single_new_incident() -> None:
    booster, matrix = _model()
    one = matrix.X.iloc[[7]]
    (explanation,) = explain_incidents(booster, one, matrix.catalogue, ids=["I7"])
    assert explanation.incident == "I7"
    assert explanation.reasons
    assert isinstance(one, pd.DataFrame)
