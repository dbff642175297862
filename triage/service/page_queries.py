"""Read-only queries the reviewer's pages need beyond :mod:`triage.service.reading`:
which day to open on. They show no score, so they write no audit entry."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from triage.service.store import Store
from triage.service.tables import IncidentRow

__all__ = ["day_bounds", "latest_day"]


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants a day's incidents are reported from (inclusive) and before."""
    start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    if day == dt.date.max:
        return start, dt.datetime.max.replace(tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


def latest_day(store: Store, today: dt.date) -> dt.date | None:
    """The latest day up to ``today`` on which an incident was reported, so a reviewer
    opening the queue early (or after a quiet day) lands on work, not an empty page;
    failing that the earliest later day (an extract stamped ahead of the clock), or
    None for an empty store."""
    _, end = day_bounds(today)
    with store.read_session() as s:
        found = s.scalar(
            select(func.max(IncidentRow.reported_at)).where(IncidentRow.reported_at < end)
        )
        if found is None:
            found = s.scalar(select(func.min(IncidentRow.reported_at)))
    if found is None:
        return None
    stamp = found if found.tzinfo else found.replace(tzinfo=dt.UTC)
    return stamp.astimezone(dt.UTC).date()
