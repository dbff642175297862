"""Query and path parameters of the pages, read as strictly as the API reads its own:
ASCII digits only (``str.isdigit`` accepts ``²`` and ``٣``, which ``int`` then refuses
or reads), bounds checked before any work, and a day within a range the calendar
arithmetic of a page (the day before, the day after) and the store can hold."""

from __future__ import annotations

import datetime as dt
import re

__all__ = ["MAX_DAY", "MIN_DAY", "day", "whole_number"]

#: the days a queue can be asked for: no incident is reported before or after them
MIN_DAY = dt.date(1900, 1, 1)
MAX_DAY = dt.date(2199, 12, 31)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MAX_DIGITS = 18


def whole_number(raw: str, low: int, high: int) -> int | None:
    """``raw`` as a whole number from ``low`` to ``high``, or None."""
    if not raw or len(raw) > _MAX_DIGITS or not (raw.isascii() and raw.isdigit()):
        return None
    number = int(raw)
    return number if low <= number <= high else None


def day(raw: str) -> dt.date | None:
    """``raw`` as a day written YYYY-MM-DD from :data:`MIN_DAY` to :data:`MAX_DAY`, or None."""
    if not _DAY.fullmatch(raw):
        return None
    try:
        parsed = dt.date.fromisoformat(raw)
    except ValueError:
        return None
    return parsed if MIN_DAY <= parsed <= MAX_DAY else None
