"""Runtime settings (DESIGN §10): read from the environment (``TRIAGE_*``), each one
overridable by a CLI option. Specs that change results live in YAML files instead."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from triage.exceptions import ConfigError

__all__ = ["DEFAULT_TRACKING_URI", "Settings", "artifact_root_for"]

DEFAULT_TRACKING_URI = "sqlite:///models/mlflow.db"
DEFAULT_DATABASE_URL = "sqlite:///triage.db"


class Settings(BaseModel):
    """Where the registry and the store live, and the team's daily review capacity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tracking_uri: str = DEFAULT_TRACKING_URI
    database_url: str = DEFAULT_DATABASE_URL
    capacity: int = Field(default=10, ge=1, le=100_000)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from ``TRIAGE_TRACKING_URI``, ``TRIAGE_DATABASE_URL`` and
        ``TRIAGE_CAPACITY``; keyword overrides that are not None win."""
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
            name = f"TRIAGE_{str(err['loc'][0]).upper()}"
            raise ConfigError(f"{name}: {err['msg']} (got {err.get('input')!r})") from None


def artifact_root_for(tracking_uri: str) -> str | None:
    """For a SQLite tracking store, artifacts go beside the database file in
    ``artifacts/`` (so the default is ``models/artifacts/``); other stores choose."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix):
        return None
    db = Path(tracking_uri[len(prefix) :])
    return (db.parent / "artifacts").resolve().as_uri()
