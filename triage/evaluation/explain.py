"""Explanations of a model's scores (docs/architecture.md §1, §10): exact per-incident
contributions as reasons in plain words, and a global SHAP summary.

Per incident, LightGBM's own TreeSHAP (``pred_contrib=True``), or for a logistic
model its coefficients times the standardised values, gives each feature's
contribution in the raw margin (log-odds) space; the base value plus the
contributions equal the model's raw score exactly. The reasons shown are the
features with the largest absolute contributions, each worded from the feature
catalogue's description template with the incident's value, and marked as raising or
lowering the risk. A calibrator applied after the model changes the probability, not
the order or the sign of these contributions.

Globally, the same exact contributions on a sample of incidents give the beeswarm and bar
plots (PNG bytes, drawn on standalone matplotlib figures so no pyplot state or
display backend is touched) and the mean absolute SHAP value of every feature.

Everything works on a model (a ``lightgbm.Booster``, or a :class:`ModelBundle` of
either family), the feature frame ``X`` (the columns the model was trained on,
categoricals as pandas categories) and the catalogue.
"""

from __future__ import annotations

import io
import json
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.figure import Figure

from triage.features.catalogue import FeatureInfo
from triage.models.bundle import ModelBundle, lightgbm_array

__all__ = [
    "GlobalExplanation",
    "IncidentExplanation",
    "Reason",
    "contributions",
    "describe_value",
    "explain_incidents",
    "for_unknown_suspect",
    "global_explanation",
    "write_global_explanation",
]

BASE_VALUE = "base_value"
#: the files of a written SHAP summary
SHAP_FILES = ("shap_beeswarm.png", "shap_bar.png", "shap_summary.json")
RAISES, LOWERS = "raises", "lowers"

_INVOLVING = {
    "victim": "involving this victim",
    "perpetrator": "involving this perpetrator",
    "pair": "between this victim and this perpetrator",
}
_MISSING_TEXT = {
    "days_since_last": "no earlier incident {inv}",
    "days_since_last_serious": "no earlier serious-harm incident {inv}",
    "dash_last_grade": "no earlier DASH assessment {inv}",
    "dash_last_ticks": "no earlier DASH assessment {inv}",
    "orders": "protective orders naming this {entity}: not known",
}
_MISSING_OWN = {
    "victim_age": "victim's age not recorded",
    "perpetrator_age": "perpetrator's age not recorded (or perpetrator not identified)",
}
#: the incident's own attributes named after the perpetrator: none reads a record
_PERPETRATOR_OWN = frozenset(
    {"perpetrator_known", "perpetrator_age", "perpetrator_sex", "perpetrator_ethnicity"}
)
#: what a perpetrator's or pair's history says when the suspect is not identified: an
#: unknown suspect's record cannot be looked up, which is not a clean record
UNKNOWN_SUSPECT_TEXT = "suspect not identified: their earlier record is unknown"
_SINGULAR = {
    "incidents": "incident",
    "crimes": "crime",
    "breaches": "breach",
    "victims": "victim",
    "perpetrators": "perpetrator",
    "orders": "order",
    "questions": "question",
    "days": "day",
}
_PLURAL = re.compile(r"\b(" + "|".join(_SINGULAR) + r")\b")


@dataclass(frozen=True)
class Reason:
    """One feature's part in a score: its plain-words statement, the value it
    describes, and its contribution to the raw score (log-odds)."""

    feature: str
    text: str
    contribution: float
    value: float | int | str | None = None

    @property
    def direction(self) -> str:
        """``"raises"`` or ``"lowers"`` the risk."""
        return RAISES if self.contribution > 0 else LOWERS


