"""Course-of-conduct alerts (docs/architecture.md §5, §12): rules over the records
reported strictly before an incident, each with its evidence and a suggested action.

An alert looks across incidents for a pattern no single incident shows: repeated
harassment of one victim by one perpetrator, an incident while an order on the
perpetrator is in force, a pair's incidents becoming more frequent, a perpetrator
with several victims. Rules are a spec (``features/alerts.yaml``), not code.

The point-in-time rule is the features' own (:mod:`triage.features.build`): only
records with ``reported_at`` strictly earlier than the incident's count, records at
the same instant never do, and an order is known from its start. The same function
serves a whole extract (batch) and the new incidents of a day against the stored
history (online), with the same answers. Bounds are ``searchsorted`` on the shared
window primitives; only the evidence of an alert that fires is gathered row by row.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from triage.config import load_yaml_model
from triage.contract.harm import HarmWeights, load_harm_weights
from triage.contract.names import Extract
from triage.exceptions import ConfigError
from triage.features.windows import (
    NS_PER_DAY,
    IntArray,
    Sorted,
    Timeline,
    codes_for,
    pair_codes,
    to_ns,
)

__all__ = [
    "ALERT_COLUMNS",
    "DEFAULT_ALERT_SPEC",
    "AlertSpec",
    "CourseOfConduct",
    "OrderBreach",
    "RisingFrequency",
    "SerialPerpetrator",
    "alerts_by_incident",
    "build_alerts",
    "load_alert_spec",
]

DEFAULT_ALERT_SPEC = "features/alerts.yaml"
#: the columns of :func:`build_alerts`' frame; ``evidence`` holds the earlier
#: incident ids behind the alert, newest first
ALERT_COLUMNS = ("incident_id", "rule", "title", "summary", "action", "evidence")
_MAX_EVIDENCE = 20
_ORDER_NAMES = {
    "dvpn": "Domestic Violence Protection Notice",
    "dvpo": "Domestic Violence Protection Order",
    "non_molestation": "non-molestation order",
    "restraining": "restraining order",
    "stalking_protection": "Stalking Protection Order",
    "bail_conditions": "bail conditions",
}


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = Field(min_length=1)
    action: str = Field(min_length=1)


class CourseOfConduct(_Rule):
    """At least ``min_count`` incidents of ``types`` by the same perpetrator against
    the same victim in the last ``window_days``."""

    rule: Literal["course_of_conduct"]
    types: tuple[str, ...] = Field(min_length=1)
    window_days: int = Field(gt=0, le=36_500)
    min_count: int = Field(ge=1)


class OrderBreach(_Rule):
    """An order on the perpetrator is in force, made after an earlier incident of
    this pair (so it protects this victim)."""

    rule: Literal["order_breach"]


class RisingFrequency(_Rule):
    """At least ``min_recent`` incidents of the pair in ``recent_days``, and at least
    ``ratio`` times what their earlier rate predicts: the rate over the
    ``baseline_days`` before, or over the part of them since the pair's first record
    (an expectation below one incident counts as one). A pair with no record before
    the recent days has no earlier rate, so it never fires."""

    rule: Literal["rising_frequency"]
    recent_days: int = Field(gt=0, le=3650)
    baseline_days: int = Field(gt=0, le=36_500)
    min_recent: int = Field(ge=1)
    ratio: float = Field(gt=1)


class SerialPerpetrator(_Rule):
    """The perpetrator has at least ``min_victims`` victims, counting this one."""

    rule: Literal["serial_perpetrator"]
    min_victims: int = Field(ge=2)


AlertRule = Annotated[
    CourseOfConduct | OrderBreach | RisingFrequency | SerialPerpetrator,
    Field(discriminator="rule"),
]


class AlertSpec(BaseModel):
    """The alert rules, in the order a reviewer reads them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alerts: tuple[AlertRule, ...]

    @model_validator(mode="after")
    def _unique_names(self) -> AlertSpec:
        names = [a.name for a in self.alerts]
        if len(set(names)) != len(names):
            raise ValueError(f"alert names must be unique, got {names}")
        return self


def load_alert_spec(path: str | Path | None = None) -> AlertSpec:
    """Load an alert spec (default: the shipped ``features/alerts.yaml``)."""
    return load_yaml_model(path, DEFAULT_ALERT_SPEC, AlertSpec, "alert spec")


