"""History aggregates (docs/architecture.md §5) for many query incidents at once.

For each entity kind the history is sorted once by (entity, instant); every query
then needs a handful of ``searchsorted`` bounds — the end of its past (records
strictly earlier than its ``reported_at``), the start of each window, the start of
its entity's history — and each aggregate is a gather from prefix sums, a sparse-table
range max, or the latest flagged record before the end. Nothing loops per incident.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from triage.features.catalogue import FeatureInfo
from triage.features.windows import (
    NS_PER_DAY,
    IntArray,
    RangeMax,
    Sorted,
    Timeline,
    count_at_or_before,
    last_position,
    latest_before,
    prefix,
    run_starts,
)

BoolArray = npt.NDArray[np.bool_]
Counts = npt.NDArray[np.int64] | npt.NDArray[np.int32]
HARM_SCALE = 1000  # harm is summed in exact integer thousandths of a day

ORDER_AGGREGATES = frozenset({"orders", "order_active"})

#: record flag behind each counting aggregate
COUNTED: dict[str, str] = {
    "crimes": "crime",
    "serious": "serious",
    "injury": "injury",
    "strangulation": "strangulation",
    "weapon": "weapon",
    "stalking_harassment": "stalking_harassment",
    "breaches": "breach",
    "dash_high": "dash_high",
}


@dataclass(frozen=True)
class Records:
    """Per-record arrays of the history, in history row order."""

    ns: IntArray
    rank: IntArray
    codes: dict[str, IntArray]  # victim, perpetrator, pair (-1 = missing)
    harm: IntArray  # thousandths of a day
    grade: IntArray  # DASH ordinal, 0 = not completed
    ticks: IntArray
    flags: dict[str, BoolArray]


@dataclass(frozen=True)
class Queries:
    """Per-query arrays: the instant each query is known at and its entity codes."""

    ns: IntArray
    rank: IntArray
    codes: dict[str, IntArray]
    timeline: Timeline
    are_records: bool = False  # the queries are the history's records, row for row
    _ranks: dict[str, IntArray] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def window_rank(self, window: int, fraction: float = 1.0) -> IntArray:
        """Rank of the first instant at or after ``t - fraction * window days``.

        The same for every entity kind, so computed once and shared between tasks.
        """
        key = f"{window}*{fraction}"
        with self._lock:
            if key not in self._ranks:
                span = int(window * NS_PER_DAY * fraction)
                self._ranks[key] = self.timeline.first_at_or_after(self.ns - span)
            return self._ranks[key]


@dataclass(frozen=True)
class Orders:
    """Protective orders keyed by person code; an order is known from ``start``."""

    person: IntArray
    start_rank: IntArray
    end_rank: IntArray  # -1 when open-ended


class _Entity:
    """The sorted history of one entity kind and each query's bounds in it."""

    def __init__(self, entity: str, rec: Records, q: Queries, timeline: Timeline) -> None:
        self.entity, self.rec, self.q, self.timeline = entity, rec, q, timeline
        # Queries are handled in (entity, instant) order too: every lookup then walks
        # the sorted history forwards, which is several times faster than at random.
        codes = q.codes[entity]
        self.order = np.argsort(np.where(codes >= 0, (codes << 32) | q.rank, -1), kind="stable")
        self.qcodes, self.qns, self.qrank = codes[self.order], q.ns[self.order], q.rank[self.order]
        if q.are_records:
            # Batch: the queries are the records, so one sort serves both, and a
            # query's past ends where its run of equal (entity, instant) keys starts.
            missing = int(np.count_nonzero(codes < 0))
            self.sorted = Sorted(rec.codes[entity], rec.rank, rows=self.order[missing:])
            self.end = np.concatenate([np.zeros(missing, np.int64), run_starts(self.sorted.keys)])
            self.first = np.concatenate(
                [np.zeros(missing, np.int64), run_starts(self.sorted.codes)]
            )
        else:
            self.sorted = Sorted(rec.codes[entity], rec.rank)
            self.end = self.sorted.position(self.qcodes, self.qrank)
            self.first = self.sorted.position(self.qcodes, np.zeros_like(q.rank))
        self._starts: dict[str, IntArray] = {}
        self._ranks: dict[str, IntArray] = {}
        self._prefix: dict[str, Counts] = {}
        self._at_end: dict[str, Counts] = {}
        self._max: dict[str, RangeMax] = {}
        self._last: dict[str, IntArray] = {}
        self._previous: dict[str, tuple[IntArray, BoolArray]] = {}

    def window_rank(self, window: int | str, fraction: float = 1.0) -> IntArray:
        """Rank of the first instant inside the window of each query (sorted order)."""
        if window == "all":
            return np.zeros_like(self.qrank)
        key = f"{window}*{fraction}"
        if key not in self._ranks:
            self._ranks[key] = self.q.window_rank(int(window), fraction)[self.order]
        return self._ranks[key]

    def start(self, window: int | str, fraction: float = 1.0) -> IntArray:
        if window == "all":
            return self.first
        key = f"{window}*{fraction}"
        if key not in self._starts:
            ranks = self.window_rank(window, fraction)
            self._starts[key] = self.sorted.position(self.qcodes, ranks)
        return self._starts[key]

    def unsort(self, values: npt.NDArray[np.generic], dtype: str) -> npt.NDArray[np.generic]:
        """Values computed in query-entity order, back in query order, cast to ``dtype``
        as they are placed (as ``astype`` would, without a copy in between)."""
        out = np.empty(len(values), dtype=dtype)
        out[self.order] = values
        return out

    def _values(self, name: str) -> npt.NDArray[np.generic]:
        if name == "harm":
            return self.rec.harm
        if name == "grade":
            return self.rec.grade
        if name == "ticks":
            return self.rec.ticks
        return self.rec.flags[name]

    def window_sum(self, name: str, window: int | str, fraction: float = 1.0) -> Counts:
        if name not in self._prefix:
            dtype = np.int64 if name == "harm" else np.int32
            p: Counts = prefix(self.sorted.take(self._values(name)), dtype)
            self._prefix[name], self._at_end[name] = p, p[self.end]
        return self._at_end[name] - self._prefix[name][self.start(window, fraction)]

    def window_max(self, name: str, window: int | str, longest: int) -> IntArray:
        if name not in self._max:
            values = self.sorted.take(self._values(name)).astype(np.int32)
            self._max[name] = RangeMax(values, longest)
        return self._max[name].query(self.start(window), self.end, empty=0)

    def latest(self, flag: str | None) -> tuple[IntArray, BoolArray]:
        """Sorted position of the latest earlier record (with ``flag``), and if any."""
        if flag is None:
            found = self.end > self.first
            return np.where(found, self.end - 1, 0), found
        if flag not in self._last:
            self._last[flag] = last_position(self.sorted.take(self.rec.flags[flag]))
        return latest_before(self._last[flag], self.first, self.end)

    def distinct(self, other: str, window: int | str) -> IntArray:
        """Distinct ``other`` ids among the entity's records in the window.

        Record j at s_j, whose previous record with the same ``other`` id is at u_j,
        is the first of that id inside ``[t - w, t)`` exactly when t lies in
        ``(L_j, s_j + w]`` with ``L_j = max(s_j, u_j + w)``. So the count is
        #{L_j < t} - #{s_j + w < t}; the second is a plain window bound and the
        first one sorted lookup, whatever the window holds.
        """
        prev, valid = self._previous_of(other)
        if window == "all":
            first_of_kind: IntArray = prefix(valid & (prev < 0))
            count: IntArray = first_of_kind[self.end] - first_of_kind[self.first]
            return count
        span = int(window) * NS_PER_DAY
        s = self.rec.ns[self.sorted.rows]
        # rank of the first instant after L_j: after s_j unless u_j + w is later
        opens = self.sorted.keys + 1
        late = np.flatnonzero(valid & (prev >= 0))
        late = late[s[prev[late]] + span > s[late]]
        opens[late] = (self.sorted.codes[late] << 32) | self.timeline.first_after(
            s[prev[late]] + span
        )
        opens = np.sort(opens[valid])
        n_open = count_at_or_before(opens, self.qcodes, self.qrank)
        # n_open counts every valid record of earlier entities too; s_j + w < t holds
        # exactly for the records before the window start, so both cancel here:
        return n_open - prefix(valid)[self.start(window)]

    def _previous_of(self, other: str) -> tuple[IntArray, BoolArray]:
        """Sorted position of the previous record with the same ``other`` id (-1: none)."""
        if other not in self._previous:
            kind = self.sorted.take(self.rec.codes[other])
            # Sorted rows are grouped by entity and in time order within it, so a
            # stable sort by (entity, kind) lists each kind's records in time order.
            combined = self.sorted.codes * (int(kind.max(initial=0)) + 2) + (kind + 1)
            order = np.argsort(combined, kind="stable")
            prev = np.full(len(kind), -1, dtype=np.int64)
            same = combined[order[1:]] == combined[order[:-1]]
            prev[order[1:][same]] = order[:-1][same]
            self._previous[other] = (prev, kind >= 0)
        return self._previous[other]


