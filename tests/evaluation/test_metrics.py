"""Evaluation metrics, checked by hand on tiny examples."""

from __future__ import annotations

import json
import re
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from evaluation_support import random_validation
from sklearn.metrics import roc_auc_score

import triage.evaluation as evaluation
from triage.evaluation import (
    capacity_weights,
    evaluate,
    expected_calibration_error,
    flag_comparison,
    reliability_table,
    top_n_weights,
)
from triage.evaluation.metrics import MESSAGE_MISSING_COLUMNS, MESSAGE_TRUTH
from triage.exceptions import ConfigError


def test_package_all_is_exactly_its_public_names() -> None:
    public = {
        name
        for name, obj in vars(evaluation).items()
        if not name.startswith("_") and not isinstance(obj, ModuleType)  # submodules
    }
    assert public == set(evaluation.__all__)


def test_ece_by_hand() -> None:
    # bins: [0, .1) holds .05 (y 0): gap .05, weight 1/4
    #       [.1, .2) holds .15, .15 (y 1, 0): gap |.15 - .5| = .35, weight 2/4
    #       [.9, 1] holds .95 (y 1): gap .05, weight 1/4
    ece = expected_calibration_error([0, 1, 0, 1], [0.05, 0.15, 0.15, 0.95])
    assert ece == pytest.approx(0.25 * 0.05 + 0.5 * 0.35 + 0.25 * 0.05)


def test_ece_bins_are_equal_width_with_one_in_the_last() -> None:
    table = reliability_table([0, 1, 1], [0.1, 0.99, 1.0])
    assert list(table["n"]) == [0, 1, 0, 0, 0, 0, 0, 0, 0, 2]
    assert table.loc[9, "mean_score"] == pytest.approx(0.995)
    assert expected_calibration_error([1, 1], [1.0, 1.0]) == 0.0


def test_top_n_shares_a_tied_block_fairly() -> None:
    w = top_n_weights([0.9, 0.5, 0.5, 0.5, 0.1], 2)
    np.testing.assert_allclose(w, [1, 1 / 3, 1 / 3, 1 / 3, 0])
    assert top_n_weights([0.2, 0.1], 5).tolist() == [1.0, 1.0]
    assert top_n_weights([0.2, 0.1], 0).tolist() == [0.0, 0.0]


def test_capacity_weights_take_each_days_top_k_with_ties() -> None:
    days = [1, 1, 1, 1, 2, 2]
    scores = [0.9, 0.5, 0.5, 0.1, 0.3, 0.2]
    w = capacity_weights(days, scores, 2)
    np.testing.assert_allclose(w, [1, 0.5, 0.5, 0, 1, 1])


def _frame(**columns: object) -> pd.DataFrame:
    n = len(next(iter(columns.values())))  # type: ignore[arg-type]
    base = {
        "incident_id": [f"i{i}" for i in range(n)],
        "split": [1] * n,
        "dash_grade": ["standard"] * n,
    }
    frame = pd.DataFrame({**base, **columns})
    for s in ("logistic", "prior"):
        frame[f"score_{s}"] = frame["score_model"]
    return frame


def test_recall_and_precision_at_k_over_days_by_hand() -> None:
    # day 1: top 2 of [0.9 (y0), 0.5 (y1), 0.5 (y0), 0.1 (y1)] -> 1 + 1/2 + 1/2 reviewed,
    #        found 1/2; day 2: both reviewed, found 1. Recall 1.5 / 3, precision 1.5 / 4.
    v = _frame(
        reported_at=pd.to_datetime(["2024-01-01 09:00"] * 4 + ["2024-01-02 23:59"] * 2, utc=True),
        y=[0, 1, 0, 1, 1, 0],
        score_model=[0.9, 0.5, 0.5, 0.1, 0.3, 0.2],
        score_dash=[1.0] * 6,
    )
    ev = evaluate(v, label="x", capacity=2)
    model = ev.pooled("model")
    assert model["recall_at_k"] == pytest.approx(0.5)
    assert model["precision_at_k"] == pytest.approx(0.375)
    dash = ev.pooled("dash")  # all tied: each day reviews k of n at random
    assert dash["recall_at_k"] == pytest.approx((2 / 4 * 2 + 1) / 3)
    curve = ev.capacity_curve[ev.capacity_curve["scorer"] == "model"].set_index("k")
    assert curve.loc[2, "recall"] == pytest.approx(0.5)
    assert curve.loc[4, "recall"] == pytest.approx(1.0)


