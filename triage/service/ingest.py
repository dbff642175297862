"""Ingesting a batch: the same contract as ``triage validate``, all or nothing.

A batch is validated whole (:func:`~triage.contract.validation.validate_frames`); one bad row
and nothing is stored, every problem is returned. People the incidents name may be
left out of a batch when the store already holds them. A batch in a force's own
names and codes is mapped onto the contract first (``mapping``, as ``triage validate
--mapping`` does), its naive times read in the mapping's zone. A re-sent row with
the same content is a no-op. A person re-sent with other attributes is a correction:
a new version is kept (``person_versions``, from now on) and the first stays, so
scores already given never change (docs/architecture.md §10). An incident or order
re-sent with other content refuses the whole batch
(:class:`~triage.exceptions.ConflictError`), answered without naming ids or fields.
A refused batch (conflict or contract breach) leaves an ``ingest.refused`` audit
entry with counts only. The new rows, their scores and one audit entry are written
in a single transaction.

Only what must be decided against the store's current state runs under its write
lock: which rows are new, unchanged or in conflict, the inserts, and the audit
entry. Validation, the reads of stored people and the scores (features, model,
reasons) come first, on a read snapshot; a score is kept only if the history it saw
is still the store's once the lock is held (see
:mod:`triage.service._scoring_store`), so a re-sent id is still decided under the
lock (never stored twice) and the batch still lands whole or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import pandas as pd
from sqlalchemy import func, insert, select, tuple_
from sqlalchemy.orm import Session

from triage.contract.checks import ReadOptions
from triage.contract.mapping import ColumnMapping, apply_mapping
from triage.contract.validation import ValidationReport, validate_frames
from triage.exceptions import ConflictError, SchemaError, TriageError
from triage.service import audit_log
from triage.service._frames import COLUMNS, KEYS, Record, key_of, records_of
from triage.service._scoring_store import PreparedScores, prepare_scores, score_missing
from triage.service.scoring import Scorer
from triage.service.store import Store
from triage.service.tables import IncidentRow, OrderRow, PersonRow, PersonVersionRow, in_chunks

__all__ = ["IngestResult", "ingest"]

logger = logging.getLogger(__name__)

#: what a re-sent incident or order with other content does (see :func:`ingest`)
OnChange = Literal["refuse", "record"]

_TABLES: dict[str, Any] = {
    "people": PersonRow.__table__,
    "incidents": IncidentRow.__table__,
    "orders": OrderRow.__table__,
}
_INSERT_CHUNK = 5000  # rows per executemany


@dataclass(frozen=True)
class IngestResult:
    received: int
    stored: tuple[str, ...]
    unchanged: tuple[str, ...]
    people_stored: int
    orders_stored: int
    scored: int
    model_version: str | None


def _stored_people(
    store: Store, incidents: pd.DataFrame, people: pd.DataFrame, orders: pd.DataFrame | None
) -> pd.DataFrame:
    """Rows of stored people that the batch names but does not carry."""
    named: set[str] = set()
    for frame, columns in ((incidents, ("victim_id", "perpetrator_id")), (orders, ("person_id",))):
        if frame is None:
            continue
        for column in columns:
            if column in frame:
                named |= {str(v).strip() for v in frame[column].dropna()}
    if "person_id" in people:
        named -= {str(v).strip() for v in people["person_id"].dropna()}
    if not named:
        return people.iloc[0:0]
    table = _TABLES["people"]
    with store.read_session() as s:
        rows = [
            dict(r)
            for chunk in in_chunks(sorted(named))
            for r in s.execute(select(table).where(table.c.person_id.in_(chunk))).mappings()
        ]
    found = pd.DataFrame(rows, columns=list(COLUMNS["people"]), dtype=object)
    if len(people.columns):  # the batch's own columns, so its column problems stay its own
        found = found[[c for c in people.columns if c in found.columns]]
    return found


def _mapped(
    incidents: pd.DataFrame,
    people: pd.DataFrame,
    orders: pd.DataFrame | None,
    mapping: ColumnMapping,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """The batch renamed and recoded onto the contract (before stored people join it,
    since those are already in contract form)."""
    return (
        apply_mapping(incidents, "incidents", mapping),
        apply_mapping(people, "people", mapping),
        None if orders is None else apply_mapping(orders, "orders", mapping),
    )


def _validated(
    incidents: pd.DataFrame,
    people: pd.DataFrame,
    orders: pd.DataFrame | None,
    mapping: ColumnMapping | None,
) -> ValidationReport:
    if mapping is None:
        return validate_frames(incidents, people, orders)
    # naive timestamps in the mapping's zone and format, as validate_extract reads them
    options = ReadOptions(mapping.naive_timezone, mapping.timestamp_format)
    return validate_frames(incidents, people, orders, read_options=options)


def _existing(
    session: Session, table: str, records: Sequence[Record]
) -> dict[tuple[Any, ...], str]:
    """Stored content hashes of the rows with the same keys as ``records``."""
    sql = _TABLES[table]
    keys = [sql.c[k] for k in KEYS[table]]
    found: dict[tuple[Any, ...], str] = {}
    for chunk in in_chunks([key_of(table, r) for r in records]):
        where = keys[0].in_([k[0] for k in chunk]) if len(keys) == 1 else tuple_(*keys).in_(chunk)
        for row in session.execute(select(*keys, sql.c.content_sha256).where(where)):
            found[tuple(row[:-1])] = row[-1]
    if table == "people" and found:  # a corrected person compares with its latest version
        for person_id, (_, digest) in _latest_versions(session, [k[0] for k in found]).items():
            found[(person_id,)] = digest
    return found


def _latest_versions(session: Session, ids: Sequence[str]) -> dict[str, tuple[int, str]]:
    """The newest correction of each of ``ids`` that has one: (version, content hash)."""
    v = PersonVersionRow
    latest: dict[str, tuple[int, str]] = {}
    for chunk in in_chunks(sorted(set(ids))):
        newest = (
            select(v.person_id, func.max(v.version).label("n"))
            .where(v.person_id.in_(chunk))
            .group_by(v.person_id)
            .subquery()
        )
        query = select(v.person_id, v.version, v.content_sha256).join(
            newest, (v.person_id == newest.c.person_id) & (v.version == newest.c.n)
        )
        for person_id, version, digest in session.execute(query):
            latest[str(person_id)] = (int(version), str(digest))
    return latest


def _corrections(
    session: Session, changed: Sequence[Record], key_id: str, now: datetime
) -> list[dict[str, Any]]:
    """Rows of ``person_versions`` for people re-sent with other attributes."""
    latest = _latest_versions(session, [r["person_id"] for r in changed])
    return [
        {
            "person_id": r["person_id"],
            "version": latest.get(r["person_id"], (0, ""))[0] + 1,
            "valid_from": now,
            "sex": r["sex"],
            "birth_year": r["birth_year"],
            "ethnicity": r["ethnicity"],
            "content_sha256": r["content_sha256"],
            "key_id": key_id,
        }
        for r in changed
    ]


def _split(
    session: Session, table: str, records: Sequence[Record]
) -> tuple[list[Record], list[str], list[Record]]:
    """New records, ids of unchanged ones, records that differ from the stored ones."""
    stored = _existing(session, table, records)
    new: list[Record] = []
    same: list[str] = []
    clash: list[Record] = []
    for record in records:
        key = key_of(table, record)
        name = "/".join(str(k) for k in key)
        if key not in stored:
            new.append(record)
        elif stored[key] == record["content_sha256"]:
            same.append(name)
        else:
            clash.append(record)
    return new, same, clash


def _conflicts(
    split: dict[str, tuple[list[Record], list[str], list[Record]]], on_change: OnChange
) -> dict[str, list[str]]:
    """Stored incidents and orders the batch would change (people change by new
    versions instead): refused, or (``on_change="record"``) returned to be recorded
    as correction requests while the stored rows stay as they are."""
    conflicts = {
        t: sorted("/".join(str(k) for k in key_of(t, r)) for r in clash)
        for t, (_, _, clash) in split.items()
        if clash and t != "people"
    }
    if conflicts and on_change == "refuse":
        raise ConflictError(conflicts)
    return conflicts


def _prepared(
    store: Store, records: dict[str, list[Record]], scorer: Scorer, on_change: OnChange
) -> PreparedScores:
    """The batch's scores, computed on a read snapshot before the write lock."""
    with store.read_session() as s:
        split = {t: _split(s, t, rs) for t, rs in records.items()}
        _conflicts(split, on_change)  # stored rows never change: the locked check agrees
        pending = {t: new for t, (new, _, _) in split.items()}
        ids = [r["incident_id"] for r in records["incidents"]]
        return prepare_scores(s, ids, scorer, pending)


