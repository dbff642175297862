"""Builders of small normalised extracts for the feature, label and split tests
(no tests here). Times are given as days (floats allowed) after ``EPOCH``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from triage.contract.harm import load_harm_weights
from triage.contract.names import (
    BOOL_FLAGS,
    DASH_GRADES,
    DASH_QUESTIONS,
    ETHNICITIES,
    INCIDENT_COLUMNS,
    ORDER_TYPES,
    RELATIONSHIPS,
    SEXES,
    Extract,
)

EPOCH = pd.Timestamp("2020-01-01", tz="UTC")
HARM = load_harm_weights()


def at(days: float) -> pd.Timestamp:
    """The instant ``days`` after ``EPOCH``."""
    return EPOCH + pd.Timedelta(days=days)


def incidents_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Normalised incidents; each row needs ``day`` (or ``reported_at``), the rest defaults."""
    records = []
    for k, row in enumerate(rows):
        rec: dict[str, Any] = {
            "incident_id": f"i{k:04d}",
            "victim_id": "v1",
            "perpetrator_id": "p1",
            "relationship": "current_partner",
            "incident_type": "common_assault",
            "dash_grade": "standard",
            "deprivation_decile": None,
            **dict.fromkeys(BOOL_FLAGS, False),
            **dict.fromkeys(DASH_QUESTIONS, None),
        }
        rec.update({k2: v for k2, v in row.items() if k2 != "day"})
        if "reported_at" not in row:
            rec["reported_at"] = at(row["day"])
        rec["occurred_at"] = rec.get("occurred_at")
        records.append(rec)
    return normalise_incidents(pd.DataFrame(records, columns=list(INCIDENT_COLUMNS)))


def normalise_incidents(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "incident_id": frame["incident_id"].astype("string"),
            "reported_at": pd.to_datetime(frame["reported_at"], utc=True).astype(
                "datetime64[ns, UTC]"
            ),
            "occurred_at": pd.to_datetime(frame["occurred_at"], utc=True).astype(
                "datetime64[ns, UTC]"
            ),
            "victim_id": frame["victim_id"].astype("string"),
            "perpetrator_id": frame["perpetrator_id"].astype("string"),
            "relationship": pd.Categorical(frame["relationship"], categories=RELATIONSHIPS),
            "incident_type": pd.Categorical(frame["incident_type"], categories=HARM.names),
            **{f: frame[f].astype(bool) for f in BOOL_FLAGS},
            "dash_grade": pd.Categorical(frame["dash_grade"], categories=DASH_GRADES),
            **{q: pd.array(frame[q].to_numpy(object), dtype="boolean") for q in DASH_QUESTIONS},
            "deprivation_decile": pd.array(
                frame["deprivation_decile"].to_numpy(object), dtype="Int64"
            ),
        }
    )
    return out.sort_values(["reported_at", "incident_id"], kind="stable").reset_index(drop=True)


