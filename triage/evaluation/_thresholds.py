"""Group-specific thresholds as an option considered (DESIGN §8), never applied.

fairlearn's ``ThresholdOptimizer`` is fitted with ``prefit=True`` on the audited
scores themselves (a pass-through estimator: the scores already are the model's
output), with one of its parity constraints, on the incidents of the groups large
enough to judge. Its randomised decisions are drawn once with the audit's seed. The
result compares each group's missed-case rate and the overall recall, precision and
workload before (the operating point) and after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from fairlearn.postprocessing import ThresholdOptimizer
from sklearn.base import BaseEstimator, ClassifierMixin

__all__ = ["ThresholdChange", "ThresholdOption", "consider_thresholds"]

Bool = npt.NDArray[np.bool_]


class _Scores(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A fitted 'classifier' whose probability is the single column of ``X``."""

    classes_ = np.array([0, 1])

    def fit(self, X: Any, y: Any) -> _Scores:
        return self

    def predict_proba(self, X: Any) -> npt.NDArray[np.float64]:
        s = np.asarray(X, dtype=np.float64)[:, 0]
        return np.column_stack([1.0 - s, s])

    def __sklearn_is_fitted__(self) -> bool:
        return True


@dataclass(frozen=True)
class ThresholdChange:
    """One group before and after group-specific thresholds."""

    group: str
    n: int
    positives: int
    fnr_before: float
    fnr_after: float
    selection_rate_before: float
    selection_rate_after: float


@dataclass(frozen=True)
class ThresholdOption:
    """What fairlearn ``ThresholdOptimizer`` would change; never applied."""

    attribute: str
    constraint: str
    objective: str
    groups: tuple[ThresholdChange, ...]
    recall_before: float
    recall_after: float
    precision_before: float
    precision_after: float
    flagged_per_day_before: float
    flagged_per_day_after: float
    applied: bool = False
    note: str = ""


def _rate(num: float, den: float) -> float:
    return float(num) / float(den) if den else float("nan")


def consider_thresholds(
    *,
    attribute: str,
    groups: pd.Series,
    judgeable: set[str],
    y: Bool,
    score: npt.NDArray[np.float64],
    flag: npt.NDArray[np.float64],
    days: int,
    constraint: str,
    objective: str,
    seed: int,
) -> ThresholdOption:
    """Fit ``ThresholdOptimizer`` on the judgeable groups' incidents and compare.

    ``flag`` is the share of each incident reviewed at the operating point. Incidents of
    groups too small to judge keep it, so the overall figures cover every incident.
    """
    labels = groups.astype("string").to_numpy(dtype=object)
    use = np.isin(labels, sorted(judgeable))
    after = flag.copy()
    note = ""
    if use.any() and len(judgeable) >= 2 and y[use].any() and not y[use].all():
        optimizer = ThresholdOptimizer(
            estimator=_Scores(),
            constraints=constraint,
            objective=objective,
            prefit=True,
            predict_method="predict_proba",
        )
        X = pd.DataFrame({"score": score[use]})
        optimizer.fit(X, y[use].astype(int), sensitive_features=labels[use])
        after[use] = np.asarray(
            optimizer.predict(X, sensitive_features=labels[use], random_state=seed),
            dtype=np.float64,
        )
    else:
        note = "fewer than two groups large enough to judge: nothing to optimise"
    yf = y.astype(np.float64)
    changes = []
    for group in sorted(judgeable, key=lambda g: -int((labels == g).sum())):
        rows = (labels == group).astype(np.float64)
        pos = yf * rows
        changes.append(
            ThresholdChange(
                group=group,
                n=int(rows.sum()),
                positives=int(pos.sum()),
                fnr_before=_rate((pos * (1 - flag)).sum(), pos.sum()),
                fnr_after=_rate((pos * (1 - after)).sum(), pos.sum()),
                selection_rate_before=_rate((rows * flag).sum(), rows.sum()),
                selection_rate_after=_rate((rows * after).sum(), rows.sum()),
            )
        )
    return ThresholdOption(
        attribute=attribute,
        constraint=constraint,
        objective=objective,
        groups=tuple(changes),
        recall_before=_rate((yf * flag).sum(), yf.sum()),
        recall_after=_rate((yf * after).sum(), yf.sum()),
        precision_before=_rate((yf * flag).sum(), flag.sum()),
        precision_after=_rate((yf * after).sum(), after.sum()),
        flagged_per_day_before=_rate(flag.sum(), days),
        flagged_per_day_after=_rate(after.sum(), days),
        note=note,
    )
