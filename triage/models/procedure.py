"""One fit of the procedure in :mod:`triage.models.training`: split the training rows into
fit rows and a calibration slice, fit LightGBM (over the grid, early-stopped on the
slice), fit the logistic baseline, and calibrate everything on the slice."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, TypeVar

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel

from triage.config import LightGBMParams, ModelSpec
from triage.exceptions import ConfigError
from triage.models.baselines import LogisticBaseline
from triage.models.calibrators import Calibrator, fit_calibrator

__all__ = ["Fold", "booster_params", "fit_fold"]

logger = logging.getLogger(__name__)

Float = npt.NDArray[np.float64]
Rows = npt.NDArray[np.int64]
_S = TypeVar("_S", bound=BaseModel)

#: fewest fit rows (and positives among them) a fold needs
MIN_FIT_ROWS = 50
MIN_POSITIVES = 5


@dataclass(frozen=True)
class Fold:
    """One fitted fold: the booster (as text and loaded), its calibrator, the
    baselines, and what was chosen (``params``, ``best_iteration``, slice log loss)."""

    name: str
    horizon: str
    fit_rows: int
    slice_rows: int
    fit_from: str
    slice_from: str
    slice_to: str
    params: dict[str, Any]
    best_iteration: int
    slice_log_loss: float
    grid_log_loss: tuple[float, ...]
    booster_text: str
    booster: lgb.Booster
    calibrator: Calibrator
    logistic: LogisticBaseline
    dash_calibrator: Calibrator
    prior_calibrator: Calibrator
    seconds: dict[str, float]


def booster_params(p: LightGBMParams, seed: int) -> dict[str, Any]:
    """LightGBM parameters for ``p`` (no upweighting unless ``scale_pos_weight`` says)."""
    return {
        "objective": "binary",
        "metric": "binary_logloss",
        "learning_rate": p.learning_rate,
        "num_leaves": p.num_leaves,
        "min_data_in_leaf": p.min_child_samples,
        "feature_fraction": p.feature_fraction,
        "bagging_fraction": p.bagging_fraction,
        "bagging_freq": p.bagging_freq,
        "lambda_l2": p.lambda_l2,
        "max_bin": p.max_bin,
        "scale_pos_weight": p.scale_pos_weight,
        "num_threads": p.num_threads,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "verbosity": -1,
    }


def _candidates(spec: ModelSpec) -> list[LightGBMParams]:
    base = spec.model.lightgbm
    out = [base]
    for point in spec.model.grid:
        update = {k: v for k, v in point.model_dump().items() if v is not None}
        out.append(base.model_copy(update=update))
    return out


def fit_fold(
    X: pd.DataFrame,
    y: Float,
    reported: pd.Series,
    rows: Rows,
    horizon: pd.Timestamp,
    spec: ModelSpec,
    dash: Float,
    prior: Float,
    seed: int,
    name: str,
) -> Fold:
    """Fit the booster and baselines on ``rows`` (labels observed by ``horizon``)."""
    cal = spec.model.calibration
    start = horizon - pd.Timedelta(days=cal.slice_days)
    when = reported.iloc[rows]
    fit = rows[(when < start).to_numpy()]
    sl = rows[(when >= start).to_numpy()]
    _check_rows(name, fit, sl, y, start)
    started = time.perf_counter()
    X_fit, X_sl = X.iloc[fit], X.iloc[sl]
    y_fit, y_sl = y[fit], y[sl]

    best: tuple[float, int, lgb.Booster, dict[str, Any]] | None = None
    losses = []
    for candidate in _candidates(spec):
        params = booster_params(candidate, seed)
        train_set = lgb.Dataset(X_fit, y_fit, params=params, free_raw_data=True)
        valid_set = lgb.Dataset(X_sl, y_sl, reference=train_set)
        booster = lgb.train(
            params,
            train_set,
            num_boost_round=candidate.max_rounds,
            valid_sets=[valid_set],
            valid_names=["slice"],
            callbacks=[lgb.early_stopping(candidate.early_stopping_rounds, verbose=False)],
        )
        loss = float(booster.best_score["slice"]["binary_logloss"])
        losses.append(loss)
        if best is None or loss < best[0]:
            best = (loss, booster.best_iteration, booster, params)
    assert best is not None
    loss, rounds, booster, params = best
    text = booster.model_to_string(num_iteration=rounds)
    booster = lgb.Booster(model_str=text)
    raw = np.asarray(booster.predict(X_sl, raw_score=True), dtype=np.float64)
    calibrator = fit_calibrator(cal.method, raw, y_sl)
    boosted = time.perf_counter()

    logistic = LogisticBaseline.fit(X_fit, y_fit, spec.model.logistic, seed=seed)
    logistic = logistic.with_calibrator(
        fit_calibrator(cal.method, logistic.decision_function(X_sl), y_sl)
    )
    seconds = {"booster": boosted - started, "logistic": time.perf_counter() - boosted}
    logger.info(
        "%s: %d fit rows, %d slice rows, %d rounds, slice log loss %.4f",
        name,
        len(fit),
        len(sl),
        rounds,
        loss,
    )
    return Fold(
        name=name,
        horizon=horizon.isoformat(),
        fit_rows=len(fit),
        slice_rows=len(sl),
        fit_from=reported.iloc[fit].min().isoformat(),
        slice_from=start.isoformat(),
        slice_to=reported.iloc[sl].max().isoformat(),
        params={k: v for k, v in params.items() if k != "verbosity"},
        best_iteration=int(rounds),
        slice_log_loss=loss,
        grid_log_loss=tuple(losses),
        booster_text=text,
        booster=booster,
        calibrator=calibrator,
        logistic=logistic,
        dash_calibrator=fit_calibrator(cal.method, dash[sl], y_sl),
        prior_calibrator=fit_calibrator(cal.method, prior[sl], y_sl),
        seconds=seconds,
    )


def _check_rows(name: str, fit: Rows, sl: Rows, y: Float, start: pd.Timestamp) -> None:
    where = f"{name}: calibration slice from {start:%Y-%m-%d}"
    if len(fit) < MIN_FIT_ROWS or y[fit].sum() < MIN_POSITIVES:
        raise ConfigError(
            f"{where} leaves {len(fit)} fit rows ({int(y[fit].sum())} positive) before it; "
            "shorten calibration.slice_days or use fewer / later splits"
        )
    positives = int(y[sl].sum())
    if positives == 0 or positives == len(sl):
        raise ConfigError(
            f"{where} has {len(sl)} rows with {positives} positive: calibration needs both "
            "outcomes; lengthen calibration.slice_days"
        )
