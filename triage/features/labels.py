"""Escalation labels (docs/architecture.md §4), defined by :class:`~triage.config.LabelSpec`.

The label of incident *i* (reported at *t*) with a window of *w* days is true when
some other incident *j* of a qualifying type involves the same people (any one of the
spec's ``match``: same ``victim_id``, same ``perpetrator_id``, or the same ordered
victim–perpetrator pair) and ``t < t_j <= t + w``. Strictly after: incidents at the
same instant as *i*, and *i* itself, never count; ``t + w`` itself does. A missing
``perpetrator_id`` matches nothing, so such an incident can only be labelled through
its victim.

Censoring: the outcome is known only if ``t + w <= end``, where ``end`` is the
extract's end (by default its latest ``reported_at``). Otherwise the label is
missing (``pd.NA``), never negative. Records reported after ``end`` are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from triage.config import LabelSpec
from triage.contract.harm import HarmWeights, load_harm_weights
from triage.contract.names import Extract
from triage.exceptions import ConfigError
from triage.features.incident import category_codes
from triage.features.windows import NS_PER_DAY, Sorted, Timeline, codes_for, pair_codes, to_ns

__all__ = ["build_labels", "label_summary", "qualifying_types"]


def qualifying_types(spec: LabelSpec, harm: HarmWeights) -> frozenset[str]:
    """The incident types that can make ``spec`` positive."""
    if spec.types == "any":
        return frozenset(harm.names)
    if spec.types == "serious":
        return harm.serious_types
    unknown = sorted(set(spec.types) - set(harm.names))
    if unknown:
        raise ConfigError(f"label {spec.name!r}: types {unknown} are not in the harm-weight table")
    return frozenset(spec.types)


def _as_timestamp(end: pd.Timestamp | str | None, default: pd.Timestamp) -> pd.Timestamp:
    if end is None:
        return default
    ts = pd.Timestamp(end)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def build_labels(
    extract: Extract,
    labels: LabelSpec | Sequence[LabelSpec],
    *,
    end: pd.Timestamp | str | None = None,
    harm_weights: HarmWeights | None = None,
) -> pd.DataFrame:
    """One row per incident (extract order): ``incident_id``, ``reported_at`` and a
    nullable-boolean column per label, missing where the window passes ``end``."""
    specs = [labels] if isinstance(labels, LabelSpec) else list(labels)
    harm = harm_weights if harm_weights is not None else load_harm_weights()
    inc = extract.incidents
    out = pd.DataFrame(
        {
            "incident_id": pd.array(inc["incident_id"].to_numpy(), dtype="string"),
            "reported_at": inc["reported_at"].reset_index(drop=True),
        }
    )
    if inc.empty:
        for spec in specs:
            out[spec.name] = pd.array([], dtype="boolean")
        return out
    end_ts = _as_timestamp(end, extract.end)
    ns = to_ns(inc["reported_at"])
    end_ns = int(to_ns(pd.Series([end_ts]))[0])
    victim, perp = codes_for(inc["victim_id"], inc["perpetrator_id"])
    codes = {"victim": victim, "perpetrator": perp, "pair": pair_codes(victim, perp)}
    timeline = Timeline([ns])
    rank = timeline.first_at_or_after(ns)
    after = timeline.first_after(ns)  # first rank strictly after t
    type_code = category_codes(inc["incident_type"], harm.names, "incident types", ConfigError)
    known = ns <= end_ns
    # Queries are looked up in (entity, instant) order, so each search walks forwards.
    orders = {
        e: np.argsort((np.maximum(codes[e], 0) << 32) | rank, kind="stable")
        for e in {e for spec in specs for e in spec.match}
    }
    for spec in specs:
        wanted = np.isin(
            np.arange(len(harm.names)), [harm.names.index(t) for t in qualifying_types(spec, harm)]
        )
        counts = wanted[type_code] & (type_code >= 0) & known
        horizon = ns + spec.window_days * NS_PER_DAY
        upto = timeline.first_after(horizon)  # first rank after t + w
        hit = np.zeros(len(inc), dtype=bool)
        for entity in spec.match:
            o = orders[entity]
            c = codes[entity][o]
            # the qualifying records, already in (entity, instant, row) order
            found = Sorted(codes[entity], rank, rows=o[(c >= 0) & counts[o]])
            hit[o] |= found.position(c, upto[o]) > found.position(c, after[o])
        out[spec.name] = _censor(hit, horizon <= end_ns)
    return out


def _censor(hit: npt.NDArray[np.bool_], observed: npt.NDArray[np.bool_]) -> pd.arrays.BooleanArray:
    return pd.arrays.BooleanArray(hit & observed, mask=~observed)


def label_summary(labels: pd.DataFrame, name: str) -> dict[str, float | int]:
    """Rows, observed, positives, censored and the rate among observed labels."""
    col = labels[name]
    observed = int(col.notna().sum())
    positives = int(col.fillna(False).sum())
    return {
        "rows": len(col),
        "observed": observed,
        "positives": positives,
        "censored": len(col) - observed,
        "rate": positives / observed if observed else float("nan"),
    }
