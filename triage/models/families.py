"""Which model family ships: the simplest one that is not beaten (docs/architecture.md
§6, §7).

Every training run fits each candidate family of the spec (elastic-net logistic
regression and LightGBM) with the same temporal validation, on the same rows. A more
complex family replaces a simpler one only when it beats it by at least
``min_auc_gain`` pooled out-of-time AUC and, with ``split_wins``, on every split that
can be judged (both outcomes present). Otherwise the simpler model ships: it is
easier to explain, to audit and to trust, and it did as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from triage.config import ChampionRule, Family

__all__ = ["FamilyChoice", "choose_family", "score_column"]


def score_column(family: str) -> str:
    """The validation column holding ``family``'s calibrated out-of-time scores."""
    return f"score_{family}"


@dataclass(frozen=True)
class FamilyChoice:
    """The family that ships, why, and the AUCs the choice rests on."""

    family: Family
    reason: str
    pooled_auc: Mapping[str, float] = field(default_factory=dict)
    split_auc: Mapping[str, tuple[float, ...]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "reason": self.reason,
            "pooled_auc": dict(self.pooled_auc),
            "split_auc": {k: list(v) for k, v in self.split_auc.items()},
        }


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    if len(y) == 0 or y.min() == y.max():
        return float("nan")
    return float(roc_auc_score(y, score))


def choose_family(validation: pd.DataFrame, rule: ChampionRule) -> FamilyChoice:
    """Apply ``rule`` to the out-of-time predictions of every candidate family
    (columns ``score_<family>``, with ``y`` and ``split``)."""
    families = list(rule.families)
    simplest = families[0]
    if validation.empty or len(families) == 1:
        why = (
            f"{simplest} is the only candidate family"
            if len(families) == 1
            else f"no out-of-time rows to compare families on, so the simplest ({simplest}) ships"
        )
        return FamilyChoice(simplest, why)
    y = validation["y"].to_numpy(dtype=np.int64)
    splits = sorted(validation["split"].unique())
    pooled: dict[str, float] = {
        f: _auc(y, validation[score_column(f)].to_numpy()) for f in families
    }
    by_split: dict[str, tuple[float, ...]] = {}
    for f in families:
        per = []
        for s in splits:
            rows = (validation["split"] == s).to_numpy()
            per.append(_auc(y[rows], validation[score_column(f)].to_numpy()[rows]))
        by_split[f] = tuple(per)
    current = simplest
    reason = f"{simplest} is the simplest candidate"
    for candidate in families[1:]:
        gain = pooled[candidate] - pooled[current]
        wins = [
            c > b
            for c, b in zip(by_split[candidate], by_split[current], strict=True)
            if not (np.isnan(c) or np.isnan(b))
        ]
        every_split = bool(wins) and all(wins)
        if gain >= rule.min_auc_gain and (every_split or not rule.split_wins):
            reason = (
                f"{candidate} beat {current} by {gain:+.4f} pooled out-of-time AUC "
                f"(at least {rule.min_auc_gain:.4f} needed)"
                + (f" and on all {len(wins)} judged split(s)" if rule.split_wins else "")
            )
            current = candidate
        else:
            shortfall = []
            if not gain >= rule.min_auc_gain:
                shortfall.append(
                    f"gained {gain:+.4f} pooled out-of-time AUC, short of {rule.min_auc_gain:.4f}"
                )
            if rule.split_wins and not every_split:
                shortfall.append(f"won {sum(wins)} of {len(wins)} judged split(s)")
            reason = f"{current} ships: {candidate} " + " and ".join(shortfall) + f" over {current}"
    return FamilyChoice(current, reason, pooled, by_split)
