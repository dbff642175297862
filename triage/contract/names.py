"""Names and codes of the data contract (docs/architecture.md §3), shared by the validator, the
synthetic world and the feature builders, and the in-memory form of a valid extract.

A valid :class:`Extract` is normalised: timestamps are ``datetime64[ns, UTC]``,
categories are pandas ``Categorical`` with the contract's categories in the order
listed here, the five incident flags are plain ``bool``, DASH answers are nullable
``boolean``, ids are ``string`` (a missing ``perpetrator_id`` is ``<NA>``), and
incidents are sorted by ``(reported_at, incident_id)`` with a fresh ``RangeIndex``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = [
    "BOOL_FLAGS",
    "DASH_GRADES",
    "DASH_QUESTIONS",
    "ETHNICITIES",
    "INCIDENT_COLUMNS",
    "ORDER_COLUMNS",
    "ORDER_TYPES",
    "PEOPLE_COLUMNS",
    "RELATIONSHIPS",
    "SEXES",
    "TABLES",
    "Extract",
]

RELATIONSHIPS: tuple[str, ...] = ("current_partner", "ex_partner", "family_member", "other")
DASH_GRADES: tuple[str, ...] = ("standard", "medium", "high", "not_completed")
SEXES: tuple[str, ...] = ("female", "male", "other", "unknown")
ETHNICITIES: tuple[str, ...] = ("white", "mixed", "asian", "black", "other", "unknown")
ORDER_TYPES: tuple[str, ...] = (
    "dvpn",
    "dvpo",
    "non_molestation",
    "restraining",
    "stalking_protection",
    "bail_conditions",
)
BOOL_FLAGS: tuple[str, ...] = (
    "injury",
    "weapon",
    "strangulation",
    "children_present",
    "substance_misuse",
)
DASH_QUESTIONS: tuple[str, ...] = tuple(f"dash_q{i:02d}" for i in range(1, 28))

INCIDENT_COLUMNS: tuple[str, ...] = (
    "incident_id",
    "reported_at",
    "occurred_at",
    "victim_id",
    "perpetrator_id",
    "relationship",
    "incident_type",
    *BOOL_FLAGS,
    "dash_grade",
    *DASH_QUESTIONS,
    "deprivation_decile",
)
PEOPLE_COLUMNS: tuple[str, ...] = ("person_id", "sex", "birth_year", "ethnicity")
ORDER_COLUMNS: tuple[str, ...] = ("person_id", "order_type", "start_at", "end_at")

#: table name -> required (True) or optional (False)
TABLES: dict[str, bool] = {"incidents": True, "people": True, "orders": False}


@dataclass(frozen=True)
class Extract:
    """A validated, normalised extract (see the module docstring for dtypes)."""

    incidents: pd.DataFrame
    people: pd.DataFrame
    orders: pd.DataFrame | None = None

    @property
    def end(self) -> pd.Timestamp:
        """The latest ``reported_at``: the default end of the extract."""
        return pd.Timestamp(self.incidents["reported_at"].max())