def _days(delta_ns: IntArray, found: BoolArray) -> npt.NDArray[np.float64]:
    return np.where(found, delta_ns / NS_PER_DAY, np.nan)


def entity_features(
    entity: str,
    infos: list[FeatureInfo],
    rec: Records,
    q: Queries,
    timeline: Timeline,
    orders: Orders | None,
) -> dict[str, npt.NDArray[np.generic]]:
    """Values of every history feature of one entity kind (orders naming it included)."""
    view = _Entity(entity, rec, q, timeline)
    ordered = [f for f in infos if f.aggregate in ORDER_AGGREGATES]
    out: dict[str, npt.NDArray[np.generic]] = {}

    def keep(info: FeatureInfo, value: npt.NDArray[np.generic]) -> None:
        out[info.name] = view.unsort(np.asarray(value), info.dtype)

    if ordered:
        for info, counted in zip(ordered, _order_values(view, ordered, orders), strict=True):
            keep(info, counted)
    infos = [f for f in infos if f.aggregate not in ORDER_AGGREGATES]
    windows = {f.window for f in infos if f.window is not None}
    longest = max((int((view.end - view.start(w)).max(initial=0)) for w in windows), default=0)
    for info in infos:
        agg, win = info.aggregate, info.window
        value: npt.NDArray[np.generic]
        if agg == "count":
            assert win is not None
            value = view.end - view.start(win)
        elif agg in COUNTED:
            assert win is not None
            value = view.window_sum(COUNTED[agg], win)
        elif agg == "harm_sum":
            assert win is not None
            value = view.window_sum("harm", win) / HARM_SCALE
        elif agg == "harm_max":
            assert win is not None
            value = view.window_max("harm", win, longest) / HARM_SCALE
        elif agg == "harm_trend":
            assert win is not None
            whole = view.window_sum("harm", win)
            recent = view.window_sum("harm", win, fraction=0.5)
            value = (recent - (whole - recent)) / HARM_SCALE
        elif agg in ("distinct_victims", "distinct_perpetrators"):
            assert win is not None
            other = "victim" if agg == "distinct_victims" else "perpetrator"
            value = view.distinct(other, win)
        elif agg == "dash_highest_grade":
            assert win is not None
            best = view.window_max("grade", win, longest)
            value = np.where(best > 0, best, np.nan)
        else:
            value = _point_value(view, agg, rec, q)
        keep(info, value)
    return out


