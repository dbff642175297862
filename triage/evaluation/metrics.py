"""Out-of-time metrics of the model and its baselines (docs/architecture.md §7), per split and
pooled over all splits, from the validation frame of :func:`triage.models.training.train`.

Definitions, so every number can be checked by hand:

* ROC AUC, average precision, Brier score and log loss are scikit-learn's.
* Expected calibration error (ECE): ten equal-width bins of the predicted
  probability, ``[0, 0.1), [0.1, 0.2), …, [0.9, 1.0]``; ECE is the sum over bins of
  (share of incidents in the bin) × |mean predicted − observed rate|. Empty bins
  count zero.
* Capacity view: each day (the UTC date of ``reported_at``) the team reviews the
  *k* highest-scored incidents. recall@k is the share of all escalations that were
  among a day's top *k*; precision@k the share of reviewed incidents that escalated.
  Ties at the cut-off are shared fairly: if 3 incidents tie for the last 2 places,
  each counts as 2/3 reviewed (the expectation under a random tie-break). That
  matters for coarse scores such as the DASH grade.
* DASH comparison (Grogger et al. 2021): DASH flags the incidents graded ``high``;
  the flag rate is their share. Each other score flags the same share (its top
  incidents, ties shared as above). Negative prediction error (NPE) is the share of
  unflagged incidents that escalate; ``missed`` counts those escalations.
* Oracle: on synthetic data, the true probability from the generator scored on the
  same incidents; its AUC is the ceiling a model can approach.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from triage.exceptions import ConfigError
from triage.models.baselines import SCORERS

__all__ = [
    "DEFAULT_BINS",
    "Evaluation",
    "capacity_weights",
    "evaluate",
    "expected_calibration_error",
    "flag_comparison",
    "reliability_table",
    "top_n_weights",
]

Float = npt.NDArray[np.float64]

DEFAULT_BINS = 10
POOLED = "pooled"
_REQUIRED = ("incident_id", "reported_at", "split", "y", "dash_grade")
MESSAGE_MISSING_COLUMNS = "the validation frame lacks the columns {columns}"
MESSAGE_TRUTH = "the truth table has no column {column!r} (expected p_<label>)"


def expected_calibration_error(
    y: npt.ArrayLike, p: npt.ArrayLike, bins: int = DEFAULT_BINS
) -> float:
    """ECE over ``bins`` equal-width bins of ``[0, 1]`` (see the module docstring)."""
    table = reliability_table(y, p, bins)
    n = table["n"].sum()
    if not n:
        return float("nan")
    gaps = (table["mean_score"] - table["observed"]).abs().fillna(0.0)
    return float((table["n"] / n * gaps).sum())


def reliability_table(y: npt.ArrayLike, p: npt.ArrayLike, bins: int = DEFAULT_BINS) -> pd.DataFrame:
    """Per bin: bounds, incidents, mean predicted probability, observed rate."""
    yy = np.asarray(y, dtype=np.float64)
    pp = np.asarray(p, dtype=np.float64)
    idx = np.clip(np.floor(pp * bins).astype(np.int64), 0, bins - 1)
    n = np.bincount(idx, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(idx, weights=pp, minlength=bins) / n
        observed = np.bincount(idx, weights=yy, minlength=bins) / n
    return pd.DataFrame(
        {
            "bin": np.arange(bins),
            "lower": np.arange(bins) / bins,
            "upper": np.arange(1, bins + 1) / bins,
            "n": n,
            "mean_score": mean,
            "observed": observed,
        }
    )


def _tie_counts(groups: npt.ArrayLike, scores: npt.ArrayLike) -> tuple[Float, Float]:
    """Per row: how many rows of its group score strictly higher, and how many tie."""
    frame = pd.DataFrame({"g": np.asarray(groups), "s": np.asarray(scores, dtype=np.float64)})
    order = np.lexsort((-frame["s"].to_numpy(), frame["g"].to_numpy()))
    ranked = frame.iloc[order].reset_index(drop=True)
    position = ranked.groupby("g", sort=False).cumcount().to_numpy()
    block = ranked.groupby(["g", "s"], sort=False)
    above = np.empty(len(frame))
    ties = np.empty(len(frame))
    above[order] = pd.Series(position).groupby([ranked["g"], ranked["s"]]).transform("min")
    ties[order] = block["s"].transform("size").to_numpy()
    return above, ties


def _weights(above: Float, ties: Float, k: float) -> Float:
    out: Float = np.clip((k - above) / ties, 0.0, 1.0)
    return out


def top_n_weights(scores: npt.ArrayLike, n: float) -> Float:
    """The chance that each item is among the ``n`` highest under a random tie-break
    (1 above the cut-off, 0 below, a fair share for the tied block at it)."""
    s = np.asarray(scores, dtype=np.float64)
    above, ties = _tie_counts(np.zeros(len(s), dtype=np.int64), s)
    return _weights(above, ties, n)


def capacity_weights(days: npt.ArrayLike, scores: npt.ArrayLike, k: int) -> Float:
    """For each incident, the share of it that is reviewed when each day's top ``k``
    are reviewed (ties shared fairly)."""
    above, ties = _tie_counts(days, scores)
    return _weights(above, ties, k)


def flag_comparison(
    y: npt.ArrayLike, grades: npt.ArrayLike, scores: Mapping[str, npt.ArrayLike]
) -> pd.DataFrame:
    """DASH ``high`` against each score flagging the same share (see module docstring)."""
    yy = np.asarray(y, dtype=np.float64)
    flagged_dash = (np.asarray(grades).astype(str) == "high").astype(np.float64)
    rate = float(flagged_dash.mean()) if len(yy) else float("nan")
    n_flag = round(rate * len(yy)) if len(yy) else 0
    rows = []
    for name, w in {
        "dash": flagged_dash,
        **{k: top_n_weights(v, n_flag) for k, v in scores.items()},
    }.items():
        unflagged = 1.0 - w
        missed = float((unflagged * yy).sum())
        rows.append(
            {
                "scorer": name,
                "flag_rate": rate,
                "flagged": float(w.sum()),
                "positives": float(yy.sum()),
                "found": float((w * yy).sum()),
                "missed": missed,
                "npe": missed / unflagged.sum() if unflagged.sum() else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def _ranking_metrics(y: Float, p: Float, bins: int) -> dict[str, float]:
    both = 0 < y.sum() < len(y)
    nan = float("nan")
    return {
        "roc_auc": float(roc_auc_score(y, p)) if both else nan,
        "average_precision": float(average_precision_score(y, p)) if both else nan,
        "brier": float(brier_score_loss(y, p)) if len(y) else nan,
        "ece": expected_calibration_error(y, p, bins),
        "log_loss": float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1]))
        if len(y)
        else nan,
    }


@dataclass(frozen=True)
class Evaluation:
    """Every table of an evaluation (all plain DataFrames; :meth:`to_dict` is JSON).

    ``metrics``: one row per (split, scorer), split ``pooled`` for all splits.
    ``capacity_curve``: pooled recall@k and precision@k for k = 1 … ``max_k``.
    ``flags``: the DASH comparison per split and pooled. ``reliability``: pooled
    calibration bins per scorer. ``oracle``: per split and pooled, the truth's AUC
    beside the model's, or None without a truth table.
    """

    label: str
    capacity: int
    bins: int
    scorers: tuple[str, ...]
    metrics: pd.DataFrame
    capacity_curve: pd.DataFrame
    flags: pd.DataFrame
    reliability: pd.DataFrame
    oracle: pd.DataFrame | None
    validation: pd.DataFrame

    def pooled(self, scorer: str = "model") -> dict[str, Any]:
        """The pooled metrics row of one scorer."""
        table = self.metrics
        row = table[(table["split"] == POOLED) & (table["scorer"] == scorer)]
        return dict(row.iloc[0])

    def headline(self) -> dict[str, Any]:
        """The numbers the plain-language summary quotes."""
        v = self.validation
        flags = self.flags[self.flags["split"] == POOLED].set_index("scorer")
        dash: dict[str, Any] = dict(flags.loc["dash"])
        model: dict[str, Any] = dict(flags.loc["model"])
        found_more = (model["found"] / dash["found"] - 1.0) if dash["found"] else float("nan")
        out: dict[str, Any] = {
            "incidents": len(v),
            "escalations": int(v["y"].sum()),
            "splits": int(v["split"].nunique()),
            "first_day": _day(v["reported_at"].min()),
            "last_day": _day(v["reported_at"].max()),
            "days": int(_days(v).nunique()),
            "capacity": self.capacity,
            "flag_rate": float(dash["flag_rate"]),
            "flagged": float(dash["flagged"]),
            "dash_found": float(dash["found"]),
            "model_found": float(model["found"]),
            "found_more": float(found_more),
            "dash_npe": float(dash["npe"]),
            "model_npe": float(model["npe"]),
            "dash_missed": float(dash["missed"]),
            "model_missed": float(model["missed"]),
            **{f"auc_{s}": float(self.pooled(s)["roc_auc"]) for s in self.scorers},
            **{f"recall_at_k_{s}": float(self.pooled(s)["recall_at_k"]) for s in self.scorers},
            "precision_at_k_model": float(self.pooled("model")["precision_at_k"]),
            "ece_model": float(self.pooled("model")["ece"]),
        }
        if self.oracle is not None:
            pooled = self.oracle[self.oracle["split"] == POOLED].iloc[0]
            out["auc_oracle"] = float(pooled["oracle_auc"])
            out["oracle_gap"] = float(pooled["gap"])
        return out

    def to_dict(self) -> dict[str, Any]:
        """Everything but the row-level validation frame, ready for ``json.dumps``."""
        tables = {
            "metrics": self.metrics,
            "capacity_curve": self.capacity_curve,
            "flags": self.flags,
            "reliability": self.reliability,
        }
        if self.oracle is not None:
            tables["oracle"] = self.oracle
        return {
            "label": self.label,
            "capacity": self.capacity,
            "bins": self.bins,
            "scorers": list(self.scorers),
            "headline": _jsonable(self.headline()),
            **{name: _records(t) for name, t in tables.items()},
        }


def evaluate(
    validation: pd.DataFrame,
    *,
    label: str,
    truth: pd.DataFrame | None = None,
    capacity: int | None = None,
    scorers: Sequence[str] = SCORERS,
    bins: int = DEFAULT_BINS,
    max_k: int | None = None,
) -> Evaluation:
    """Evaluate a validation frame (``triage.models.training.TrainingResult.validation``).

    ``capacity`` is the daily review capacity (default: ``TRIAGE_CAPACITY``, 10);
    ``truth`` a table with ``incident_id`` and ``p_<label>`` (synthetic worlds).
    """
    missing = [c for c in (*_REQUIRED, *(f"score_{s}" for s in scorers)) if c not in validation]
    if missing:
        raise ConfigError(MESSAGE_MISSING_COLUMNS.format(columns=missing))
    if "model" not in scorers or "dash" not in scorers:
        raise ConfigError(f"scorers must include 'model' and 'dash', got {list(scorers)}")
    if capacity is None:
        from triage.settings import Settings

        capacity = Settings.from_env().capacity
    if capacity < 1:
        raise ConfigError(f"capacity must be at least 1, got {capacity}")
    v = validation.reset_index(drop=True)
    oracle_scores = _oracle_scores(v, truth, label)
    if oracle_scores is not None:
        v = v.assign(score_oracle=oracle_scores)
    parts = [(str(s), g) for s, g in v.groupby("split", sort=True)] + [(POOLED, v)]
    metric_rows, flag_tables, oracle_rows = [], [], []
    for split, part in parts:
        y = part["y"].to_numpy(dtype=np.float64)
        days = _days(part).to_numpy()
        scores = {s: part[f"score_{s}"].to_numpy(dtype=np.float64) for s in scorers}
        for s, p in scores.items():
            w = capacity_weights(days, p, capacity)
            metric_rows.append(
                {
                    "split": split,
                    "scorer": s,
                    "n": len(part),
                    "positives": int(y.sum()),
                    "base_rate": float(y.mean()) if len(y) else float("nan"),
                    "mean_score": float(p.mean()) if len(p) else float("nan"),
                    **_ranking_metrics(y, p, bins),
                    "recall_at_k": float((w * y).sum() / y.sum()) if y.sum() else float("nan"),
                    "precision_at_k": float((w * y).sum() / w.sum()) if w.sum() else float("nan"),
                }
            )
        others = {s: p for s, p in scores.items() if s != "dash"}
        flag_tables.append(flag_comparison(y, part["dash_grade"], others).assign(split=split))
        if oracle_scores is not None:
            o = oracle_scores[part.index.to_numpy()]
            both = 0 < y.sum() < len(y)
            o_auc = float(roc_auc_score(y, o)) if both else float("nan")
            m_auc = float(roc_auc_score(y, scores["model"])) if both else float("nan")
            oracle_rows.append(
                {
                    "split": split,
                    "n": len(part),
                    "oracle_auc": o_auc,
                    "model_auc": m_auc,
                    "gap": o_auc - m_auc,
                }
            )
    y_all = v["y"].to_numpy(dtype=np.float64)
    days_all = _days(v).to_numpy()
    top_k = max_k if max_k is not None else max(3 * capacity, 30)
    curve, reliability = [], []
    for s in scorers:
        p = v[f"score_{s}"].to_numpy(dtype=np.float64)
        above, ties = _tie_counts(days_all, p)
        for k in range(1, top_k + 1):
            w = _weights(above, ties, k)
            found = float((w * y_all).sum())
            curve.append(
                {
                    "scorer": s,
                    "k": k,
                    "recall": found / y_all.sum() if y_all.sum() else float("nan"),
                    "precision": found / w.sum() if w.sum() else float("nan"),
                }
            )
        reliability.append(reliability_table(y_all, p, bins).assign(scorer=s))
    flags = pd.concat(flag_tables, ignore_index=True)
    return Evaluation(
        label=label,
        capacity=capacity,
        bins=bins,
        scorers=tuple(scorers),
        metrics=pd.DataFrame(metric_rows),
        capacity_curve=pd.DataFrame(curve),
        flags=flags[["split", *[c for c in flags.columns if c != "split"]]],
        reliability=pd.concat(reliability, ignore_index=True),
        oracle=pd.DataFrame(oracle_rows) if oracle_scores is not None else None,
        validation=v,
    )


def _oracle_scores(v: pd.DataFrame, truth: pd.DataFrame | None, label: str) -> Float | None:
    if truth is None:
        return None
    column = f"p_{label}"
    if column not in truth:
        raise ConfigError(MESSAGE_TRUTH.format(column=column))
    lookup = truth.set_index(truth["incident_id"].astype(str))[column]
    scores = lookup.reindex(v["incident_id"].astype(str)).to_numpy(dtype=np.float64)
    if np.isnan(scores).any():
        raise ConfigError(
            f"the truth table lacks {int(np.isnan(scores).sum())} of the evaluated incidents"
        )
    return scores


def _days(v: pd.DataFrame) -> pd.Series:
    """The UTC calendar day of each incident, as a day number."""
    reported = pd.to_datetime(v["reported_at"], utc=True).dt.tz_localize(None)
    days = reported.to_numpy().astype("datetime64[D]").astype(np.int64)
    return pd.Series(days, index=v.index)


def _day(ts: Any) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d") if pd.notna(ts) else ""


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = _jsonable(frame.to_dict(orient="records"))
    return out