def test_days_are_utc_calendar_days() -> None:
    v = _frame(
        reported_at=pd.to_datetime(["2024-01-01 23:30", "2024-01-02 00:30"], utc=True),
        y=[1, 1],
        score_model=[0.9, 0.1],
        score_dash=[1.0, 1.0],
    )
    assert evaluate(v, label="x", capacity=1).pooled("model")["recall_at_k"] == 1.0


def test_negative_prediction_error_at_the_dash_flag_rate_by_hand() -> None:
    # 10 incidents, 2 graded high -> flag rate 0.2, so the model flags its top 2.
    y = np.array([1, 0, 1, 1, 0, 0, 0, 1, 0, 0])
    grades = np.array(["high", "high"] + ["standard"] * 8)
    score = np.array([0.1, 0.2, 0.9, 0.8, 0.3, 0.3, 0.2, 0.4, 0.1, 0.1])
    table = flag_comparison(y, grades, {"model": score}).set_index("scorer")
    # DASH flags rows 0, 1: finds 1; unflagged 8 hold 3 escalations -> NPE 3/8
    assert table.loc["dash", "found"] == 1
    assert table.loc["dash", "missed"] == 3
    assert table.loc["dash", "npe"] == pytest.approx(3 / 8)
    # the model flags rows 2, 3: finds 2; unflagged 8 hold 2 -> NPE 2/8
    assert table.loc["model", "flagged"] == 2
    assert table.loc["model", "missed"] == 2
    assert table.loc["model", "npe"] == pytest.approx(2 / 8)
    assert table.loc["model", "flag_rate"] == pytest.approx(0.2)


def test_evaluate_reports_per_split_and_pooled_with_scikit_learn_metrics() -> None:
    v = random_validation()
    truth = pd.DataFrame({"incident_id": v["incident_id"], "p_x": v["score_model"] + 0.0})
    ev = evaluate(v, label="x", capacity=3, truth=truth)
    assert set(ev.metrics["split"]) == {"1", "2", "3", "pooled"}
    assert len(ev.metrics) == 4 * 4
    pooled = ev.pooled("logistic")
    assert pooled["roc_auc"] == pytest.approx(roc_auc_score(v["y"], v["score_logistic"]))
    assert pooled["n"] == len(v)
    assert ev.oracle is not None
    oracle = ev.oracle.set_index("split").loc["pooled"]
    assert oracle["gap"] == pytest.approx(0.0)  # the "truth" here is the model's score
    first = ev.metrics[(ev.metrics["split"] == "1") & (ev.metrics["scorer"] == "model")].iloc[0]
    part = v[v["split"] == 1]
    assert first["roc_auc"] == pytest.approx(roc_auc_score(part["y"], part["score_model"]))


def test_evaluation_renders_to_strict_json() -> None:
    ev = evaluate(random_validation(), label="x", capacity=3)
    text = json.dumps(ev.to_dict(), allow_nan=False)
    data = json.loads(text)
    assert data["headline"]["incidents"] == 600
    assert {"metrics", "capacity_curve", "flags", "reliability"} <= set(data)
    assert "oracle" not in data


def test_capacity_defaults_to_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_CAPACITY", "7")
    assert evaluate(random_validation(), label="x").capacity == 7


def test_missing_columns_are_named() -> None:
    v = random_validation().drop(columns=["score_prior"])
    with pytest.raises(
        ConfigError, match=re.escape(MESSAGE_MISSING_COLUMNS.format(columns=["score_prior"]))
    ):
        evaluate(v, label="x", capacity=3)


def test_a_truth_table_without_the_label_is_refused() -> None:
    v = random_validation()
    with pytest.raises(ConfigError, match=re.escape(MESSAGE_TRUTH.format(column="p_x"))):
        evaluate(v, label="x", capacity=3, truth=pd.DataFrame({"incident_id": ["i0"]}))
