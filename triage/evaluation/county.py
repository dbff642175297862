"""The calibration report's facts that need a model (docs/architecture.md §11): how
well the elastic-net logistic baseline predicts ``serious_harm_365d`` out of time on
an extract, how its misses compare with DASH's at DASH's flag rate, and how much room
the ground truth leaves above it. Published studies set the bands (``BANDS`` in
:mod:`triage.synth.facts`): a county far easier or harder to predict than real
forces would flatter or sink every figure the project reports.

The baseline is fitted exactly as training fits it (same features, splits and
settings), once per validation split, and scored on that split's test rows; the
figures pool the test rows of every split.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from triage.config import ModelSpec, SpecSource, read_spec
from triage.contract.harm import HarmWeights, load_harm_weights
from triage.contract.names import Extract
from triage.contract.truth import truth_column
from triage.exceptions import ConfigError
from triage.features.build import build_features
from triage.features.labels import build_labels
from triage.models.baselines import LogisticBaseline
from triage.models.temporal import make_splits
from triage.synth.facts import BANDS, Fact

__all__ = ["MODEL_FACTS", "model_facts"]

#: the facts this module adds to the calibration report (keys of ``BANDS``)
MODEL_FACTS = ("auc_logistic", "npe_ratio", "truth_room")


def model_facts(
    extract: Extract,
    truth: pd.DataFrame | None = None,
    *,
    spec: SpecSource = None,
    harm: HarmWeights | None = None,
) -> list[Fact]:
    """The model facts of ``extract`` (``truth_room`` only with a truth table), or an
    empty list when the extract is too short for the spec's validation splits."""
    model_spec, _ = read_spec(spec, ModelSpec, "models/escalation.yaml")
    label = next(lab for lab in model_spec.labels if lab.name == "serious_harm_365d")
    harm = harm or load_harm_weights()
    labels = build_labels(extract, label, harm_weights=harm)
    try:
        plan = make_splits(labels, label, model_spec.splits)
    except ConfigError:
        return []  # too short a world to validate on: the report leaves these out
    matrix = build_features(extract, harm_weights=harm)
    y = labels[label.name].to_numpy(dtype=np.float64, na_value=np.nan)
    rows, scores = [], []
    for split in plan.splits:
        fit_y = y[split.train]
        test = split.test[np.isfinite(y[split.test])]
        if np.unique(fit_y).size < 2 or not test.size:
            continue
        model = LogisticBaseline.fit(matrix.X.iloc[split.train], fit_y, model_spec.model.logistic)
        rows.append(test)
        scores.append(model.decision_function(matrix.X.iloc[test]))
    if not rows:
        return []
    test_rows = np.concatenate(rows)
    score = np.concatenate(scores)
    yy = y[test_rows]
    values: dict[str, float] = {"auc_logistic": _auc(yy, score)}
    grades = extract.incidents["dash_grade"].astype(str).to_numpy()[test_rows]
    values["npe_ratio"] = _npe_ratio(yy, grades, score)
    if truth is not None:
        column = truth_column(label.name)
        by_id = truth.set_index(truth["incident_id"].astype(str))[column]
        ids = extract.incidents["incident_id"].astype(str).to_numpy()[test_rows]
        p = by_id.reindex(ids).to_numpy(dtype=np.float64)
        known = np.isfinite(p)
        values["truth_room"] = _auc(yy[known], p[known]) - _auc(yy[known], score[known])
    return [
        Fact(k, BANDS[k][0], v, BANDS[k][1], BANDS[k][2], BANDS[k][3])
        for k, v in values.items()
        if np.isfinite(v)
    ]


def _npe_ratio(y: np.ndarray, grades: np.ndarray, score: np.ndarray) -> float:
    """The model's negative prediction error over DASH's when the model flags as many
    incidents as DASH grades ``high`` (the top-scored ones): below 1, fewer
    escalations among the incidents it leaves unflagged."""
    dash = grades == "high"
    n_flag = int(dash.sum())
    if not 0 < n_flag < y.size:
        return float("nan")
    dash_npe = float(y[~dash].mean())
    model_flag = np.zeros(y.size, dtype=bool)
    model_flag[np.argsort(-score, kind="stable")[:n_flag]] = True
    model_npe = float(y[~model_flag].mean())
    return model_npe / dash_npe if dash_npe > 0 else float("nan")


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    if np.unique(y).size < 2:
        return float("nan")
    return float(roc_auc_score(y, score))
