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
history (online), with the same answers. Every rule is array work on the shared
window primitives (bounds by ``searchsorted``, counts by prefix sums, the order in
force by a binary search over range maxima), so a county's 60,000 incidents take well
under a second; Python touches only the text and evidence of alerts that fire.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pandas as pd

from triage.contract.harm import HarmWeights, load_harm_weights
from triage.contract.names import Extract
from triage.exceptions import ConfigError
from triage.features.alert_spec import (
    DEFAULT_ALERT_SPEC,
    AlertSpec,
    CourseOfConduct,
    OrderBreach,
    RisingFrequency,
    SerialPerpetrator,
    load_alert_spec,
)
from triage.features.windows import (
    NS_PER_DAY,
    IntArray,
    RangeMax,
    Sorted,
    Timeline,
    codes_for,
    pair_codes,
    prefix,
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


class _Context:
    """Codes and instant ranks of the records and the queries, in one code space."""

    def __init__(self, history: Extract, query: pd.DataFrame) -> None:
        rec = history.incidents
        self.rec_ids = rec["incident_id"].astype(str).to_numpy()
        self.rec_types = rec["incident_type"].astype(str).to_numpy()
        self.rec_ns, self.q_ns = to_ns(rec["reported_at"]), to_ns(query["reported_at"])
        orders = history.orders
        bounds = [] if orders is None else [to_ns(orders["start_at"]), to_ns(orders["end_at"])]
        self.order_bounds = bounds
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

    @cached_property
    def pairs(self) -> Sorted:
        """Every record of a known pair, by pair then instant."""
        return Sorted(self.rec_pair, self.rec_rank)

    def rank_before(self, days: int | float) -> IntArray:
        """Per query, the first rank at or after ``reported_at - days``."""
        return self.timeline.first_at_or_after(self.q_ns - np.int64(days * NS_PER_DAY))

    def evidence(self, index: Sorted, lo: IntArray, hi: IntArray) -> list[tuple[str, ...]]:
        """The ids of each range ``[lo, hi)`` of ``index``, newest first."""
        flat, group = _newest_first(index.rows, lo, hi, _MAX_EVIDENCE)
        return _tuples(self.rec_ids, flat, group, len(lo))


#: per rule: the query rows it fires on (ascending), their summaries and evidence
Found = tuple[IntArray, list[str], list[tuple[str, ...]]]


def _newest_first(
    rows: IntArray, lo: IntArray, hi: IntArray, limit: int
) -> tuple[IntArray, IntArray]:
    """The record rows of each sorted range ``[lo, hi)``, newest first and at most
    ``limit`` of them, as one flat array, with the range each one belongs to."""
    n = np.clip(hi - lo, 0, limit)
    group = np.repeat(np.arange(len(n), dtype=np.int64), n)
    offset = np.arange(len(group), dtype=np.int64) - np.repeat(np.cumsum(n) - n, n)
    return rows[np.repeat(hi - 1, n) - offset], group


def _tuples(
    ids: npt.NDArray[np.object_], flat: IntArray, group: IntArray, groups: int
) -> list[tuple[str, ...]]:
    """The ids of ``flat`` as one tuple per group (groups contiguous, ascending)."""
    values = ids[flat].tolist()
    ends = np.cumsum(np.bincount(group, minlength=groups)).tolist()
    return [tuple(values[a:b]) for a, b in zip([0, *ends][:-1], ends, strict=True)]


def _course_of_conduct(rule: CourseOfConduct, ctx: _Context) -> Found:
    index = Sorted(ctx.rec_pair, ctx.rec_rank, mask=np.isin(ctx.rec_types, rule.types))
    lo = index.position(ctx.q_pair, ctx.rank_before(rule.window_days))
    hi = index.position(ctx.q_pair, ctx.q_rank)
    fired = np.flatnonzero((ctx.q_pair >= 0) & (hi - lo >= rule.min_count))
    lo, hi = lo[fired], hi[fired]
    # which kinds occur in each range: one prefix count per kind, named once per mix
    kinds = sorted({t.replace("_", " ") for t in rule.types})
    in_order = index.take(ctx.rec_types)
    mix = np.zeros(len(fired), dtype=np.int64)
    for kind in set(rule.types):
        seen = prefix(in_order == kind, np.int64)
        bit = kinds.index(kind.replace("_", " "))
        mix |= (seen[hi] - seen[lo] > 0).astype(np.int64) << bit
    names = {
        m: ", ".join(k for bit, k in enumerate(kinds) if m >> bit & 1) for m in set(mix.tolist())
    }
    after = np.where(ctx.relationship[fired] == "ex_partner", ", after the relationship ended", "")
    text = [
        f"{n} incidents ({names[m]}) by this perpetrator against this victim in the last "
        f"{rule.window_days} days{a}"
        for n, m, a in zip((hi - lo).tolist(), mix.tolist(), after.tolist(), strict=True)
    ]
    return fired, text, ctx.evidence(index, lo, hi)


def _order_breach(rule: OrderBreach, ctx: _Context) -> Found:
    none: Found = (np.empty(0, np.int64), [], [])
    if ctx.orders is None or not len(ctx.orders):
        return none
    start_ns, end_ns = ctx.order_bounds
    start = ctx.timeline.first_at_or_after(start_ns)
    open_ended = end_ns == np.iinfo(np.int64).min
    end = np.where(open_ended, np.iinfo(np.int64).max, ctx.timeline.first_at_or_after(end_ns))
    # by (person, start), equal starts latest row first: of a person's orders known
    # before an incident, the last one still in force is the latest made (first listed)
    k = np.flatnonzero(ctx.order_perp >= 0)
    k = k[np.lexsort((-k, start[k], ctx.order_perp[k]))]
    orders = Sorted(ctx.order_perp, start, rows=k)
    lo = orders.position(ctx.q_perp, np.zeros_like(ctx.q_rank))
    hi = orders.position(ctx.q_perp, ctx.q_rank)  # known: started strictly before
    live = _last_at_least(end[orders.rows], lo, hi, ctx.q_rank)  # not ended strictly before
    chosen = orders.rows[np.maximum(live, 0)]
    # made after an earlier incident of this pair, so it protects this victim
    pairs = ctx.pairs
    first = pairs.position(ctx.q_pair, np.zeros_like(ctx.q_rank))
    before = pairs.position(ctx.q_pair, start[chosen])
    fired = np.flatnonzero((live >= 0) & (ctx.q_pair >= 0) & (before > first))
    chosen, first, before = chosen[fired], first[fired], before[fired]
    made, at = np.unique(chosen, return_inverse=True)
    text = _order_texts(ctx.orders.iloc[made], open_ended[made])
    return fired, [text[j] for j in at.tolist()], ctx.evidence(pairs, first, before)


def _last_at_least(values: IntArray, lo: IntArray, hi: IntArray, bound: IntArray) -> IntArray:
    """Per range ``[lo, hi)``, the last position whose value is >= ``bound`` (-1: none):
    a binary search on the range's suffix maxima, all ranges at once."""
    if not len(values):
        return np.full(len(lo), -1, dtype=np.int64)
    table = RangeMax(values, int((hi - lo).max(initial=0)))
    low, high = lo.copy(), hi.copy()  # max of [low, hi) >= bound; of [high, hi) not
    found = table.query(lo, hi, np.iinfo(np.int64).min) >= bound
    while True:
        open_ = np.flatnonzero(found & (high - low > 1))
        if not len(open_):
            break
        mid = (low[open_] + high[open_]) // 2
        ok = table.query(mid, hi[open_], np.iinfo(np.int64).min) >= bound[open_]
        low[open_[ok]] = mid[ok]
        high[open_[~ok]] = mid[~ok]
    return np.where(found, low, -1)


def _order_texts(orders: pd.DataFrame, open_ended: npt.NDArray[np.bool_]) -> list[str]:
    kinds = [_ORDER_NAMES.get(k, k) for k in orders["order_type"].astype(str)]
    since = orders["start_at"].dt.strftime("%d %b %Y").tolist()
    until = orders["end_at"].dt.strftime(", until %d %b %Y").tolist()
    return [
        f"a {kind} on the perpetrator in force since {s}{'' if o else u}"
        for kind, s, u, o in zip(kinds, since, until, open_ended.tolist(), strict=True)
    ]


def _rising_frequency(rule: RisingFrequency, ctx: _Context) -> Found:
    index = ctx.pairs
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
    fired = np.flatnonzero(fires)
    text = [
        f"{n} incidents of this pair in the last {rule.recent_days} days, against "
        f"about {e:.1f} at their earlier rate"
        for n, e in zip(recent[fired].tolist(), expected[fired].tolist(), strict=True)
    ]
    return fired, text, ctx.evidence(index, recent_from[fired], now[fired])


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
    # this pair's own first record is among them when it is earlier than the incident
    joined = np.full(len(ctx.rec_pair) + len(ctx.q_pair) + 1, np.iinfo(np.int64).max)
    joined[ctx.rec_pair[first]] = ctx.rec_rank[first]
    own = (ctx.q_pair >= 0) & (joined[ctx.q_pair] < ctx.q_rank)
    others = hi - lo - own
    fired = np.flatnonzero((ctx.q_perp >= 0) & (others + 1 >= rule.min_victims))
    # the newest records, one more than shown in case the pair's own is among them
    flat, group = _newest_first(index.rows, lo[fired], hi[fired], _MAX_EVIDENCE + 1)
    keep = ctx.rec_pair[flat] != ctx.q_pair[fired][group]
    flat, group = flat[keep], group[keep]
    place = np.arange(len(group)) - np.searchsorted(group, group, side="left")
    keep = place < _MAX_EVIDENCE
    evidence = _tuples(ctx.rec_ids, flat[keep], group[keep], len(fired))
    text = [f"this perpetrator has {n} other victim(s) on record" for n in others[fired].tolist()]
    return fired, text, evidence


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
    found = [_RULES[rule.rule](rule, ctx) for rule in spec.alerts]  # type: ignore[operator]
    at = np.concatenate([f[0] for f in found] or [np.empty(0, np.int64)])
    rank = np.repeat(np.arange(len(found)), [len(f[0]) for f in found])
    order = np.lexsort((rank, at)).tolist()
    rules = [r for r, f in zip(spec.alerts, found, strict=True) for _ in range(len(f[0]))]
    summaries = [s for f in found for s in f[1]]
    evidence = [e for f in found for e in f[2]]
    rows = [
        (ids[at[j]], rules[j].name, rules[j].title, summaries[j], rules[j].action, evidence[j])
        for j in order
    ]
    return pd.DataFrame(rows, columns=list(ALERT_COLUMNS))


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
