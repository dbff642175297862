"""Stylised facts of an extract beside the bands the published studies set
(docs/architecture.md §11), so anyone can see whether a synthetic world behaves like a
real county."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from triage.config import LabelSpec
from triage.contract.harm import HarmWeights, load_harm_weights
from triage.contract.names import Extract
from triage.features.labels import build_labels
from triage.features.windows import (
    NS_PER_DAY,
    IntArray,
    Sorted,
    Timeline,
    codes_for,
    pair_codes,
    to_ns,
)

__all__ = ["BANDS", "Fact", "calibration_report"]

DAY = NS_PER_DAY
_SERIOUS_HARM = LabelSpec(
    name="serious_harm_365d", window_days=365, match=("victim", "perpetrator"), types="serious"
)


@dataclass(frozen=True)
class Fact:
    key: str
    label: str
    value: float
    low: float | None
    high: float | None
    source: str

    @property
    def ok(self) -> bool:
        return (self.low is None or self.value >= self.low) and (
            self.high is None or self.value <= self.high
        )


#: key -> (label, low, high, source)
BANDS: dict[str, tuple[str, float | None, float | None, str]] = {
    "serious_rate": (
        "serious_harm_365d base rate (labelled incidents)",
        0.09,
        0.15,
        "Grogger et al. 2021: 11.8%",
    ),
    "crime_share": ("share of records that are crimes", 0.55, 0.67, "ONS: about 61%"),
    "female_victims": ("share of victims who are female", 0.70, 0.82, "ONS: about three quarters"),
    "repeat_victims": (
        "victims with >= 2 incidents within 12 months of their first",
        0.25,
        0.45,
        "repeat victimisation studies",
    ),
    "harm_top5": (
        "harm share of the top 5% of perpetrators",
        0.75,
        None,
        "Barnham et al. 2017: 3% cause 90%",
    ),
    "one_off_perps": (
        "perpetrators with no further incident within 2 years",
        0.55,
        0.80,
        "Barnham et al. 2017: 77.6%",
    ),
    "sexual_share": ("sexual offences among records", 0.03, 0.06, "Northamptonshire: 4.6%"),
    "stalking_share": (
        "stalking + harassment among records",
        0.10,
        0.25,
        "Northamptonshire: ~2,000 a year",
    ),
    "dash_high": ("DASH high among completed DASH", 0.08, 0.20, "force practice"),
    "auc_dash": ("ROC AUC of the DASH grade", 0.55, 0.65, "meta-analysis: pooled 0.64"),
    "auc_prior": (
        "ROC AUC of prior-incident count (365 days)",
        0.63,
        0.75,
        "Turner et al. 2022: 0.75",
    ),
    "auc_truth": (
        "ROC AUC of the truth probability (ceiling)",
        0.80,
        None,
        "synthetic ground truth",
    ),
}


def _prior_count(key: IntArray, ns: IntArray, window_ns: int) -> IntArray:
    """Records of the same key reported in [t - window, t) for each row (key -1: 0)."""
    timeline = Timeline([ns, ns - window_ns])
    rank = timeline.first_at_or_after(ns)
    found = Sorted(key, rank, mask=key >= 0)
    upto = found.position(key, rank)
    since = found.position(key, timeline.first_at_or_after(ns - window_ns))
    return np.where(key >= 0, upto - since, 0).astype(np.int64)


def calibration_report(
    extract: Extract, truth: pd.DataFrame | None = None, harm: HarmWeights | None = None
) -> list[Fact]:
    """Compute every fact of ``BANDS`` that the extract (and truth, if given) allows."""
    harm = harm or load_harm_weights()
    inc, people = extract.incidents, extract.people
    if inc.empty:
        return []
    types = inc["incident_type"].astype(str)
    t = to_ns(inc["reported_at"])
    end = t.max()
    label = build_labels(extract, _SERIOUS_HARM, harm_weights=harm)[_SERIOUS_HARM.name]
    labelled = label.notna().to_numpy()
    y = label.to_numpy(dtype=bool, na_value=False)[labelled]
    values: dict[str, float] = {}
    values["serious_rate"] = float(y.mean()) if y.size else np.nan
    values["crime_share"] = float((~types.isin(sorted(harm.non_crime_types))).mean())
    victims = pd.Index(inc["victim_id"].unique())
    sex = people.set_index("person_id")["sex"].reindex(victims)
    values["female_victims"] = float((sex == "female").mean())

    v, p = codes_for(inc["victim_id"], inc["perpetrator_id"])
    first_v = pd.Series(t).groupby(v).transform("min").to_numpy()
    eligible_v = first_v + 365 * DAY <= end
    second = (t > first_v) & (t <= first_v + 365 * DAY)
    has_second = pd.Series(second).groupby(v).any()
    elig = pd.Series(eligible_v).groupby(v).first()
    values["repeat_victims"] = float(has_second[elig].mean())

    known = p >= 0
    weights = types.map({k: w.weight for k, w in harm.types.items()}).astype(float).to_numpy()
    harm_by_p = pd.Series(weights[known]).groupby(p[known]).sum().sort_values(ascending=False)
    top = max(1, int(np.ceil(0.05 * harm_by_p.size)))
    values["harm_top5"] = float(harm_by_p.iloc[:top].sum() / harm_by_p.sum())
    tp = pd.Series(t[known])
    first_p = tp.groupby(p[known]).transform("min").to_numpy()
    further = (t[known] > first_p) & (t[known] <= first_p + 730 * DAY)
    any_further = pd.Series(further).groupby(p[known]).any()
    elig_p = pd.Series(first_p + 730 * DAY <= end).groupby(p[known]).first()
    values["one_off_perps"] = float((~any_further[elig_p]).mean())

    values["sexual_share"] = float(types.isin(["sexual_assault", "rape"]).mean())
    values["stalking_share"] = float(types.isin(["stalking", "harassment"]).mean())
    grade = inc["dash_grade"].astype(str)
    completed = (grade != "not_completed").to_numpy()
    values["dash_high"] = float((grade[completed] == "high").mean())
    rank = grade.map({"standard": 0, "medium": 1, "high": 2}).to_numpy()
    sel = labelled & completed
    values["auc_dash"] = _auc(label.to_numpy(dtype=bool, na_value=False)[sel], rank[sel])
    window = 365 * DAY
    # incidents involving the victim or the perpetrator: both, less those of the pair
    pair = pair_codes(v, p)
    prior = _prior_count(v, t, window) + _prior_count(p, t, window) - _prior_count(pair, t, window)
    values["auc_prior"] = _auc(y, prior[labelled])
    if truth is not None:
        tr = truth.set_index("incident_id")["p_serious_harm_365d"].reindex(inc["incident_id"])
        values["auc_truth"] = _auc(y, tr.to_numpy()[labelled])
    return [  # a fact the world is too small or too short for is left out
        Fact(k, BANDS[k][0], values[k], BANDS[k][1], BANDS[k][2], BANDS[k][3])
        for k in BANDS
        if k in values and np.isfinite(values[k])
    ]


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC, or NaN when the labels hold one class only (no AUC to give)."""
    if np.unique(y).size < 2:
        return np.nan
    return float(roc_auc_score(y, np.asarray(score, dtype=float)))