def ingest(
    store: Store,
    incidents: pd.DataFrame,
    people: pd.DataFrame,
    orders: pd.DataFrame | None = None,
    *,
    scorer: Scorer | None,
    key_id: str,
    mapping: ColumnMapping | None = None,
    on_change: OnChange = "refuse",
) -> IngestResult:
    """Validate, store and score one batch atomically (see the module docstring); a
    refused batch is audited (counts only) and its error raised.

    ``on_change``: what a re-sent incident or order with other content does.
    ``"refuse"`` (the CLI: an operator who can read the store anyway learns which) refuses
    the batch; ``"record"`` (the API) keeps the stored row, answers exactly as for an
    identical re-send (listed as unchanged), and records a correction request in the
    audit log, so a caller cannot learn a stored record's content by guessing."""
    try:
        return _ingest(
            store,
            incidents,
            people,
            orders,
            scorer=scorer,
            key_id=key_id,
            mapping=mapping,
            on_change=on_change,
        )
    except (SchemaError, ConflictError) as exc:
        received = {"incidents": len(incidents), "people": len(people)}
        received["orders"] = 0 if orders is None else len(orders)
        if isinstance(exc, SchemaError):
            detail = {"reason": "contract", "problems": len(exc.problems)}
        else:
            detail = {"reason": "conflict", "conflicting": sum(map(len, exc.conflicts.values()))}
        try:
            with store.session() as s:
                audit_log.append(
                    s, key_id=key_id, action="ingest.refused", detail={**detail, **received}
                )
        except TriageError as audit_exc:  # the refusal itself still reaches the caller
            logger.error("could not audit a refused batch: %s", type(audit_exc).__name__)
        raise