class _Context:
    """Codes and instant ranks of the records and the queries, in one code space."""

    def __init__(self, history: Extract, query: pd.DataFrame) -> None:
        rec = history.incidents
        self.rec_ids = rec["incident_id"].astype(str).to_numpy()
        self.rec_types = rec["incident_type"].astype(str).to_numpy()
        self.rec_ns, self.q_ns = to_ns(rec["reported_at"]), to_ns(query["reported_at"])
        orders = history.orders
        bounds = [] if orders is None else [to_ns(orders["start_at"]), to_ns(orders["end_at"])]
        # order bounds are instants too, so "ended before the incident" is exact
        self.timeline = Timeline([self.rec_ns, self.q_ns, *bounds])
        self.rec_rank = self.timeline.first_at_or_after(self.rec_ns)
        self.q_rank = self.timeline.first_at_or_after(self.q_ns)
        order_people = [] if orders is None else [orders["person_id"]]
        rv, qv = codes_for(rec["victim_id"], query["victim_id"])
        rp, qp, *op = codes_for(rec["perpetrator_id"], query["perpetrator_id"], *order_people)
        pairs = pair_codes(np.concatenate([rv, qv]), np.concatenate([rp, qp]))
        self.rec_pair, self.q_pair = pairs[: len(rv)], pairs[len(rv) :]
        self.rec_perp, self.q_perp = rp, qp
        self.order_perp = op[0] if op else np.empty(0, np.int64)
        self.orders = orders
        self.relationship = query["relationship"].astype(str).to_numpy()

    def rank_before(self, days: int | float) -> IntArray:
        """Per query, the first rank at or after ``reported_at - days``."""
        return self.timeline.first_at_or_after(self.q_ns - np.int64(days * NS_PER_DAY))

    def evidence(self, index: Sorted, lo: int, hi: int) -> tuple[str, ...]:
        rows = index.rows[lo:hi][::-1][:_MAX_EVIDENCE]
        return tuple(self.rec_ids[rows])


Found = list[tuple[int, str, tuple[str, ...]]]


def _course_of_conduct(rule: CourseOfConduct, ctx: _Context) -> Found:
    index = Sorted(ctx.rec_pair, ctx.rec_rank, mask=np.isin(ctx.rec_types, rule.types))
    lo = index.position(ctx.q_pair, ctx.rank_before(rule.window_days))
    hi = index.position(ctx.q_pair, ctx.q_rank)
    out: Found = []
    for i in np.flatnonzero((ctx.q_pair >= 0) & (hi - lo >= rule.min_count)):
        evidence = ctx.evidence(index, lo[i], hi[i])
        kinds = sorted({t.replace("_", " ") for t in ctx.rec_types[index.rows[lo[i] : hi[i]]]})
        text = (
            f"{hi[i] - lo[i]} incidents ({', '.join(kinds)}) by this perpetrator against this "
            f"victim in the last {rule.window_days} days"
        )
        if ctx.relationship[i] == "ex_partner":
            text += ", after the relationship ended"
        out.append((int(i), text, evidence))
    return out


def _order_breach(rule: OrderBreach, ctx: _Context) -> Found:
    if ctx.orders is None or not len(ctx.orders):
        return []
    start = ctx.timeline.first_at_or_after(to_ns(ctx.orders["start_at"]))
    end_ns = to_ns(ctx.orders["end_at"])
    open_ended = end_ns == np.iinfo(np.int64).min
    end = np.where(open_ended, np.iinfo(np.int64).max, ctx.timeline.first_at_or_after(end_ns))
    by_person: dict[int, list[int]] = defaultdict(list)
    for k, person in enumerate(ctx.order_perp):
        if person >= 0:
            by_person[int(person)].append(k)
    pair_index = Sorted(ctx.rec_pair, ctx.rec_rank)
    out: Found = []
    for i in np.flatnonzero(ctx.q_perp >= 0):
        # in force: known (started strictly before) and not ended strictly before
        live = [
            k
            for k in by_person.get(int(ctx.q_perp[i]), ())
            if start[k] < ctx.q_rank[i] and end[k] >= ctx.q_rank[i]
        ]
        for k in sorted(live, key=lambda k: -start[k]):
            code = np.array([ctx.q_pair[i]])
            lo = pair_index.position(code, np.zeros(1, np.int64))[0]
            hi = pair_index.position(code, np.array([start[k]]))[0]
            if ctx.q_pair[i] < 0 or hi <= lo:
                continue  # no earlier incident of this pair: not this victim's order
            order = ctx.orders.iloc[k]
            text = (
                f"a {_ORDER_NAMES.get(str(order['order_type']), str(order['order_type']))} "
                f"on the perpetrator in force since {order['start_at']:%d %b %Y}"
                + ("" if open_ended[k] else f", until {order['end_at']:%d %b %Y}")
            )
            out.append((int(i), text, ctx.evidence(pair_index, lo, hi)))
            break
    return out


