"""Vectorised as-of window primitives shared by features and labels.

Records of one entity kind (victim, perpetrator, pair, person with orders) are sorted
by a composite int64 key ``entity_code << 32 | instant_rank``, where ``instant_rank``
is the dense rank of the record's timestamp among every instant in play. Ranks keep
comparisons exact to the nanosecond while leaving room for the entity code, so any
half-open range of instants of one entity is one ``searchsorted`` pair and every
windowed sum is a difference of prefix sums: O(n log n), no loop per incident.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

NS_PER_DAY = 86_400 * 10**9
_SHIFT = np.int64(32)

IntArray = npt.NDArray[np.int64]
_T = TypeVar("_T", bound=np.generic)
_I = TypeVar("_I", bound=np.signedinteger[Any])


def to_ns(values: pd.Series | pd.Index) -> IntArray:
    """UTC nanoseconds since the epoch (naive values are read as UTC); NaT -> int64 min."""
    ts = pd.to_datetime(values, utc=True)
    arr = ts.to_numpy(dtype="datetime64[ns]") if isinstance(ts, pd.Series) else ts.asi8
    return np.asarray(arr).view(np.int64)


def codes_for(*columns: pd.Series) -> list[IntArray]:
    """One shared integer code per distinct id across ``columns``; missing -> -1.

    Codes follow first appearance (as ``pd.factorize``), so the codes of the leading
    columns do not depend on what later columns hold: ``0..k-1`` for their ``k``
    distinct ids, later-only ids after them.
    """
    return code_ids(*id_values(*columns))


def id_values(*columns: pd.Series) -> tuple[npt.NDArray[np.object_], list[int]]:
    """The ids of ``columns`` as one object array, and the length of each column."""
    if not columns:
        return np.empty(0, dtype=object), []
    values = np.concatenate([c.astype(object).to_numpy() for c in columns])
    return values, [len(c) for c in columns]


def code_ids(values: npt.NDArray[np.object_], lengths: Sequence[int]) -> list[IntArray]:
    """``codes_for`` of the columns :func:`id_values` gathered. It reads no frame or
    series, so it can run in a worker thread while the caller reads other columns."""
    if not lengths:
        return []
    codes = pd.factorize(values, use_na_sentinel=True)[0].astype(np.int64)
    return np.split(codes, np.cumsum(lengths)[:-1])


def rows_of(codes: IntArray, distinct: int) -> IntArray:
    """For each code below ``distinct``, the row of ``codes`` (e.g. the people table's
    ids, coded together with the incidents') that carries it (-1: absent); slot -1 (a
    missing code) is always -1."""
    out = np.full(distinct + 1, -1, dtype=np.int64)
    hit = (codes >= 0) & (codes < distinct)
    out[codes[hit]] = np.flatnonzero(hit)
    return out


def pair_codes(first: IntArray, second: IntArray) -> IntArray:
    """Dense codes of ordered pairs; a pair with a missing member is missing (-1)."""
    valid = (first >= 0) & (second >= 0)
    raw = first * (int(max(second.max(initial=0), 0)) + 1) + second
    out = np.full(len(first), -1, dtype=np.int64)
    if valid.any():
        _, inverse = np.unique(raw[valid], return_inverse=True)
        out[valid] = inverse
    return out


class Timeline:
    """Dense ranks of every instant in play, so keys can be exact and compact."""

    def __init__(self, arrays: Sequence[IntArray]) -> None:
        stacked = np.concatenate([a for a in arrays if len(a)] or [np.empty(0, np.int64)])
        # A stable sort merges already-sorted runs (an extract is sorted) in linear time.
        ordered = np.sort(stacked[stacked != np.iinfo(np.int64).min], kind="stable")
        new = np.ones(len(ordered), dtype=bool)
        np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
        self.instants: IntArray = ordered[new]
        if len(self.instants) >= 1 << 32:  # pragma: no cover - 4 billion instants
            raise ValueError("too many distinct instants for 32-bit ranks")

    def first_at_or_after(self, ns: IntArray) -> IntArray:
        """Rank of the first instant >= ``ns`` (records with rank >= it are at/after ns)."""
        return np.searchsorted(self.instants, ns, side="left").astype(np.int64)

    def first_after(self, ns: IntArray) -> IntArray:
        """Rank of the first instant > ``ns``."""
        return np.searchsorted(self.instants, ns, side="right").astype(np.int64)


class Sorted:
    """Records of one entity kind, sorted by (entity code, instant rank).

    ``rows`` maps sorted position -> record row; records with a missing code (or
    outside ``mask``) are left out, so nothing can match through a missing id.
    """

    def __init__(
        self,
        codes: IntArray,
        ranks: IntArray,
        mask: npt.NDArray[np.bool_] | None = None,
        *,
        rows: IntArray | None = None,
    ) -> None:
        if rows is None:  # else: the caller already sorted the rows
            keep = codes >= 0 if mask is None else (codes >= 0) & mask
            pos = np.flatnonzero(keep)
            rows = pos[np.argsort((codes[pos] << _SHIFT) | ranks[pos], kind="stable")]
        self.rows: IntArray = rows
        self.codes: IntArray = codes[rows]
        self.keys: IntArray = (self.codes << _SHIFT) | ranks[rows]

    def __len__(self) -> int:
        return len(self.rows)

    def position(self, codes: IntArray, ranks: IntArray) -> IntArray:
        """Sorted position of the first record of ``codes`` at rank >= ``ranks``.

        A missing code (-1) maps to 0; callers pair it with an equal bound, so the
        range it delimits is empty.
        """
        keys = (np.maximum(codes, 0) << _SHIFT) | np.minimum(ranks, (1 << 32) - 1)
        out = np.searchsorted(self.keys, keys, side="left").astype(np.int64)
        out[codes < 0] = 0
        return out

    def take(self, values: npt.NDArray[_T]) -> npt.NDArray[_T]:
        """``values`` (one per record row) in sorted order."""
        return values[self.rows]


def prefix(
    values: npt.NDArray[np.generic],
    dtype: type[_I] = np.int64,  # type: ignore[assignment]
) -> npt.NDArray[_I]:
    """Exclusive prefix sums: ``p[b] - p[a]`` is the sum over ``[a, b)``. Counts of
    records fit int32, which halves the memory every gather reads."""
    out = np.zeros(len(values) + 1, dtype=dtype)
    np.cumsum(values, dtype=dtype, out=out[1:])
    return out


def last_position(flags: npt.NDArray[np.bool_]) -> IntArray:
    """For each sorted position, the latest position <= it where ``flags`` holds (-1 if none)."""
    marked = np.where(flags, np.arange(len(flags), dtype=np.int64), np.int64(-1))
    return np.maximum.accumulate(marked) if len(marked) else marked


def latest_before(
    last_pos: IntArray, start: IntArray, end: IntArray
) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """Position of the latest flagged record in ``[start, end)`` and whether there is one."""
    if not len(last_pos):
        return np.zeros(len(end), dtype=np.int64), np.zeros(len(end), dtype=bool)
    cand = last_pos[np.maximum(end - 1, 0)]
    found = (end > start) & (cand >= start)
    return np.where(found, cand, 0), found


class RangeMax:
    """Sparse table: the max of any ``[a, b)`` of ``values`` in O(1) after O(n log n)."""

    def __init__(self, values: npt.NDArray[np.integer], longest: int) -> None:
        self.levels: list[npt.NDArray[np.integer]] = [values]
        k = 1
        while (1 << k) <= longest:
            prev, half = self.levels[-1], 1 << (k - 1)
            self.levels.append(np.maximum(prev[:-half], prev[half:]))
            k += 1

    def query(self, a: IntArray, b: IntArray, empty: int) -> IntArray:
        out = np.full(len(a), empty, dtype=np.int64)
        length = b - a
        nonempty = np.flatnonzero(length > 0)
        if not len(nonempty):
            return out
        _, exp = np.frexp(length[nonempty].astype(np.float64))
        level = exp.astype(np.int64) - 1
        for k in np.unique(level):
            sel = nonempty[level == k]
            table = self.levels[int(k)]
            out[sel] = np.maximum(table[a[sel]], table[b[sel] - (1 << int(k))])
        return out


def run_starts(keys: IntArray) -> IntArray:
    """For sorted ``keys``, the first position of each element's run of equal keys."""
    new = np.ones(len(keys), dtype=bool)
    np.not_equal(keys[1:], keys[:-1], out=new[1:])
    return np.maximum.accumulate(np.where(new, np.arange(len(keys), dtype=np.int64), 0))


def count_at_or_before(keys_sorted: IntArray, codes: IntArray, ranks: IntArray) -> IntArray:
    """How many ``keys_sorted`` (``code << 32 | rank``) are <= each query's key."""
    keys = (np.maximum(codes, 0) << _SHIFT) | ranks
    out = np.searchsorted(keys_sorted, keys, side="right").astype(np.int64)
    out[codes < 0] = 0
    return out
