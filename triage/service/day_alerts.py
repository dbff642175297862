"""The day's course-of-conduct alerts, computed once for each state of the store.

A day's alerts depend only on the incidents asked about and on the records and orders
stored (point-in-time, docs/architecture.md §5). Stored incidents, orders and person
versions are never changed or removed, only added, so their counts and the latest
ingest time mark the store's state: an ingest or a correction changes the mark, a
review or a read never does. A queue read of the same day and grades at the same mark
reuses the alerts instead of reading the day's whole history again (the costliest
part of a read with alerts)."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from triage.service.chronology import AlertQuery, AlertView, alerts_for
from triage.service.tables import IncidentRow, OrderRow, PersonVersionRow

__all__ = ["CACHED_READS", "DayAlerts", "day_alerts", "store_mark"]

#: (day, grades) kept per database: a few queues over a few recent days
CACHED_READS = 16

DayAlerts = dict[str, tuple[AlertView, ...]]


class _Cache:
    """One database's cached alerts, least recently used first."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: OrderedDict[Hashable, tuple[tuple[str, ...], DayAlerts]] = OrderedDict()

    def get(self, key: Hashable, ids: tuple[str, ...]) -> DayAlerts | None:
        with self.lock:
            found = self.entries.get(key)
            if found is None or found[0] != ids:
                return None
            self.entries.move_to_end(key)
            return found[1]

    def put(self, key: Hashable, ids: tuple[str, ...], alerts: DayAlerts) -> None:
        with self.lock:
            self.entries[key] = (ids, alerts)
            self.entries.move_to_end(key)
            while len(self.entries) > CACHED_READS:
                self.entries.popitem(last=False)


#: by engine: a store opened anew (another database, a recreated file) starts empty
_CACHES: weakref.WeakKeyDictionary[Any, _Cache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def store_mark(session: Session) -> tuple[Any, ...]:
    """What changes whenever a row the alerts could read is added: the counts of
    incidents, orders and person versions, and the latest ingest time."""
    incidents, latest = session.execute(
        select(func.count(), func.max(IncidentRow.ingested_at)).select_from(IncidentRow)
    ).one()
    orders = session.scalar(select(func.count()).select_from(OrderRow))
    versions = session.scalar(select(func.count()).select_from(PersonVersionRow))
    return int(incidents), latest, int(orders or 0), int(versions or 0)


def _cache_of(session: Session) -> _Cache:
    bind = session.get_bind()
    with _CACHES_LOCK:
        cache = _CACHES.get(bind)
        if cache is None:
            cache = _CACHES[bind] = _Cache()
        return cache


def day_alerts(
    session: Session, queries: Sequence[AlertQuery], where: Sequence[Any], key: Hashable
) -> DayAlerts:
    """:func:`~triage.service.chronology.alerts_for` of a day's ``queries`` (``where``
    selects them; ``key`` names the selection, e.g. its day and grades), reused while
    the store's mark and the queries are unchanged. The mark is read first, in the
    same transaction: a change committed meanwhile makes the next read's mark differ."""
    cache = _cache_of(session)
    full_key = (key, store_mark(session))
    ids = tuple(q.incident_id for q in queries)
    found = cache.get(full_key, ids)
    if found is None:
        found = alerts_for(session, queries, where)
        cache.put(full_key, ids, found)
    return dict(found)
