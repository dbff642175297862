"""The audit's per-group point estimates with fairlearn ``MetricFrame``.

``y_true`` is the escalation label and ``y_pred`` the flag at the operating point
(a share in [0, 1]: incidents tied at the daily cut are reviewed in part, so every
count below is an expected count);
the score and the daily-top-k flag travel as sample parameters. The functions return
NaN, never warn, where a metric is undefined (no positives, nothing flagged, one
class only), so a small group cannot break an audit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from fairlearn.metrics import MetricFrame
from sklearn.metrics import roc_auc_score

__all__ = ["FRAME_METRICS", "metric_frame"]

Arr = npt.NDArray[Any]


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den > 0 else float("nan")


def _b(a: Arr) -> npt.NDArray[np.bool_]:
    return np.asarray(a).astype(bool)


def n(y_true: Arr, y_pred: Arr) -> float:
    return float(len(y_true))


def positives(y_true: Arr, y_pred: Arr) -> float:
    return float(_b(y_true).sum())


def base_rate(y_true: Arr, y_pred: Arr) -> float:
    return _ratio(_b(y_true).sum(), len(y_true))


def mean_score(y_true: Arr, y_pred: Arr, *, score: Arr) -> float:
    return _ratio(np.asarray(score, dtype=np.float64).sum(), len(y_true))


def _f(a: Arr) -> npt.NDArray[np.float64]:
    return np.asarray(a, dtype=np.float64)


def selection_rate(y_true: Arr, y_pred: Arr) -> float:
    return _ratio(_f(y_pred).sum(), len(y_pred))


def fnr(y_true: Arr, y_pred: Arr) -> float:
    y, p = _f(y_true), _f(y_pred)
    return _ratio((y * (1 - p)).sum(), y.sum())


def fpr(y_true: Arr, y_pred: Arr) -> float:
    y, p = _f(y_true), _f(y_pred)
    return _ratio(((1 - y) * p).sum(), (1 - y).sum())


def precision(y_true: Arr, y_pred: Arr) -> float:
    y, p = _f(y_true), _f(y_pred)
    return _ratio((y * p).sum(), p.sum())


def fdr(y_true: Arr, y_pred: Arr) -> float:
    y, p = _f(y_true), _f(y_pred)
    return _ratio(((1 - y) * p).sum(), p.sum())


def calibration(y_true: Arr, y_pred: Arr, *, score: Arr) -> float:
    return _ratio(mean_score(y_true, y_pred, score=score), base_rate(y_true, y_pred))


def auc(y_true: Arr, y_pred: Arr, *, score: Arr) -> float:
    y = _b(y_true)
    if y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, np.asarray(score, dtype=np.float64)))


def capacity_recall(y_true: Arr, y_pred: Arr, *, top_k: Arr) -> float:
    y = _f(y_true)
    return _ratio((y * _f(top_k)).sum(), y.sum())


#: metric name -> (function, the sample parameter it needs or None)
FRAME_METRICS: dict[str, tuple[Callable[..., float], str | None]] = {
    "n": (n, None),
    "positives": (positives, None),
    "base_rate": (base_rate, None),
    "mean_score": (mean_score, "score"),
    "selection_rate": (selection_rate, None),
    "fnr": (fnr, None),
    "fpr": (fpr, None),
    "precision": (precision, None),
    "fdr": (fdr, None),
    "calibration": (calibration, "score"),
    "auc": (auc, "score"),
    "capacity_recall": (capacity_recall, "top_k"),
}


def metric_frame(
    y: Arr,
    flag: Arr,
    groups: pd.Series,
    *,
    score: Arr,
    top_k: Arr,
    metrics: Sequence[str] | None = None,
    n_boot: int | None = None,
    ci_quantiles: list[float] | None = None,
    random_state: int | None = None,
) -> MetricFrame:
    """A ``MetricFrame`` of the audit metrics (all by default) over ``groups``."""
    names = list(FRAME_METRICS) if metrics is None else list(metrics)
    params = {"score": np.asarray(score), "top_k": np.asarray(top_k)}
    sample_params = {
        name: {need: params[need]} for name in names if (need := FRAME_METRICS[name][1]) is not None
    }
    return MetricFrame(
        metrics={name: FRAME_METRICS[name][0] for name in names},
        y_true=np.asarray(y, dtype=bool),
        y_pred=np.asarray(flag, dtype=np.float64),
        sensitive_features=groups,
        sample_params=sample_params,
        n_boot=n_boot,
        ci_quantiles=ci_quantiles,
        random_state=random_state,
    )
