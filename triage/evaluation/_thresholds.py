"""Group-specific thresholds as an option considered (docs/architecture.md §8), never applied.

fairlearn's ``ThresholdOptimizer`` is fitted with ``prefit=True`` on the audited
scores themselves (a pass-through estimator: the scores already are the model's
output), with one of its parity constraints, on the incidents of the groups large
enough to judge. Its randomised decisions are drawn once with the audit's seed. The
result compares each group's missed-case rate and the overall recall, precision and
workload before (the operating point) and after.

The optimiser's thresholds are chosen for its objective, not for the hub's capacity,
so they flag more or fewer incidents than the operating point; part of any change in
recall is then the change in workload. So the same figures are also given for one
threshold for every group that flags as many incidents as the option does (the
highest scores overall, equal scores at the cut sharing the remaining places): the
like-for-like comparison at the option's workload.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from fairlearn.postprocessing import ThresholdOptimizer
from sklearn.base import BaseEstimator, ClassifierMixin

from triage.evaluation._groups import daily_top_k

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
    # one threshold for everyone flagging as many as the option (NaN in older reports)
    fnr_same_workload: float = math.nan


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
    # one threshold for everyone flagging as many as the option (NaN in older reports)
    recall_same_workload: float = math.nan
    precision_same_workload: float = math.nan


def _rate(num: float, den: float) -> float:
    return float(num) / float(den) if den else float("nan")


def _same_workload(score: npt.NDArray[np.float64], flagged: float) -> npt.NDArray[np.float64]:
    """The share of each incident flagged by one threshold that flags ``flagged``
    incidents (rounded) of them all: the highest scores, ties at the cut sharing."""
    everyone = pd.Series(np.zeros(len(score), dtype="datetime64[ns]"))  # one "day"
    return daily_top_k(everyone, score, round(flagged))


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
    single = _same_workload(score, float(after.sum()))
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
                fnr_same_workload=_rate((pos * (1 - single)).sum(), pos.sum()),
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
        recall_same_workload=_rate((yf * single).sum(), yf.sum()),
        precision_same_workload=_rate((yf * single).sum(), single.sum()),
        note=note,
    )