def _rising_frequency(rule: RisingFrequency, ctx: _Context) -> Found:
    index = Sorted(ctx.rec_pair, ctx.rec_rank)
    now = index.position(ctx.q_pair, ctx.q_rank)
    recent_from = index.position(ctx.q_pair, ctx.rank_before(rule.recent_days))
    base_from = index.position(ctx.q_pair, ctx.rank_before(rule.recent_days + rule.baseline_days))
    recent, base = now - recent_from, recent_from - base_from
    first = index.position(ctx.q_pair, np.zeros_like(ctx.q_rank))
    seen = ctx.rec_ns[index.rows[np.minimum(first, max(len(index) - 1, 0))]] if len(index) else 0
    cut = ctx.q_ns - np.int64(rule.recent_days * NS_PER_DAY)
    span = np.minimum(rule.baseline_days, (cut - seen) / NS_PER_DAY)
    fires = (ctx.q_pair >= 0) & (recent >= rule.min_recent) & (base >= 1) & (span > 0)
    expected = np.where(fires, base * rule.recent_days / np.where(span > 0, span, 1), 0.0)
    fires &= recent >= rule.ratio * np.maximum(expected, 1.0)
    return [
        (
            int(i),
            f"{recent[i]} incidents of this pair in the last {rule.recent_days} days, against "
            f"about {expected[i]:.1f} at their earlier rate",
            ctx.evidence(index, recent_from[i], now[i]),
        )
        for i in np.flatnonzero(fires)
    ]


def _serial_perpetrator(rule: SerialPerpetrator, ctx: _Context) -> Found:
    valid = np.flatnonzero(ctx.rec_pair >= 0)
    # each pair's first record: where its victim joins the perpetrator's record
    order = valid[np.lexsort((ctx.rec_rank[valid], ctx.rec_pair[valid]))]
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = ctx.rec_pair[order][1:] != ctx.rec_pair[order][:-1]
    first = order[starts]
    mask = np.zeros(len(ctx.rec_pair), dtype=bool)
    mask[first] = True
    index = Sorted(ctx.rec_perp, ctx.rec_rank, mask=mask)
    lo = index.position(ctx.q_perp, np.zeros_like(ctx.q_rank))
    hi = index.position(ctx.q_perp, ctx.q_rank)
    out: Found = []
    for i in np.flatnonzero((ctx.q_perp >= 0) & (hi - lo >= rule.min_victims - 1)):
        rows = index.rows[lo[i] : hi[i]]
        others = rows[ctx.rec_pair[rows] != ctx.q_pair[i]]
        if len(others) + 1 < rule.min_victims:
            continue
        text = f"this perpetrator has {len(others)} other victim(s) on record"
        out.append((int(i), text, tuple(ctx.rec_ids[others[::-1][:_MAX_EVIDENCE]])))
    return out


_RULES = {
    "course_of_conduct": _course_of_conduct,
    "order_breach": _order_breach,
    "rising_frequency": _rising_frequency,
    "serial_perpetrator": _serial_perpetrator,
}


def build_alerts(
    history: Extract,
    queries: pd.DataFrame | None = None,
    spec: AlertSpec | None = None,
    *,
    harm_weights: HarmWeights | None = None,
) -> pd.DataFrame:
    """The alerts of ``queries`` (default: every incident of ``history``) as of each
    one's ``reported_at``: one row per incident and rule that fires, in query order
    then the spec's rule order, with the columns of :data:`ALERT_COLUMNS`."""
    spec = spec if spec is not None else load_alert_spec()
    harm = harm_weights if harm_weights is not None else load_harm_weights()
    _check_types(spec, harm)
    query = history.incidents if queries is None else queries.reset_index(drop=True)
    ctx = _Context(history, query)
    ids = query["incident_id"].astype(str).to_numpy()
    rows = []
    for rank, rule in enumerate(spec.alerts):
        for i, summary, evidence in _RULES[rule.rule](rule, ctx):  # type: ignore[operator]
            rows.append((i, rank, ids[i], rule.name, rule.title, summary, rule.action, evidence))
    rows.sort(key=lambda r: (r[0], r[1]))
    return pd.DataFrame([r[2:] for r in rows], columns=list(ALERT_COLUMNS))


def _check_types(spec: AlertSpec, harm: HarmWeights) -> None:
    known = set(harm.names)
    for rule in spec.alerts:
        if isinstance(rule, CourseOfConduct):
            unknown = sorted(set(rule.types) - known)
            if unknown:
                raise ConfigError(
                    f"alert {rule.name!r}: unknown incident types {unknown} "
                    f"(the harm table has {sorted(known)})"
                )


def alerts_by_incident(alerts: pd.DataFrame) -> dict[str, list[dict[str, object]]]:
    """The alerts of each incident as the API shows them."""
    out: dict[str, list[dict[str, object]]] = defaultdict(list)
    for row in alerts.to_dict("records"):
        out[str(row["incident_id"])].append(
            {
                "rule": row["rule"],
                "summary": row["summary"],
                "action": row["action"],
                "evidence": list(row["evidence"]),
            }
        )
    return dict(out)
