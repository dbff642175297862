"""The append-only, hash-chained audit log (docs/architecture.md §10).

Each entry records who (API key id), when, what (action), which incidents and which
model version. Its hash is SHA-256 over the previous entry's hash and the entry's
canonical JSON, so :func:`verify` finds any altered, deleted or inserted row: the
first entry whose stored hash, link or sequence number does not follow.

A plain hash chain cannot tell that the newest entries were cut off, nor stop
someone with write access from re-computing every later hash: :mod:`audit_seal`
anchors the head outside the database after every append, keeps signed checkpoints,
and ties each review to its entry; :func:`verify` checks all of them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from triage.service.audit_seal import HEAD_INFO, SEAL_INFO, Seal, read_anchor, review_break, sign
from triage.service.tables import AuditCheckpointRow, AuditRow

__all__ = [
    "GENESIS",
    "AuditEntry",
    "ChainCheck",
    "append",
    "entries",
    "hash_at",
    "head",
    "lock",
    "verify",
]

#: the ``prev_hash`` of the first entry
GENESIS = "0" * 64
_PG_LOCK = 0x7472_6961  # any constant: one advisory lock serialises appends
_BATCH = 1000


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    key_id: str
    action: str
    incident_ids: tuple[str, ...]
    model_version: str | None
    detail: Mapping[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainCheck:
    """The outcome of :func:`verify`: ``broken_at`` is the first bad ``seq``."""

    ok: bool
    rows: int
    head: str
    broken_at: int | None = None
    reason: str | None = None
    #: what else was checked, or could not be (no anchor, unsigned checkpoints)
    notes: tuple[str, ...] = ()


def _canonical(
    seq: int,
    at: str,
    key_id: str,
    action: str,
    incident_ids: str,
    model_version: str | None,
    detail: str,
) -> bytes:
    row = {
        "seq": seq,
        "at": at,
        "key_id": key_id,
        "action": action,
        "incident_ids": incident_ids,
        "model_version": model_version,
        "detail": detail,
    }
    return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _digest(prev_hash: str, canonical: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + canonical).hexdigest()


def _row_hash(row: AuditRow) -> str:
    canonical = _canonical(
        row.seq,
        row.at,
        row.key_id,
        row.action,
        row.incident_ids,
        row.model_version,
        row.detail,
    )
    return _digest(row.prev_hash, canonical)


def lock(session: Session) -> None:
    """Serialise appenders so two never chain onto the same head. SQLite transactions
    of the store already start with ``BEGIN IMMEDIATE``; ``seq`` is the primary key
    as a last guard."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})


def append(
    session: Session,
    *,
    key_id: str,
    action: str,
    incident_ids: Iterable[str] = (),
    model_version: str | None = None,
    detail: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Add one entry inside the caller's transaction (it lands only if that commits)."""
    lock(session)
    last = session.execute(
        select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)
    ).first()
    seq, prev = (1, GENESIS) if last is None else (last[0] + 1, last[1])
    stamp = (at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds")
    ids = json.dumps(list(incident_ids), separators=(",", ":"))
    body = json.dumps(dict(detail or {}), sort_keys=True, separators=(",", ":"), default=str)
    digest = _digest(prev, _canonical(seq, stamp, key_id, action, ids, model_version, body))
    row = AuditRow(
        seq=seq,
        at=stamp,
        key_id=key_id,
        action=action,
        incident_ids=ids,
        model_version=model_version,
        detail=body,
        prev_hash=prev,
        hash=digest,
    )
    session.add(row)
    seal = session.info.get(SEAL_INFO)
    if isinstance(seal, Seal) and seq % seal.every == 0:
        signature = None if seal.key is None else sign(seal.key, seq, digest)
        session.add(AuditCheckpointRow(seq=seq, hash=digest, signature=signature))
    session.flush()
    session.info[HEAD_INFO] = (seq, digest)  # anchored by the store once this commits
    return _entry(row)


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        seq=row.seq,
        at=row.at,
        key_id=row.key_id,
        action=row.action,
        incident_ids=tuple(json.loads(row.incident_ids)),
        model_version=row.model_version,
        detail=json.loads(row.detail),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def entries(session: Session, *, after: int = 0, limit: int = 100) -> list[AuditEntry]:
    """Entries with ``seq > after``, oldest first."""
    rows = session.scalars(
        select(AuditRow).where(AuditRow.seq > after).order_by(AuditRow.seq).limit(limit)
    )
    return [_entry(r) for r in rows]


def head(session: Session) -> tuple[int, str]:
    """The newest ``(seq, hash)``; ``(0, GENESIS)`` for an empty log."""
    last = session.execute(
        select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)
    ).first()
    return (0, GENESIS) if last is None else (int(last[0]), str(last[1]))


