"""Which registry and which store a command reads, said in one line on stderr, and
never an empty one made by a typo: a SQLite file that does not exist is refused,
except by the commands that exist to create it (`train`, `demo`, `ingest`,
`keys create`)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

from triage.cli._app import err_console
from triage.exceptions import ConfigError

__all__ = [
    "DEMO_STORE",
    "check_demo_store",
    "check_registry",
    "check_store",
    "people_made",
    "queue_store",
    "sqlite_file",
]

#: where `triage demo` (and so `make demo`) leaves the service's store
DEMO_STORE = Path("work/demo/triage.db")
#: URI schemes MLflow's model registry can use (its retired file store is refused)
_REGISTRY_SCHEMES = frozenset(
    {"sqlite", "postgresql", "mysql", "mssql", "http", "https", "databricks", "databricks-uc"}
)


def sqlite_file(url: str) -> Path | None:
    """The file a ``sqlite:///`` URL names (None for another backend or in memory)."""
    if not url.startswith("sqlite:"):
        return None
    path = url.split("?", 1)[0].removeprefix("sqlite:").removeprefix("///")
    return None if path in ("", ":memory:", "//") else Path(path)


def _shown(url: str) -> str:
    """``url`` without its password."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


def _say(what: str, url: str, note: str = "") -> None:
    err_console.print(f"{what}: {_shown(url)}{note}", markup=False, highlight=False)


def check_registry(uri: str, *, create: bool = False) -> bool:
    """Say which registry is read; refuse a scheme MLflow cannot use, and a SQLite
    file that does not exist unless ``create``. True if the registry exists."""
    scheme = uri.split("://", 1)[0].split("+", 1)[0] if "://" in uri else ""
    if scheme not in _REGISTRY_SCHEMES:
        raise ConfigError(
            f"unsupported tracking URI {_shown(uri)!r}: use sqlite:///path.db, a database URL "
            "(postgresql://, mysql://, mssql://) or a tracking server (http://, https://)"
        )
    path = sqlite_file(uri)
    exists = path is None or path.exists()
    _say("registry", uri, "" if exists else " (new)" if create else " (does not exist)")
    if not (exists or create):
        raise ConfigError(
            f"no registry at {path}: train a model first (triage train DIR), or give "
            "--tracking-uri / TRIAGE_TRACKING_URI naming the registry to read"
        )
    return exists


def check_store(url: str, *, create: bool = False) -> None:
    """Say which store is read; refuse a SQLite file that does not exist unless
    ``create``."""
    path = sqlite_file(url)
    exists = path is None or path.exists()
    _say("store", url, "" if exists else " (new)" if create else "")
    if not (exists or create):
        raise ConfigError(
            f"no store at {path}: give --database-url / TRIAGE_DATABASE_URL naming an "
            "existing store, or create one with triage ingest DIR or triage keys create"
        )


def queue_store(database_url: str | None, default: str) -> str:
    """The store `triage queue` reads: the one given, else ``./triage.db``, else the
    demo's; when none exists, an error saying where it looked."""
    if database_url is not None or os.environ.get("TRIAGE_DATABASE_URL"):
        return default
    local = sqlite_file(default)
    if local is None or local.exists():
        return default
    if DEMO_STORE.exists():
        url = f"sqlite:///{DEMO_STORE}"
        _say("store", url, f" (the demo's: {local} does not exist)")
        return url
    raise ConfigError(
        f"no store: looked for {local} (the default) and {DEMO_STORE} (make demo's); give "
        "--database-url / TRIAGE_DATABASE_URL, or load one with triage ingest DIR"
    )


def people_made(path: Path) -> dict[str, int]:
    """What a person made in the SQLite store at ``path`` (API keys, reviews), counted
    without opening it for writing; empty if the file or the tables are not there."""
    if not path.exists():
        return {}
    made = {}
    with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
        for table, label in (("api_keys", "API key(s)"), ("reviews", "review(s)")):
            try:
                (count,) = db.execute(f"SELECT count(*) FROM {table}").fetchone()
            except sqlite3.DatabaseError:
                continue
            if count:
                made[label] = int(count)
    return made


def check_demo_store(path: Path, *, reset: bool) -> None:
    """Refuse to rebuild the demo's store over keys or reviews a person made, unless
    ``reset``; the demo's own records alone are rebuilt without asking."""
    made = people_made(path)
    if made and not reset:
        held = ", ".join(f"{n:,} {label}" for label, n in made.items())
        raise ConfigError(
            f"the demo's store {path} holds {held} that the demo would delete: pass --reset "
            "to rebuild it anyway, or --workdir DIR for a fresh folder"
        )
