"""The baselines every evaluation shows beside the model (docs/architecture.md §7): the DASH grade,
the count of prior incidents, and an elastic-net logistic regression.

The logistic baseline is saved as JSON (medians, scaling, coefficients): scoring is
a dot product in numpy, so a saved baseline needs neither scikit-learn objects nor
pickles to score.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from triage.config import LabelSpec, LogisticSpec
from triage.exceptions import ConfigError
from triage.models.calibrators import Calibrator, calibrator_from_json

__all__ = [
    "DASH_SCORE",
    "SCORERS",
    "LogisticBaseline",
    "dash_score",
    "prior_count",
    "prior_count_formula",
]

logger = logging.getLogger(__name__)

Float = npt.NDArray[np.float64]

#: every scorer of a report: the model, then its baselines (column ``score_<name>``)
SCORERS: tuple[str, ...] = ("model", "logistic", "dash", "prior")

#: DASH grades as an ordinal risk score. An incident without a completed DASH is
#: ranked with ``standard``: DASH raised no concern about it, and it is unflagged.
DASH_SCORE: dict[str, float] = {"not_completed": 1.0, "standard": 1.0, "medium": 2.0, "high": 3.0}

#: preferred windows for the prior-incident count, most preferred first
_PRIOR_WINDOWS = ("365d", "all", "90d", "30d")


def dash_score(grades: pd.Series) -> Float:
    """The ordinal score of each DASH grade (see :data:`DASH_SCORE`); missing -> 1."""
    mapped = grades.astype("string").map(DASH_SCORE)
    return np.asarray(mapped.astype("Float64").fillna(1.0).to_numpy(dtype=np.float64))


def prior_count_formula(columns: pd.Index, label: LabelSpec) -> tuple[list[str], list[str]]:
    """The count features (added, subtracted) that match ``label``: earlier incidents
    involving the same people the label matches on.

    Victim or perpetrator is counted as victim + perpetrator - pair, so incidents of
    the pair itself are counted once.
    """
    for window in _PRIOR_WINDOWS:

        def name(entity: str, w: str = window) -> str:
            return f"{entity}_count_{w}"

        match = set(label.match)
        people = sorted(match - {"pair"}) or ["pair"]
        plus = [name(e) for e in people]
        minus = [name("pair")] if len(people) == 2 else []
        if all(c in columns for c in plus) and all(c in columns for c in minus):
            return plus, minus
    raise ConfigError(
        f"the feature matrix has no prior-incident counts for label {label.name!r} "
        f"(e.g. victim_count_365d); add `count` to the feature spec's history"
    )


def prior_count(X: pd.DataFrame, plus: list[str], minus: list[str]) -> Float:
    """The prior-incident count of each row, from :func:`prior_count_formula` columns."""
    total = np.zeros(len(X), dtype=np.float64)
    for c in plus:
        total += X[c].to_numpy(dtype=np.float64)
    for c in minus:
        total -= X[c].to_numpy(dtype=np.float64)
    return total


@dataclass(frozen=True)
class LogisticBaseline:
    """Elastic-net logistic regression on standardised numeric features (missing ->
    training median plus a missing indicator; optionally ``sign(x) log(1 + |x|)``
    first, so counts and harm sums act on a log scale) and one-hot categories."""

    numeric: tuple[str, ...]
    medians: tuple[float, ...]
    indicators: tuple[str, ...]
    categorical: tuple[tuple[str, tuple[str, ...]], ...]
    log_transform: bool
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    settings: tuple[tuple[str, float], ...] = ()
    calibrator: Calibrator | None = None

    @property
    def columns(self) -> list[str]:
        """Names of the design matrix's columns, in order."""
        return [
            *self.numeric,
            *(f"{c}__missing" for c in self.indicators),
            *(f"{name}={cat}" for name, cats in self.categorical for cat in cats),
        ]

    def design(self, X: pd.DataFrame) -> Float:
        """The standardised design matrix of ``X``."""
        out = _unstandardised(
            X, self.numeric, self.medians, self.indicators, self.categorical, self.log_transform
        )
        out -= np.asarray(self.mean)
        out /= np.asarray(self.scale)
        return out

    def decision_function(self, X: pd.DataFrame) -> Float:
        """The log-odds of the fitted regression (before calibration)."""
        out: Float = self.design(X) @ np.asarray(self.coef) + self.intercept
        return out

    def predict_proba(self, X: pd.DataFrame) -> Float:
        """Calibrated probabilities (the regression's own if no calibrator is set)."""
        return self.calibrated(self.decision_function(X))

    def calibrated(self, z: Float) -> Float:
        """Probabilities of the log-odds ``z`` through the calibrator (or the
        logistic function when none is set)."""
        if self.calibrator is not None:
            return self.calibrator(z)
        out: Float = 1.0 / (1.0 + np.exp(-z))
        return out

    def contributions(self, X: pd.DataFrame) -> Float:
        """Exact linear contributions to :meth:`decision_function`: per column of
        ``X``, the sum of coefficient times standardised value over the design
        columns it makes (value, missing flag, one-hot categories), then the
        intercept as the base value (last column). Rows sum to the log-odds."""
        design = self.design(X) * np.asarray(self.coef)
        owners = [
            *self.numeric,
            *self.indicators,
            *(name for name, cats in self.categorical for _ in cats),
        ]
        position = {name: j for j, name in enumerate(X.columns)}
        out = np.zeros((len(X), len(X.columns) + 1), dtype=np.float64)
        np.add.at(out.T, [position[o] for o in owners], design.T)
        out[:, -1] = self.intercept
        return out

    def with_calibrator(self, calibrator: Calibrator) -> LogisticBaseline:
        return replace(self, calibrator=calibrator)

    @classmethod
    def fit(
        cls, X: pd.DataFrame, y: npt.ArrayLike, spec: LogisticSpec, *, seed: int = 0
    ) -> LogisticBaseline:
        """Fit on ``X`` (a feature frame) and 0/1 outcomes ``y``."""
        categorical = tuple(
            (str(c), tuple(str(v) for v in X[c].cat.categories))
            for c in X.columns
            if isinstance(X[c].dtype, pd.CategoricalDtype)
        )
        cat_names = {c for c, _ in categorical}
        numeric = tuple(str(c) for c in X.columns if c not in cat_names)
        if len(X) > spec.max_rows:
            rng = np.random.default_rng(seed)
            keep = np.sort(rng.choice(len(X), size=spec.max_rows, replace=False))
            X = X.iloc[keep]
            y = np.asarray(y)[keep]
        values = X[list(numeric)].to_numpy(dtype=np.float64, na_value=np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-missing column
            medians = np.nanmedian(values, axis=0) if len(values) else np.zeros(len(numeric))
        medians = np.where(np.isnan(medians), 0.0, medians)
        has_missing = np.isnan(values).any(axis=0)
        del values
        indicators = tuple(c for c, m in zip(numeric, has_missing, strict=True) if m)
        med = tuple(float(v) for v in medians)
        design = _unstandardised(X, numeric, med, indicators, categorical, spec.log_transform)
        mean = design.mean(axis=0)
        scale = design.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        design -= mean
        design /= scale
        model = LogisticRegression(
            C=spec.C,
            l1_ratio=spec.l1_ratio,
            solver="saga",
            tol=spec.tol,
            max_iter=spec.max_iter,
            random_state=seed,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(design, np.asarray(y, dtype=np.float64))
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            logger.warning(
                "logistic baseline did not converge in %d iterations (tol %g)",
                spec.max_iter,
                spec.tol,
            )
        return cls(
            numeric=numeric,
            medians=med,
            indicators=indicators,
            categorical=categorical,
            log_transform=spec.log_transform,
            mean=tuple(float(v) for v in mean),
            scale=tuple(float(v) for v in scale),
            coef=tuple(float(v) for v in model.coef_.ravel()),
            intercept=float(model.intercept_[0]),
            settings=tuple((k, float(v)) for k, v in spec.model_dump().items()),
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_json` rebuilds an identical baseline."""
        return {
            "kind": "elastic_net_logistic",
            "numeric": [
                {"name": n, "median": m, "missing_indicator": n in self.indicators}
                for n, m in zip(self.numeric, self.medians, strict=True)
            ],
            "categorical": [{"name": n, "categories": list(c)} for n, c in self.categorical],
            "log_transform": self.log_transform,
            "columns": self.columns,
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "settings": dict(self.settings),
            "calibrator": None if self.calibrator is None else self.calibrator.to_json(),
        }

    @classmethod
    def from_json(cls, data: Any) -> LogisticBaseline:
        """Rebuild from :meth:`to_json`; ``ValueError`` if the structure is wrong."""
        try:
            numeric = tuple(str(d["name"]) for d in data["numeric"])
            out = cls(
                numeric=numeric,
                medians=tuple(float(d["median"]) for d in data["numeric"]),
                indicators=tuple(str(d["name"]) for d in data["numeric"] if d["missing_indicator"]),
                categorical=tuple(
                    (str(d["name"]), tuple(str(c) for c in d["categories"]))
                    for d in data["categorical"]
                ),
                log_transform=bool(data["log_transform"]),
                mean=tuple(float(v) for v in data["mean"]),
                scale=tuple(float(v) for v in data["scale"]),
                coef=tuple(float(v) for v in data["coef"]),
                intercept=float(data["intercept"]),
                settings=tuple((str(k), float(v)) for k, v in data["settings"].items()),
                calibrator=None
                if data["calibrator"] is None
                else calibrator_from_json(data["calibrator"]),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a logistic baseline: {exc!r}") from None
        width = len(out.columns)
        if not (len(out.mean) == len(out.scale) == len(out.coef) == width):
            raise ValueError(f"a logistic baseline needs {width} means, scales and coefficients")
        return out


def _unstandardised(
    X: pd.DataFrame,
    numeric: tuple[str, ...],
    medians: tuple[float, ...],
    indicators: tuple[str, ...],
    categorical: tuple[tuple[str, tuple[str, ...]], ...],
    log_transform: bool,
) -> Float:
    """The design matrix before standardisation, built in one allocation."""
    k = len(numeric)
    width = k + len(indicators) + sum(len(c) for _, c in categorical)
    out = np.zeros((len(X), width), dtype=np.float64)
    values = out[:, :k]
    values[:] = X[list(numeric)].to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(values)
    index = {c: i for i, c in enumerate(numeric)}
    out[:, k : k + len(indicators)] = missing[:, [index[c] for c in indicators]]
    np.copyto(values, np.broadcast_to(np.asarray(medians), values.shape), where=missing)
    del missing
    if log_transform:
        signs = np.sign(values)
        np.abs(values, out=values)
        np.log1p(values, out=values)
        values *= signs
    col = k + len(indicators)
    for name, cats in categorical:
        codes = X[name].astype(pd.CategoricalDtype(list(cats))).cat.codes.to_numpy(np.int64)
        rows = np.flatnonzero(codes >= 0)
        out[rows, col + codes[rows]] = 1.0
        col += len(cats)
    return out