def _point_value(view: _Entity, agg: str, rec: Records, q: Queries) -> npt.NDArray[np.generic]:
    if agg in ("days_since_last", "days_since_last_serious"):
        pos, found = view.latest(None if agg == "days_since_last" else "serious")
        last = rec.ns[view.sorted.rows[pos]] if len(view.sorted) else view.qns
        return _days(view.qns - last, found)
    pos, found = view.latest("assessed")
    if not len(view.sorted):
        return np.full(len(view.qns), np.nan)
    source = rec.grade if agg == "dash_last_grade" else rec.ticks
    return np.where(found, source[view.sorted.rows[pos]], np.nan)


def _order_values(
    view: _Entity, infos: list[FeatureInfo], orders: Orders | None
) -> list[npt.NDArray[np.generic]]:
    """Orders naming the entity's person, known from their start (strictly earlier)."""
    if orders is None:
        return [np.full(len(view.qns), np.nan) for _ in infos]
    started = Sorted(orders.person, orders.start_rank)
    ended = Sorted(orders.person, orders.end_rank, mask=orders.end_rank >= 0)
    zeros = np.zeros_like(view.qrank)
    known = started.position(view.qcodes, view.qrank)
    out: list[npt.NDArray[np.generic]] = []
    for info in infos:
        if info.aggregate == "order_active":
            finished = ended.position(view.qcodes, view.qrank) - ended.position(view.qcodes, zeros)
            value: npt.NDArray[np.generic] = (
                known - started.position(view.qcodes, zeros)
            ) > finished
        else:
            assert info.window is not None
            value = known - started.position(view.qcodes, view.window_rank(info.window))
        out.append(value)
    return out
