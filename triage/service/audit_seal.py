"""What keeps the audit log honest beyond its hash chain (docs/architecture.md §10).

A hash chain alone cannot show that its newest rows were cut off, nor stop someone
who can write the store from recomputing every hash after a change. So:

- **the anchor**: after every committed append the head (``seq`` and hash) is written
  to a file outside the database (``TRIAGE_AUDIT_ANCHOR``; by default beside a SQLite
  store as ``<file>.audit-head``; PostgreSQL needs the setting, or the operator keeps
  the head ``triage audit-log verify`` prints and passes it to ``--expect-head``). The
  anchor only moves forward along the chain it names: if its row is gone or changed,
  it is left alone (and verify fails) rather than re-pointed at a new chain;
- **checkpoints**: every :data:`CHECKPOINT_EVERY`-th entry's hash is kept with an
  HMAC-SHA256 under ``TRIAGE_AUDIT_KEY``; without the key it is kept unsigned and
  verify says so;
- **reviews** are chained: each review's entry holds its decision, band, time and the
  sha256 of its note (the key is the entry's), so a changed decision no longer
  matches its entry.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from triage.exceptions import ConfigError
from triage.service.tables import AuditRow, ReviewRow

__all__ = [
    "ANCHOR_ENV",
    "CHECKPOINT_EVERY",
    "HEAD_INFO",
    "KEY_ENV",
    "SEAL_INFO",
    "Seal",
    "note_sha256",
    "read_anchor",
    "review_break",
    "review_detail",
    "seal_for",
    "sign",
    "write_anchor",
]

logger = logging.getLogger(__name__)

ANCHOR_ENV = "TRIAGE_AUDIT_ANCHOR"
KEY_ENV = "TRIAGE_AUDIT_KEY"
CHECKPOINT_EVERY = 100
#: ``Session.info`` keys: the store's seal, and the head an append left to anchor
SEAL_INFO = "triage.audit_seal"
HEAD_INFO = "triage.audit_head"
_MIN_KEY = 32


@dataclass(frozen=True)
class Seal:
    """Where the head is anchored, the checkpoint key, and the checkpoint interval."""

    anchor: Path | None
    key: bytes | None = None
    every: int = CHECKPOINT_EVERY


def seal_for(url: str, environ: Mapping[str, str] | None = None) -> Seal:
    """The seal of the store at ``url`` from ``TRIAGE_AUDIT_ANCHOR`` and
    ``TRIAGE_AUDIT_KEY`` (``ConfigError`` for a key shorter than 32 characters)."""
    env = os.environ if environ is None else environ
    raw_anchor = env.get(ANCHOR_ENV) or None
    anchor = Path(raw_anchor).expanduser() if raw_anchor else None
    parsed = make_url(url)
    if anchor is None and parsed.get_backend_name() == "sqlite" and parsed.database:
        db = Path(parsed.database).expanduser()
        anchor = db.with_name(db.name + ".audit-head")
    raw_key = env.get(KEY_ENV) or None
    if raw_key is not None and len(raw_key) < _MIN_KEY:
        raise ConfigError(f"{KEY_ENV}: at least {_MIN_KEY} characters (got hidden)")
    return Seal(anchor, None if raw_key is None else raw_key.encode("utf-8"))


def sign(key: bytes, seq: int, digest: str) -> str:
    """A checkpoint's HMAC-SHA256 over its ``seq`` and hash."""
    return hmac.new(key, f"{seq}:{digest}".encode("ascii"), hashlib.sha256).hexdigest()


def read_anchor(path: Path) -> tuple[int, str] | None:
    """The anchored ``(seq, hash)``; None if there is no file. ``ValueError`` if it is
    not an anchor."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read it ({exc.__class__.__name__})") from None
    parts = text.split()
    if len(parts) != 2 or not parts[0].isdigit() or len(parts[1]) != 64:
        raise ValueError("it does not hold a sequence number and a hash")
    return int(parts[0]), parts[1]


def write_anchor(path: Path, head: tuple[int, str], anchored_hash: str | None) -> None:
    """Move the anchor to ``head`` if the row it names still has its hash
    (``anchored_hash``, looked up by the caller); otherwise leave it for verify to
    report. Written whole, then renamed, so a crash leaves the old anchor."""
    try:
        current = read_anchor(path)
    except ValueError:
        current = None
    if current is not None and anchored_hash != current[1]:
        logger.error(
            "the audit log no longer holds the anchored row seq %d; the anchor %s is kept "
            "as it was: run `triage audit-log verify`",
            current[0],
            path,
        )
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{head[0]} {head[1]}\n", encoding="ascii")
    os.replace(tmp, path)


def note_sha256(note: str | None) -> str | None:
    return None if note is None else hashlib.sha256(note.encode("utf-8")).hexdigest()


def review_detail(row: ReviewRow) -> dict[str, Any]:
    """What a review's audit entry holds of it (never the note itself)."""
    return {
        "review_id": row.id,
        "decision": row.decision,
        "override_band": row.override_band,
        "decided_at": row.decided_at.isoformat(timespec="microseconds"),
        "note_sha256": note_sha256(row.note),
    }


def review_break(session: Session) -> tuple[int | None, str] | None:
    """The first review that does not match its audit entry (or has none, or whose
    entry names a review that is gone): ``(seq of the entry, reason)``."""
    logged: dict[int, tuple[int, str, str, dict[str, Any]]] = {}
    query = select(AuditRow.seq, AuditRow.key_id, AuditRow.incident_ids, AuditRow.detail)
    for seq, key_id, ids, detail in session.execute(query.where(AuditRow.action == "review")):
        body = json.loads(detail)
        if isinstance(body.get("review_id"), int):
            logged[body["review_id"]] = (int(seq), str(key_id), str(ids), body)
    for row in session.scalars(select(ReviewRow).order_by(ReviewRow.id)):
        entry = logged.pop(row.id, None)
        if entry is None:
            return None, f"review {row.id} has no audit entry (added outside the service?)"
        seq, key_id, ids, body = entry
        expected = review_detail(row)
        fields = [k for k in expected if k in body and body[k] != expected[k]]
        if key_id != row.key_id and "note_sha256" in body:
            fields.append("key_id")
        if json.loads(ids) != [row.incident_id]:
            fields.append("incident_id")
        if fields:
            named = ", ".join(fields)
            return seq, f"review {row.id} no longer matches its entry ({named} changed)"
    if logged:
        review_id, (seq, *_) = min(logged.items(), key=lambda kv: kv[1][0])
        return seq, f"review {review_id} that this entry records is gone (deleted?)"
    return None
