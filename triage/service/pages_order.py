"""How the reviewer's pages narrow and order a day's queue. Filters and sort keys are
whitelists, refused with a message naming the parameter and what it accepts; the same
choice is applied on the queue page and for an incident page's previous and next
links, so "next" follows exactly the rows the reviewer was looking at."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import urlencode

from triage.contract.names import DASH_GRADES
from triage.exceptions import PageProblem
from triage.service import reading
from triage.service.schemas import Decision
from triage.service.scoring import Band

__all__ = [
    "ALLOWED",
    "SORTS",
    "SORT_ORDERS",
    "Choice",
    "Row",
    "choice_from",
    "neighbours",
    "rows_of",
    "select_rows",
]

REVIEWED = "reviewed"
_YES_NO = ("yes", "no")
#: what each filter accepts (an empty value means "any")
ALLOWED: dict[str, tuple[str, ...]] = {
    "dash": DASH_GRADES,
    "band": tuple(b.value for b in Band),
    "status": (reading.NOT_REVIEWED, REVIEWED, *(d.value for d in Decision)),
    "children": _YES_NO,
    "alert": _YES_NO,
}
_DASH_ORDER = {"high": 0, "medium": 1, "standard": 2, "not_completed": 3}
_BAND_ORDER = {Band.HIGH.value: 0, Band.MEDIUM.value: 1, Band.LOW.value: 2}


@dataclass(frozen=True)
class Row:
    """A queue item as the page sorts and filters it."""

    item: reading.QueueItem
    reported_at: dt.datetime
    incident_type: str
    children_present: bool
    alerts: tuple[Any, ...]

    @property
    def incident_id(self) -> str:
        return self.item.incident_id


#: each sort key's first order is the one a reviewer wants first (highest grade,
#: children present, most alerts, not yet reviewed); "-key" reverses it; ties keep rank
SORTS: dict[str, Callable[[Row], Any]] = {
    "rank": lambda r: r.item.rank,
    "reported": lambda r: r.reported_at,
    "type": lambda r: r.incident_type,
    "dash": lambda r: _DASH_ORDER.get(r.item.dash_grade, len(_DASH_ORDER)),
    "band": lambda r: _BAND_ORDER.get(r.item.band, len(_BAND_ORDER)),
    "status": lambda r: (r.item.review_status != reading.NOT_REVIEWED, r.item.review_status),
    "children": lambda r: not r.children_present,
    "alerts": lambda r: -len(r.alerts or ()),
}

#: how each key's first order and its reverse read to assistive technology (aria-sort)
SORT_ORDERS: dict[str, tuple[str, str]] = {
    "rank": ("ascending", "descending"),
    "reported": ("ascending", "descending"),
    "type": ("ascending", "descending"),
    "dash": ("descending", "ascending"),
    "band": ("descending", "ascending"),
    "status": ("other", "other"),
    "children": ("other", "other"),
    "alerts": ("descending", "ascending"),
}


@dataclass(frozen=True)
class Choice:
    """The filters and order a reviewer chose; empty strings mean "any"."""

    dash: str = ""
    band: str = ""
    status: str = ""
    children: str = ""
    alert: str = ""
    sort: str = "rank"

    @property
    def sort_key(self) -> str:
        return self.sort.removeprefix("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")

    @property
    def filtered(self) -> bool:
        return any(getattr(self, name) for name in ALLOWED)

    def params(self, **extra: str) -> dict[str, str]:
        """The non-default parts of the choice (and ``extra``) as query parameters."""
        chosen = {f.name: getattr(self, f.name) for f in fields(self)}
        if chosen["sort"] == "rank":
            del chosen["sort"]
        return {k: v for k, v in {**extra, **chosen}.items() if v}

    def query(self, **extra: str) -> str:
        """``params`` as a query string ("" when there is nothing to keep)."""
        found = self.params(**extra)
        return "?" + urlencode(found) if found else ""

    def sorted_by(self, key: str) -> Choice:
        """This choice sorted by ``key``: its first order, or the reverse if it is
        already sorted that way (a column header's link)."""
        return replace(self, sort="-" + key if self.sort == key else key)


def _problem(name: str, allowed: Sequence[str]) -> PageProblem:
    words = ", ".join(allowed)
    return PageProblem(422, f"The {name} filter must be one of: {words} (or empty for any).")


def choice_from(query: Mapping[str, str]) -> Choice:
    """The reviewer's choice from a page's query parameters, each checked."""
    found: dict[str, str] = {}
    for name, allowed in ALLOWED.items():
        value = query.get(name, "")
        if value and value not in allowed:
            raise _problem(name, allowed)
        found[name] = value
    sort = query.get("sort", "") or "rank"
    if sort.removeprefix("-") not in SORTS:
        keys = ", ".join(SORTS)
        raise PageProblem(
            422, f"The sort must be one of: {keys}, each optionally preceded by - to reverse it."
        )
    return Choice(**found, sort=sort)


def rows_of(items: Sequence[reading.QueueItem]) -> list[Row]:
    """The queue's items as the page's rows, in rank order."""
    return [
        Row(i, i.reported_at, i.incident_type, i.children_present, tuple(i.alerts)) for i in items
    ]


def _keeps(row: Row, choice: Choice) -> bool:
    status = row.item.review_status
    checks = (
        not choice.dash or row.item.dash_grade == choice.dash,
        not choice.band or row.item.band == choice.band,
        not choice.status
        or status == choice.status
        or (choice.status == REVIEWED and status != reading.NOT_REVIEWED),
        not choice.children or row.children_present is (choice.children == "yes"),
        not choice.alert or bool(row.alerts) is (choice.alert == "yes"),
    )
    return all(checks)


def select_rows(rows: Sequence[Row], choice: Choice) -> list[Row]:
    """The rows the choice keeps, in its order (ties in rank order)."""
    kept = [r for r in rows if _keeps(r, choice)]
    key = SORTS[choice.sort_key]
    ranked = sorted(kept, key=lambda r: r.item.rank)
    return sorted(ranked, key=key, reverse=choice.descending)


def neighbours(rows: Sequence[Row], incident_id: str) -> tuple[int, str | None, str | None]:
    """The 1-based position of ``incident_id`` among ``rows`` (0 if absent) and the ids
    before and after it."""
    ids = [r.incident_id for r in rows]
    if incident_id not in ids:
        return 0, None, None
    at = ids.index(incident_id)
    before = ids[at - 1] if at > 0 else None
    after = ids[at + 1] if at + 1 < len(ids) else None
    return at + 1, before, after
