"""API keys and roles (docs/architecture.md §10).

A key reads ``trk.<key id>.<secret>``. Only the key id (public: it names the key in
the audit log) and a salted SHA-256 of the secret are stored; the key is shown once,
when created. The secret is 256 random bits, so a fast hash is enough: there is no
dictionary to guess from, and each request pays microseconds, not a slow KDF.

Roles grant routes, not each other: ``ingest`` sends incidents, ``reviewer`` reads
the queue and records decisions, ``auditor`` reads reports and the audit log, and
``admin`` reloads the champion after a promotion. Reload is not given to the auditor
so that whoever audits the service never changes what it serves.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from triage.exceptions import AuthError
from triage.service import audit_log
from triage.service.sessions import end_key_sessions
from triage.service.tables import ApiKeyRow

__all__ = [
    "KEY_PREFIX",
    "MESSAGE_BAD_KEY",
    "MESSAGE_NO_KEY",
    "ApiKey",
    "Role",
    "authenticate",
    "create_key",
    "find_key",
    "list_keys",
    "operator",
    "revoke_key",
]

KEY_PREFIX = "trk"
MESSAGE_NO_KEY = "this route needs an API key in the X-API-Key header"
MESSAGE_BAD_KEY = "the API key is unknown or revoked"
_ID_BYTES = 6
_SECRET_BYTES = 32
_HEX = frozenset("0123456789abcdef")


class Role(StrEnum):
    INGEST = "ingest"
    REVIEWER = "reviewer"
    AUDITOR = "auditor"
    ADMIN = "admin"


@dataclass(frozen=True)
class ApiKey:
    """What the store knows of a key (never the key)."""

    key_id: str
    role: Role
    label: str | None
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _hash(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode("utf-8")).hexdigest()


def _is_key_id(text: str) -> bool:
    """A key id as ``create_key`` makes them: the store is never asked about others
    (PostgreSQL, for one, fails on a NUL)."""
    return len(text) == 2 * _ID_BYTES and all(c in _HEX for c in text)


def _public(row: ApiKeyRow) -> ApiKey:
    return ApiKey(row.key_id, Role(row.role), row.label, row.created_at, row.revoked_at)


def operator() -> str:
    """Who runs the command line, as the audit log names them (``cli:<user>``)."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        user = "unknown user"
    return f"cli:{user}"[:64]


def create_key(
    session: Session, role: Role, label: str | None = None, *, by: str | None = None
) -> tuple[ApiKey, str]:
    """A new key for ``role``: its record and the key itself (shown once). With ``by``
    (who created it) the creation is a ``key.created`` audit entry in the same
    transaction; the command line always says who."""
    key_id = secrets.token_hex(_ID_BYTES)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    salt = secrets.token_hex(16)
    row = ApiKeyRow(
        key_id=key_id,
        role=Role(role).value,
        salt=salt,
        secret_sha256=_hash(salt, secret),
        label=label,
        created_at=datetime.now(UTC),
        revoked_at=None,
    )
    session.add(row)
    session.flush()
    if by is not None:
        detail = {"key": key_id, "role": row.role, "label": label}
        audit_log.append(session, key_id=by, action="key.created", detail=detail)
    return _public(row), f"{KEY_PREFIX}.{key_id}.{secret}"


def list_keys(session: Session) -> list[ApiKey]:
    return [_public(r) for r in session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at))]


def find_key(session: Session, key_id: str) -> ApiKey | None:
    """The key with id ``key_id`` (active or revoked), or None."""
    row = session.get(ApiKeyRow, key_id)
    return None if row is None else _public(row)


def revoke_key(session: Session, key_id: str, *, by: str | None = None) -> ApiKey:
    """Revoke a key for good (a revoked key is kept so the audit log still names it);
    with ``by``, a first revocation is a ``key.revoked`` audit entry."""
    row = session.get(ApiKeyRow, key_id)
    if row is None:
        raise AuthError(f"no API key with id {key_id!r}")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        session.flush()
        if by is not None:
            detail = {"key": key_id, "role": row.role, "label": row.label}
            audit_log.append(session, key_id=by, action="key.revoked", detail=detail)
    end_key_sessions(session, key_id)  # its page sessions end with it
    return _public(row)


def authenticate(session: Session, presented: str | None) -> ApiKey:
    """The active key behind ``presented``; ``AuthError`` otherwise (never saying
    which part was wrong)."""
    if not presented:
        raise AuthError(MESSAGE_NO_KEY)
    parts = presented.strip().split(".", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not _is_key_id(parts[1]):
        raise AuthError(MESSAGE_BAD_KEY)
    row = session.get(ApiKeyRow, parts[1])
    if row is None:
        _hash(secrets.token_hex(16), parts[2])  # same work as a real check
        raise AuthError(MESSAGE_BAD_KEY)
    if not hmac.compare_digest(row.secret_sha256, _hash(row.salt, parts[2])):
        raise AuthError(MESSAGE_BAD_KEY)
    if row.revoked_at is not None:
        raise AuthError(MESSAGE_BAD_KEY)
    return _public(row)