def _ingest(
    store: Store,
    incidents: pd.DataFrame,
    people: pd.DataFrame,
    orders: pd.DataFrame | None = None,
    *,
    scorer: Scorer | None,
    key_id: str,
    mapping: ColumnMapping | None = None,
    on_change: OnChange = "refuse",
) -> IngestResult:
    if mapping is not None:
        incidents, people, orders = _mapped(incidents, people, orders, mapping)
    n_people = len(people)
    extra = _stored_people(store, incidents, people, orders)
    if len(extra):
        people = pd.concat([people.reset_index(drop=True), extra], ignore_index=True)
    report = _validated(incidents, people, orders, mapping)
    if report.extract is None:
        raise SchemaError(report.problems)
    extract = report.extract
    batch_people = extract.people.iloc[:n_people]  # stored people need no writing
    records = {
        "people": records_of("people", batch_people),
        "incidents": records_of("incidents", extract.incidents),
        "orders": [] if extract.orders is None else records_of("orders", extract.orders),
    }
    prepared = _prepared(store, records, scorer, on_change) if scorer is not None else None
    now = datetime.now(UTC)
    with store.session() as s:
        split = {t: _split(s, t, rs) for t, rs in records.items()}
        requested = _conflicts(split, on_change)
        if requested:
            changed = requested.get("incidents", [])
            audit_log.append(
                s,
                key_id=key_id,
                action="ingest.correction_requested",
                incident_ids=changed,
                detail={t: len(ids) for t, ids in requested.items()},
            )
        corrected = _corrections(s, split["people"][2], key_id, now)
        if corrected:
            s.execute(insert(PersonVersionRow), corrected)
        logger.info(
            "storing %d incident(s), %d person(s), %d order(s)",
            *(len(split[t][0]) for t in ("incidents", "people", "orders")),
        )
        for table in ("people", "incidents", "orders"):
            new = split[table][0]
            if table == "incidents":
                for record in new:
                    record["ingested_at"] = now
            for start in range(0, len(new), _INSERT_CHUNK):
                s.execute(insert(_TABLES[table]), new[start : start + _INSERT_CHUNK])
        ids = [r["incident_id"] for r in records["incidents"]]
        scored = score_missing(s, ids, scorer, prepared=prepared) if scorer is not None else 0
        stored = tuple(r["incident_id"] for r in split["incidents"][0])
        version = scorer.model_version if scorer is not None else None
        audit_log.append(
            s,
            key_id=key_id,
            action="ingest",
            incident_ids=stored,
            model_version=version,
            detail={
                "received": len(ids),
                "unchanged": len(split["incidents"][1]),
                "people_stored": len(split["people"][0]),
                "people_corrected": len(corrected),
                "orders_stored": len(split["orders"][0]),
                "scored": scored,
            },
        )
    return IngestResult(
        received=len(ids),
        stored=stored,
        unchanged=tuple(sorted([*split["incidents"][1], *requested.get("incidents", [])])),
        people_stored=len(split["people"][0]),
        orders_stored=len(split["orders"][0]),
        scored=scored,
        model_version=version,
    )