@dataclass(frozen=True)
class IncidentExplanation:
    """The top reasons of one incident's score; ``base_value`` plus every feature's
    contribution (not only the reasons shown) equals ``raw_score``."""

    incident: str | None
    base_value: float
    raw_score: float
    reasons: tuple[Reason, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GlobalExplanation:
    """Mean |SHAP| per feature (raw margin space, descending) and the two plots."""

    base_value: float
    sample_size: int
    mean_abs_shap: Mapping[str, float]
    descriptions: Mapping[str, str]
    beeswarm_png: bytes
    bar_png: bytes

    def to_dict(self) -> dict[str, Any]:
        """The JSON summary (the plots are separate artifacts)."""
        return {
            "space": "raw margin (log-odds)",
            "base_value": self.base_value,
            "sample_size": self.sample_size,
            "features": [
                {"feature": f, "mean_abs_shap": v, "description": self.descriptions.get(f, "")}
                for f, v in self.mean_abs_shap.items()
            ],
        }


def _python(value: Any) -> float | int | str | None:
    """A JSON-ready scalar: numpy scalars unwrapped, NaN and NA as None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float | str):
        return value
    return str(value)


def describe_value(info: FeatureInfo, value: Any) -> str:
    """The reviewer's sentence for one feature value (missing values worded per
    feature, '1 earlier incident' in the singular)."""
    v = _python(value)
    if v is None:
        if info.name in _MISSING_OWN:
            return _MISSING_OWN[info.name]
        template = _MISSING_TEXT.get(info.aggregate)
        if template is not None and info.entity in _INVOLVING:
            return template.format(inv=_INVOLVING[info.entity], entity=info.entity)
        if info.levels:
            return info.description.format(value="none")
    text = info.describe(v)
    if isinstance(v, int | float) and v == 1 and info.absent is None:
        text = _PLURAL.sub(lambda m: _SINGULAR[m.group(1)], text, count=1)
    return text


def for_unknown_suspect(reason: Reason) -> Reason:
    """``reason`` as it reads when the incident's suspect is not identified: a reason
    drawn from the perpetrator's or the pair's history says the record is unknown
    (their features are zeros and blanks, which would read as a clean record)."""
    feature = reason.feature
    if feature in _PERPETRATOR_OWN or not feature.startswith(("perpetrator_", "pair_")):
        return reason
    return replace(reason, text=UNKNOWN_SUSPECT_TEXT)


def _check_columns(booster: lgb.Booster, X: pd.DataFrame) -> None:
    expected = booster.feature_name()
    if list(X.columns) != expected:
        missing = sorted(set(expected) - set(X.columns))
        extra = sorted(set(X.columns) - set(expected))
        raise ValueError(
            "X does not have the booster's feature columns in order"
            + (f"; missing {missing}" if missing else "")
            + (f"; unexpected {extra}" if extra else "")
        )


#: what can be explained: a booster, or a bundle of either family
Model = lgb.Booster | ModelBundle


def contributions(model: Model, X: pd.DataFrame, *, threads: int | None = None) -> pd.DataFrame:
    """Exact contributions (raw margin space), one column per feature plus
    ``base_value``; each row sums to the model's raw score for that incident.
    ``threads=1`` suits a few rows (see :meth:`ModelBundle.predict_raw`)."""
    if isinstance(model, ModelBundle):
        _check_columns(model.booster, X)
        raw = model.contributions(X, threads=threads)
    else:
        _check_columns(model, X)
        array = lightgbm_array(X, model.pandas_categorical)
        options: dict[str, Any] = {} if threads is None else {"num_threads": threads}
        raw = np.asarray(model.predict(array, pred_contrib=True, **options), dtype=np.float64)
    return pd.DataFrame(raw, columns=[*X.columns, BASE_VALUE], index=X.index)


def explain_incidents(
    model: Model,
    X: pd.DataFrame,
    catalogue: Sequence[FeatureInfo],
    *,
    top: int = 5,
    ids: Sequence[str] | None = None,
    threads: int | None = None,
) -> list[IncidentExplanation]:
    """The ``top`` reasons of each row of ``X``, largest |contribution| first; features
    that contributed exactly nothing are never shown."""
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    if ids is not None and len(ids) != len(X):
        raise ValueError(f"ids has {len(ids)} entries for {len(X)} incidents")
    info = {f.name: f for f in catalogue}
    unknown = [c for c in X.columns if c not in info]
    if unknown:
        raise ValueError(f"features missing from the catalogue: {unknown}")
    contrib = contributions(model, X, threads=threads)
    phi = contrib.drop(columns=BASE_VALUE).to_numpy()
    base = contrib[BASE_VALUE].to_numpy()
    k = min(top, phi.shape[1])
    # stable sort: equal magnitudes keep catalogue order
    order = np.argsort(-np.abs(phi), axis=1, kind="stable")[:, :k]
    names = list(X.columns)
    known = (
        X["perpetrator_known"].to_numpy(dtype=bool)
        if "perpetrator_known" in X.columns
        else np.ones(len(X), dtype=bool)
    )
    out = []
    for i in range(len(X)):
        reasons = []
        for j in order[i]:
            c = float(phi[i, j])
            if c == 0.0:
                break
            name = names[j]
            value = X[name].iloc[i]  # in its column's own dtype, not a row's common one
            reason = Reason(
                feature=name,
                text=describe_value(info[name], value),
                contribution=c,
                value=_python(value),
            )
            reasons.append(reason if known[i] else for_unknown_suspect(reason))
        out.append(
            IncidentExplanation(
                incident=None if ids is None else str(ids[i]),
                base_value=float(base[i]),
                raw_score=float(base[i] + phi[i].sum()),
                reasons=tuple(reasons),
            )
        )
    return out


def _import_shap() -> Any:
    with warnings.catch_warnings():
        # shap 0.51 calls Colormap.set_bad/set_over/set_under at import, which
        # matplotlib 3.10 marks as pending deprecation; nothing we can act on.
        warnings.filterwarnings(
            "ignore", r"The set_\w+ function will be deprecated", PendingDeprecationWarning
        )
        import shap
    return shap


def _numeric(X: pd.DataFrame) -> npt.NDArray[np.float64]:
    """Feature values for colouring the beeswarm: category codes, NaN if missing."""
    cols = []
    for name in X.columns:
        col = X[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            codes = col.cat.codes.to_numpy(dtype=np.float64)
            cols.append(np.where(codes < 0, np.nan, codes))
        else:
            cols.append(pd.to_numeric(col).to_numpy(dtype=np.float64, na_value=np.nan))
    return np.column_stack(cols)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def global_explanation(
    model: Model,
    X: pd.DataFrame,
    catalogue: Sequence[FeatureInfo] = (),
    *,
    sample: int = 2000,
    seed: int = 0,
    max_display: int = 20,
) -> GlobalExplanation:
    """SHAP summary of the model on up to ``sample`` rows of ``X`` drawn with ``seed``."""
    shap = _import_shap()
    rows = X if len(X) <= sample else X.sample(n=sample, random_state=seed)
    if isinstance(model, ModelBundle) and model.family != "lightgbm":
        exact = contributions(model, rows).to_numpy()  # linear: exact, no sampling
        values, base_values = exact[:, :-1], exact[:, -1]
    else:
        booster = model.booster if isinstance(model, ModelBundle) else model
        _check_columns(booster, X)
        explained = shap.TreeExplainer(booster)(rows)  # the call form; .shap_values() warns
        values = np.asarray(explained.values, dtype=np.float64)
        base_values = np.asarray(explained.base_values, dtype=np.float64)
    base = float(np.ravel(base_values)[0])
    mean_abs = np.abs(values).mean(axis=0)
    order = np.argsort(-mean_abs, kind="stable")
    names = list(X.columns)
    plotted = shap.Explanation(
        values=values,
        base_values=base_values,
        data=_numeric(rows),
        feature_names=names,
    )
    shown = min(max_display, len(names))
    beeswarm = Figure(figsize=(9, 0.4 * shown + 1.5))
    shap.plots.beeswarm(
        plotted, max_display=shown, ax=beeswarm.add_subplot(), show=False, plot_size=None
    )
    bar = Figure(figsize=(9, 0.4 * shown + 1.5))
    shap.plots.bar(plotted, max_display=shown, ax=bar.add_subplot(), show=False)
    # a feature in general, not one incident's value: "perpetrator aged … at this incident"
    descriptions = {f.name: f.description.replace("{value}", "…") for f in catalogue}
    return GlobalExplanation(
        base_value=base,
        sample_size=len(rows),
        mean_abs_shap={names[j]: float(mean_abs[j]) for j in order},
        descriptions={n: descriptions[n] for n in names if n in descriptions},
        beeswarm_png=_png(beeswarm),
        bar_png=_png(bar),
    )


def write_global_explanation(explanation: GlobalExplanation, out_dir: str | Path) -> list[Path]:
    """Write the beeswarm and bar plots and the mean-|SHAP| JSON (``SHAP_FILES``)."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    beeswarm, bar, summary = (folder / name for name in SHAP_FILES)
    beeswarm.write_bytes(explanation.beeswarm_png)
    bar.write_bytes(explanation.bar_png)
    summary.write_text(json.dumps(explanation.to_dict(), indent=2, allow_nan=False) + "\n")
    return [beeswarm, bar, summary]
