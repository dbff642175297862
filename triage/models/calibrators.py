"""Calibrators: monotone maps from a raw score to a probability, fitted on
out-of-time data and saved as plain JSON (never pickled).

* Platt: ``p = 1 / (1 + exp(-(a * s + b)))``, fitted by maximum likelihood (Newton's
  method on two parameters). For a positive ``a`` it keeps the ranking exactly.
* Isotonic: the pool-adjacent-violators fit of scikit-learn, stored as its
  thresholds and applied by linear interpolation between them (clipped at the ends),
  as ``IsotonicRegression(out_of_bounds="clip")`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.isotonic import IsotonicRegression

__all__ = [
    "Calibrator",
    "IsotonicCalibrator",
    "PlattCalibrator",
    "calibrator_from_json",
    "fit_calibrator",
]

Float = npt.NDArray[np.float64]

_NEWTON_STEPS = 100


def _sigmoid(z: Float) -> Float:
    out: Float = np.exp(-np.logaddexp(0.0, -z))
    return out


@dataclass(frozen=True)
class PlattCalibrator:
    """``p = sigmoid(a * score + b)``."""

    a: float
    b: float

    kind = "platt"

    def __call__(self, score: npt.ArrayLike) -> Float:
        return _sigmoid(self.a * np.asarray(score, dtype=np.float64) + self.b)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "a": self.a, "b": self.b}

    @classmethod
    def fit(cls, score: Float, y: Float) -> PlattCalibrator:
        """Maximum-likelihood logistic fit of ``y`` on ``score`` (damped Newton)."""
        rate = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
        w = np.array([0.0, np.log(rate / (1 - rate))])
        design = np.column_stack([score, np.ones_like(score)])
        for _ in range(_NEWTON_STEPS):
            p = _sigmoid(design @ w)
            grad = design.T @ (y - p)
            hess = (design * (p * (1 - p))[:, None]).T @ design + 1e-9 * np.eye(2)
            step = np.linalg.solve(hess, grad)
            w = w + step
            if np.max(np.abs(step)) < 1e-10:
                break
        return cls(float(w[0]), float(w[1]))


@dataclass(frozen=True)
class IsotonicCalibrator:
    """A non-decreasing piecewise-linear map through ``(x, y)`` thresholds."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    kind = "isotonic"

    def __call__(self, score: npt.ArrayLike) -> Float:
        s = np.asarray(score, dtype=np.float64)
        out: Float = np.interp(s, np.asarray(self.x), np.asarray(self.y))
        return out

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "x": list(self.x), "y": list(self.y)}

    @classmethod
    def fit(cls, score: Float, y: Float) -> IsotonicCalibrator:
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(score, y)
        xs = np.asarray(iso.X_thresholds_, dtype=np.float64)
        ys = np.asarray(iso.y_thresholds_, dtype=np.float64)
        return cls(tuple(float(v) for v in xs), tuple(float(v) for v in ys))


Calibrator = PlattCalibrator | IsotonicCalibrator


def fit_calibrator(method: str, score: npt.ArrayLike, y: npt.ArrayLike) -> Calibrator:
    """Fit a ``platt`` or ``isotonic`` calibrator of outcomes ``y`` (0/1) on ``score``."""
    s = np.asarray(score, dtype=np.float64)
    target = np.asarray(y, dtype=np.float64)
    if s.shape != target.shape or s.ndim != 1 or not len(s):
        raise ValueError(f"calibration needs matching 1-D scores and outcomes, got {s.shape}")
    if target.min() == target.max():
        raise ValueError("calibration needs both outcomes among its incidents, found one")
    if method == "platt":
        return PlattCalibrator.fit(s, target)
    if method == "isotonic":
        return IsotonicCalibrator.fit(s, target)
    raise ValueError(f"unknown calibration method {method!r}: use 'platt' or 'isotonic'")


def calibrator_from_json(data: Any) -> Calibrator:
    """Rebuild a calibrator from :meth:`to_json` output; ``ValueError`` if malformed."""
    if not isinstance(data, dict):
        raise ValueError("a calibrator is a JSON object")
    kind = data.get("kind")
    if kind == "platt":
        a, b = data.get("a"), data.get("b")
        if not all(isinstance(v, int | float) for v in (a, b)):
            raise ValueError("a Platt calibrator needs numbers 'a' and 'b'")
        return PlattCalibrator(float(a), float(b))  # type: ignore[arg-type]
    if kind == "isotonic":
        xs, ys = data.get("x"), data.get("y")
        if not (isinstance(xs, list) and isinstance(ys, list) and len(xs) == len(ys) and xs):
            raise ValueError("an isotonic calibrator needs equally long lists 'x' and 'y'")
        x = tuple(float(v) for v in xs)
        y = tuple(float(v) for v in ys)
        if any(b < a for a, b in pairwise(x)) or any(b < a for a, b in pairwise(y)):
            raise ValueError("an isotonic calibrator's thresholds must be non-decreasing")
        return IsotonicCalibrator(x, y)
    raise ValueError(f"unknown calibrator kind {kind!r}")
