"""Runtime settings (docs/architecture.md §10): read from the environment (``TRIAGE_*``), each one
overridable by a CLI option. Specs that change results live in YAML files instead."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from triage.exceptions import ConfigError

__all__ = ["DEFAULT_TRACKING_URI", "Settings", "artifact_root_for"]

DEFAULT_TRACKING_URI = "sqlite:///models/mlflow.db"
DEFAULT_DATABASE_URL = "sqlite:///triage.db"
#: settings whose value never appears in an error message
_SECRETS = frozenset({"session_secret"})


class Settings(BaseModel):
    """Where the registry and the store live, the team's daily review capacity, and
    the key that signs the review pages' session cookies (``TRIAGE_SESSION_SECRET``:
    without it each start draws a random one, so sessions end on a restart)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tracking_uri: str = DEFAULT_TRACKING_URI
    database_url: str = DEFAULT_DATABASE_URL
    capacity: int = Field(default=10, ge=1, le=100_000)
    session_secret: SecretStr | None = Field(default=None, min_length=32)
    #: a request body larger than this is refused (413) before it is read or its key checked
    max_body_bytes: int = Field(default=20_000_000, ge=1024, le=2**31 - 1)
    #: serve /openapi.json (the schema alone: no page that loads scripts from elsewhere)
    api_docs: bool = False
    #: failed sign-ins and bad API keys one client address may make a minute before 429
    auth_failures_per_minute: int = Field(default=10, ge=1, le=1_000_000)
    #: the queue spec (default: the shipped models/queues.yaml)
    queues: str | None = Field(default=None, min_length=1)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from ``TRIAGE_<FIELD>`` variables (``TRIAGE_DATABASE_URL``,
        ``TRIAGE_MAX_BODY_BYTES``, ``TRIAGE_API_DOCS`` ...); keyword overrides that are
        not None win."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field in cls.model_fields:
            raw = env.get(f"TRIAGE_{field.upper()}")
            if raw not in (None, ""):
                values[field] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = str(err["loc"][0])
            got = "hidden" if field in _SECRETS else repr(err.get("input"))
            raise ConfigError(f"TRIAGE_{field.upper()}: {err['msg']} (got {got})") from None


def artifact_root_for(tracking_uri: str) -> str | None:
    """For a SQLite tracking store, artifacts go beside the database file in
    ``artifacts/`` (so the default is ``models/artifacts/``); other stores choose."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix):
        return None
    db = Path(tracking_uri[len(prefix) :])
    return (db.parent / "artifacts").resolve().as_uri()
