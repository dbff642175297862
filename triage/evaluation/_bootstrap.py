"""Per-group metrics as functions of weighted sums, so one bootstrap resample costs a
few ``bincount`` calls instead of a pandas group-by per metric.

A resample is a vector of row multiplicities ``w``. The audit resamples clusters (a
victim with all their incidents, or a perpetrator with all theirs), since one
person's incidents escalate together: each cluster's multiplicity is drawn once per
resample and every incident of the cluster takes it (``w = mult[cluster]``);
resampling incidents one by one is the case of one cluster per incident. Every
metric but AUC is a ratio of per-group sums of ``w`` times a row indicator; AUC is
the weighted Mann-Whitney statistic (ties count one half), computed from one sort by
(group, score) made up front. With ``w = 1`` the numbers equal the plain per-group
metrics (fairlearn ``MetricFrame``'s point estimates; a test checks this), so the
bootstrap and the point estimates measure the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import get_args

import numpy as np
import numpy.typing as npt

from triage.evaluation._audit_spec import Metric

__all__ = ["RATE_METRICS", "Grouping", "Outcomes", "bootstrap", "group_metrics"]

Float = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]
Int = npt.NDArray[np.int64]

#: metrics that are ratios of group sums (every audit metric but ``auc``), in spec order
RATE_METRICS: tuple[str, ...] = tuple(m for m in get_args(Metric) if m != "auc")


@dataclass(frozen=True)
class Outcomes:
    """Row-aligned label, flag at the operating point, daily-top-k flag and score.

    Flags are shares in [0, 1]: an incident in a block of equal scores at the daily
    cut is reviewed with the chance that a random tie-break picks it.
    """

    y: Bool
    flag: Float
    top_k: Float
    score: Float

    def columns(self) -> Float:
        """(5, n): escalated, flagged, flagged escalation, score, escalation in top k."""
        y = self.y.astype(np.float64)
        return np.stack([y, self.flag, y * self.flag, self.score, y * self.top_k])


def _sum(codes: Int, weights: Float, n: int) -> Float:
    """Per-code sums of ``weights`` (``np.bincount``, typed as the floats it returns)."""
    return np.bincount(codes, weights=weights, minlength=n).astype(np.float64, copy=False)


def _div(num: Float, den: Float) -> Float:
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def rates(sums: Float) -> dict[str, Float]:
    """Metrics from per-group sums (..., 6, G): n, escalated, flagged, flagged
    escalations, score sum, escalations in the daily top k."""
    n, pos, sel, tp, score, cap = (sums[..., i, :] for i in range(6))
    base = _div(pos, n)
    mean_score = _div(score, n)
    return {
        "base_rate": base,
        "mean_score": mean_score,
        "selection_rate": _div(sel, n),
        "fnr": _div(pos - tp, pos),
        "fpr": _div(sel - tp, n - pos),
        "precision": _div(tp, sel),
        "fdr": _div(sel - tp, sel),
        "calibration": _div(mean_score, base),
        "capacity_recall": _div(cap, pos),
    }


class Grouping:
    """One grouping of the rows: codes ``0..G-1`` and what AUC needs, sorted once."""

    def __init__(self, codes: Int, n_groups: int, outcomes: Outcomes) -> None:
        self.codes = codes
        self.n_groups = n_groups
        order = np.lexsort((outcomes.score, codes))
        c, s = codes[order], outcomes.score[order]
        new_block = np.ones(len(order), dtype=bool)
        new_block[1:] = (c[1:] != c[:-1]) | (s[1:] != s[:-1])
        self._order = order
        self._block = np.cumsum(new_block) - 1  # tie block of each sorted row
        self._block_group = c[new_block]
        starts = np.ones(self._block_group.size, dtype=bool)
        starts[1:] = self._block_group[1:] != self._block_group[:-1]
        first = np.flatnonzero(starts)
        self._group_first_block = np.repeat(first, np.diff(np.append(first, starts.size)))
        self._y_sorted = outcomes.y[order].astype(np.float64)

    def sums(self, weighted: Float, w: Float) -> Float:
        """(6, G) sums; ``weighted`` is ``Outcomes.columns() * w``."""
        g = self.n_groups
        rows = [_sum(self.codes, w, g)]
        rows += [_sum(self.codes, col, g) for col in weighted]
        return np.stack(rows)

    def auc(self, w: Float) -> Float:
        """Weighted ROC AUC per group (NaN where a group lacks either class)."""
        nb, g = self._block_group.size, self.n_groups
        ws = w[self._order]
        pos = _sum(self._block, ws * self._y_sorted, nb)
        neg = _sum(self._block, ws * (1.0 - self._y_sorted), nb)
        below = np.cumsum(neg) - neg  # negatives in earlier blocks
        below -= below[self._group_first_block]  # ... of the same group
        u = _sum(self._block_group, pos * (below + 0.5 * neg), g)
        n_pos = _sum(self._block_group, pos, g)
        n_neg = _sum(self._block_group, neg, g)
        return _div(u, n_pos * n_neg)


def group_metrics(grouping: Grouping, outcomes: Outcomes) -> dict[str, Float]:
    """Unit-weight metrics per group: ``n`` and ``positives`` counts too."""
    w = np.ones(len(outcomes.y))
    sums = grouping.sums(outcomes.columns(), w)
    out = rates(sums)
    out["n"], out["positives"], out["flagged"] = sums[0], sums[1], sums[2]
    out["auc"] = grouping.auc(w)
    return out


def bootstrap(
    groupings: Sequence[Grouping],
    outcomes: Outcomes,
    *,
    resamples: int,
    seed: int,
    metrics: Sequence[set[str]],
    clusters: Sequence[Int] = (),
    unit_of: Sequence[int] | None = None,
) -> list[dict[str, Float]]:
    """Per grouping, each wanted metric per resample and group: arrays of shape
    (resamples, G).

    ``clusters`` are the resampling units, each a code ``0..K-1`` per row (default:
    one unit, the incidents themselves); grouping ``i`` is resampled by
    ``clusters[unit_of[i]]``. Groupings of one unit see the same resamples. Each
    resample costs one draw of ``K`` multiplicities per unit and one gather per row.
    """
    n = len(outcomes.y)
    units = list(clusters) or [np.arange(n, dtype=np.int64)]
    which = list(unit_of) if unit_of is not None else [0] * len(groupings)
    sizes = [int(u.max()) + 1 if u.size else 0 for u in units]
    rng = np.random.default_rng(seed)
    columns = outcomes.columns()
    sums = [np.empty((resamples, 6, g.n_groups)) for g in groupings]
    aucs = [
        np.empty((resamples, g.n_groups)) if "auc" in m else None
        for g, m in zip(groupings, metrics, strict=True)
    ]
    for b in range(resamples):
        weights = []
        for codes, k in zip(units, sizes, strict=True):
            mult = np.bincount(rng.integers(0, k, size=k), minlength=k).astype(np.float64)
            weights.append(mult[codes])
        weighted = [columns * w for w in weights]
        for i, grouping in enumerate(groupings):
            w = weights[which[i]]
            sums[i][b] = grouping.sums(weighted[which[i]], w)
            auc = aucs[i]
            if auc is not None:
                auc[b] = grouping.auc(w)
    results = []
    for s, auc, wanted in zip(sums, aucs, metrics, strict=True):
        out = {k: v for k, v in rates(s).items() if k in wanted}
        if auc is not None:
            out["auc"] = auc
        results.append(out)
    return results