def people_frame(
    ids: Sequence[str], overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> pd.DataFrame:
    overrides = overrides or {}
    rows = []
    for pid in ids:
        row = {"person_id": pid, "sex": "unknown", "birth_year": 1980, "ethnicity": "unknown"}
        row.update(overrides.get(pid, {}))
        rows.append(row)
    return pd.DataFrame(
        {
            "person_id": pd.array([r["person_id"] for r in rows], dtype="string"),
            "sex": pd.Categorical([r["sex"] for r in rows], categories=SEXES),
            "birth_year": pd.array([r["birth_year"] for r in rows], dtype="Int64"),
            "ethnicity": pd.Categorical([r["ethnicity"] for r in rows], categories=ETHNICITIES),
        }
    )


def orders_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Orders from rows of ``person_id``, ``start`` and ``end`` (days; None = open)."""
    return pd.DataFrame(
        {
            "person_id": pd.array([r["person_id"] for r in rows], dtype="string"),
            "order_type": pd.Categorical(
                [r.get("order_type", "dvpo") for r in rows], categories=ORDER_TYPES
            ),
            "start_at": pd.to_datetime([at(r["start"]) for r in rows], utc=True).astype(
                "datetime64[ns, UTC]"
            ),
            "end_at": pd.to_datetime(
                [at(r["end"]) if r.get("end") is not None else pd.NaT for r in rows], utc=True
            ).astype("datetime64[ns, UTC]"),
        }
    )


def make_extract(
    rows: Sequence[Mapping[str, Any]],
    people: Mapping[str, Mapping[str, Any]] | None = None,
    orders: Sequence[Mapping[str, Any]] | None = None,
) -> Extract:
    """A normalised extract of ``rows`` with everyone mentioned in ``people``."""
    incidents = incidents_frame(rows)
    ids = set(incidents["victim_id"].dropna()) | set(incidents["perpetrator_id"].dropna())
    ids |= set(people or {})
    if orders:
        ids |= {r["person_id"] for r in orders}
    return Extract(
        incidents=incidents,
        people=people_frame(sorted(ids), people),
        orders=orders_frame(orders) if orders is not None else None,
    )


# --- a deliberately naive reference: one Python loop per incident ------------------

_GRADE = {"standard": 1, "medium": 2, "high": 3}
_IMPLIED = {"injury": {"assault_with_injury", "gbh"}, "strangulation": {"non_fatal_strangulation"}}
DAY = pd.Timedelta(days=1)


def _matches(record: Any, query: Any, entity: str) -> bool:
    same_victim = record.victim_id == query.victim_id
    same_perp = (
        not pd.isna(query.perpetrator_id)
        and not pd.isna(record.perpetrator_id)
        and record.perpetrator_id == query.perpetrator_id
    )
    return {"victim": same_victim, "perpetrator": same_perp, "pair": same_victim and same_perp}[
        entity
    ]


def _flag(record: Any, name: str) -> bool:
    return bool(getattr(record, name)) or record.incident_type in _IMPLIED.get(name, set())


def _window_value(agg: str, rows: list[Any], t: pd.Timestamp, window: Any) -> float:
    harm = [HARM.weight(r.incident_type) for r in rows]
    if agg == "count":
        return len(rows)
    if agg in ("injury", "strangulation", "weapon"):
        return sum(_flag(r, agg) for r in rows)
    simple = {
        "crimes": lambda r: HARM.types[r.incident_type].crime,
        "serious": lambda r: HARM.types[r.incident_type].serious,
        "stalking_harassment": lambda r: r.incident_type in ("stalking", "harassment"),
        "breaches": lambda r: r.incident_type == "breach_of_order",
        "dash_high": lambda r: r.dash_grade == "high",
    }
    if agg in simple:
        return sum(bool(simple[agg](r)) for r in rows)
    if agg == "harm_sum":
        return float(sum(harm))
    if agg == "harm_max":
        return float(max(harm, default=0.0))
    if agg == "harm_trend":
        half = t - DAY * window / 2
        recent = sum(h for h, r in zip(harm, rows, strict=True) if r.reported_at >= half)
        return float(recent - (sum(harm) - recent))
    if agg == "distinct_victims":
        return len({r.victim_id for r in rows})
    if agg == "distinct_perpetrators":
        return len({r.perpetrator_id for r in rows if not pd.isna(r.perpetrator_id)})
    if agg == "dash_highest_grade":
        grades = [_GRADE[r.dash_grade] for r in rows if r.dash_grade in _GRADE]
        return float(max(grades)) if grades else float("nan")
    raise AssertionError(agg)


def _point_value(agg: str, rows: list[Any], t: pd.Timestamp) -> float:
    if agg in ("days_since_last", "days_since_last_serious"):
        pool = [r for r in rows if agg == "days_since_last" or HARM.types[r.incident_type].serious]
        return (t - pool[-1].reported_at) / DAY if pool else float("nan")
    assessed = [r for r in rows if r.dash_grade in _GRADE]
    if not assessed:
        return float("nan")
    last = assessed[-1]
    if agg == "dash_last_grade":
        return float(_GRADE[last.dash_grade])
    answers = [getattr(last, q) for q in DASH_QUESTIONS]
    return float(sum(1 for a in answers if not pd.isna(a) and bool(a)))


def _order_value(info: Any, orders: pd.DataFrame | None, person: Any, t: pd.Timestamp) -> float:
    if orders is None:
        return float("nan")
    mine = [o for o in orders.itertuples() if not pd.isna(person) and o.person_id == person]
    if info.aggregate == "order_active":
        return float(any(o.start_at < t and (pd.isna(o.end_at) or o.end_at >= t) for o in mine))
    lower = pd.Timestamp.min.tz_localize("UTC") if info.window == "all" else t - DAY * info.window
    return float(sum(lower <= o.start_at < t for o in mine))


def reference_history(
    extract: Extract, queries: pd.DataFrame, infos: Sequence[Any]
) -> pd.DataFrame:
    """History features computed the slow, obvious way (row order breaks ties)."""
    history = list(extract.incidents.itertuples(index=False))
    out: dict[str, list[float]] = {f.name: [] for f in infos}
    for query in queries.itertuples(index=False):
        t = query.reported_at
        for info in infos:
            if info.aggregate in ("orders", "order_active"):
                person = query.victim_id if info.entity == "victim" else query.perpetrator_id
                out[info.name].append(_order_value(info, extract.orders, person, t))
                continue
            rows = [r for r in history if r.reported_at < t and _matches(r, query, info.entity)]
            rows.sort(key=lambda r: r.reported_at)  # stable: row order breaks ties
            if info.window is None:
                out[info.name].append(_point_value(info.aggregate, rows, t))
                continue
            if info.window != "all":
                rows = [r for r in rows if r.reported_at >= t - DAY * info.window]
            out[info.name].append(float(_window_value(info.aggregate, rows, t, info.window)))
    return pd.DataFrame(out, dtype=float)


def reference_labels(
    extract: Extract, spec: Any, end: pd.Timestamp | None = None
) -> list[bool | None]:
    """Labels the slow, obvious way: None where the window passes ``end``."""
    end = extract.end if end is None else end
    types = HARM.serious_types if spec.types == "serious" else spec.types
    rows = list(extract.incidents.itertuples(index=False))
    out: list[bool | None] = []
    for i, row in enumerate(rows):
        horizon = row.reported_at + DAY * spec.window_days
        if horizon > end:
            out.append(None)
            continue
        out.append(
            any(
                j != i
                and row.reported_at < other.reported_at <= horizon
                and (types == "any" or other.incident_type in types)
                and any(_matches(other, row, entity) for entity in spec.match)
                for j, other in enumerate(rows)
            )
        )
    return out
