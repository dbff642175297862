"""Server-side review-page sessions (docs/architecture.md §10).

The signed cookie holds a random session id and nothing that proves who signed in:
the id is looked up here on every page, so signing out, revoking the key or the
session's end make a copied cookie worthless at once.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from triage.service.tables import SessionRow

__all__ = ["end_key_sessions", "end_session", "live_session", "start_session"]

_ID_BYTES = 32
_ID = re.compile(r"[0-9a-f]{64}")


def start_session(session: Session, key_id: str, lifetime: float) -> str:
    """A new session for ``key_id`` that ends ``lifetime`` seconds from now; its id."""
    now = datetime.now(UTC)
    sid = secrets.token_hex(_ID_BYTES)
    session.add(
        SessionRow(
            id=sid,
            key_id=key_id,
            created_at=now,
            expires_at=now + timedelta(seconds=lifetime),
            revoked_at=None,
        )
    )
    session.flush()
    return sid


def live_session(session: Session, sid: object) -> SessionRow | None:
    """The session ``sid`` if it exists, was not ended and has not expired."""
    if not isinstance(sid, str) or _ID.fullmatch(sid) is None:
        return None
    row = session.get(SessionRow, sid)
    if row is None or row.revoked_at is not None or row.expires_at <= datetime.now(UTC):
        return None
    return row


def end_session(session: Session, sid: object) -> None:
    """End one session (signing out); an unknown id changes nothing."""
    if isinstance(sid, str) and _ID.fullmatch(sid):
        session.execute(
            update(SessionRow)
            .where(SessionRow.id == sid, SessionRow.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )


def end_key_sessions(session: Session, key_id: str) -> int:
    """End every session of a key (its revocation); how many were live."""
    done = session.execute(
        update(SessionRow)
        .where(SessionRow.key_id == key_id, SessionRow.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    return int(getattr(done, "rowcount", 0) or 0)