def _first_break(rows: Sequence[AuditRow], expected_seq: int, prev: str) -> tuple[int, str] | None:
    for row in rows:
        if row.seq != expected_seq:
            return row.seq, f"sequence jumps from {expected_seq - 1} to {row.seq} (row deleted?)"
        if row.prev_hash != prev:
            return row.seq, "prev_hash does not match the previous row's hash"
        if _row_hash(row) != row.hash:
            return row.seq, "hash does not match the row's content (row altered?)"
        expected_seq, prev = row.seq + 1, row.hash
    return None


def _walk(session: Session) -> ChainCheck:
    """Walk the whole chain in ``seq`` order; stop at the first row that breaks it
    (a row numbered below 1 counts too: nothing may sit before the first entry)."""
    expected, prev, count = 1, GENESIS, 0
    query = select(AuditRow).order_by(AuditRow.seq).limit(_BATCH)
    while True:
        page = query if count == 0 else query.where(AuditRow.seq >= expected)
        rows = list(session.scalars(page))
        if not rows:
            return ChainCheck(ok=True, rows=count, head=prev)
        broken = _first_break(rows, expected, prev)
        if broken is not None:
            seq, reason = broken
            return ChainCheck(ok=False, rows=count, head=prev, broken_at=seq, reason=reason)
        count += len(rows)
        expected, prev = rows[-1].seq + 1, rows[-1].hash


def hash_at(session: Session, seq: int) -> str | None:
    found = session.scalar(select(AuditRow.hash).where(AuditRow.seq == seq))
    return None if found is None else str(found)


def _ends(rows: int, head: str) -> str:
    return "the log is empty" if rows == 0 else f"the log ends at seq {rows} (head {head})"


def _anchor_break(session: Session, chain: ChainCheck, path: Path) -> str | None:
    try:
        anchored = read_anchor(path)
    except ValueError as exc:
        return f"the anchor file {path} is not usable: {exc}"
    if anchored is None:
        if chain.rows:
            return f"no anchor file at {path}, yet the log holds {chain.rows} row(s)"
        return None
    seq, digest = anchored
    if seq > chain.rows:
        return (
            f"{_ends(chain.rows, chain.head)}, but the anchor {path} names seq {seq} "
            f"(head {digest}): rows were cut from the end"
        )
    if seq and hash_at(session, seq) != digest:
        return f"row seq {seq} does not have the hash the anchor {path} names ({digest})"
    return None


def _checkpoint_break(session: Session, chain: ChainCheck, key: bytes | None) -> str | None:
    for point in session.scalars(select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq)):
        if point.seq > chain.rows:
            return (
                f"{_ends(chain.rows, chain.head)}, but a checkpoint names seq {point.seq}: "
                "rows were cut from the end"
            )
        if hash_at(session, point.seq) != point.hash:
            return f"row seq {point.seq} does not match its checkpoint (chain rewritten?)"
        if key is not None and (
            point.signature is None
            or not hmac.compare_digest(point.signature, sign(key, point.seq, point.hash))
        ):
            return f"the checkpoint at seq {point.seq} is not signed with TRIAGE_AUDIT_KEY"
    return None


def verify(
    session: Session, seal: Seal | None = None, expect_head: str | None = None
) -> ChainCheck:
    """The chain (:func:`_walk`), then what it cannot see alone: the anchor file, the
    head an operator kept (``expect_head``: it must still be in the chain), the
    checkpoints and their signatures, and every review against its entry."""
    chain = _walk(session)
    if not chain.ok:
        return chain
    notes: list[str] = []
    problem: str | None = None
    if seal is not None and seal.anchor is not None:
        problem = _anchor_break(session, chain, seal.anchor)
        notes.append(f"anchor {seal.anchor} matches")
    else:
        notes.append(
            "no anchor file (TRIAGE_AUDIT_ANCHOR): keep the head above and pass it to "
            "--expect-head next time"
        )
    if problem is None and expect_head is not None:
        found = session.scalar(select(AuditRow.seq).where(AuditRow.hash == expect_head))
        if found is None:
            problem = f"{_ends(chain.rows, chain.head)} and holds no row with head {expect_head}"
        notes.append(f"the expected head is row seq {found}")
    key = None if seal is None else seal.key
    if problem is None:
        problem = _checkpoint_break(session, chain, key)
        notes.append(
            "checkpoints signed and verified"
            if key is not None
            else "checkpoints are unsigned: TRIAGE_AUDIT_KEY is not set"
        )
    whole = (f"the hash chain itself verified ({chain.rows} row(s))",)
    if problem is not None:
        return ChainCheck(False, chain.rows, chain.head, None, problem, whole)
    review = review_break(session)
    if review is not None:
        return ChainCheck(False, chain.rows, chain.head, review[0], review[1], whole)
    return ChainCheck(True, chain.rows, chain.head, notes=(*notes, "reviews match their entries"))
