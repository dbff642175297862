"""The smallest FastAPI apps a POST route can be, for ``bench_http_floor.py``: one
that answers without work, one that also makes one write (raw ``sqlite3``, WAL, one
``INSERT`` and ``COMMIT`` per request). Run under uvicorn as ``_floor_apps:noop`` and
``_floor_apps:one_write`` (the database file from ``FLOOR_DATABASE``; ``FLOOR_SYNC``
FULL, the default, waits for the disk at each commit, NORMAL does not)."""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
from typing import Any

from fastapi import FastAPI, Request

noop = FastAPI()
one_write = FastAPI()

_lock = threading.Lock()
_connection: list[sqlite3.Connection] = []


@noop.post("/incidents")
async def _answer(request: Request) -> dict[str, Any]:
    await request.body()
    return {"scored": 1}


def _database() -> sqlite3.Connection:
    if not _connection:
        c = sqlite3.connect(os.environ["FLOOR_DATABASE"], isolation_level=None)
        c.execute("PRAGMA journal_mode=WAL")
        sync = os.environ.get("FLOOR_SYNC", "FULL")
        if sync not in ("FULL", "NORMAL"):
            raise ValueError(f"FLOOR_SYNC must be FULL or NORMAL, not {sync!r}")
        c.execute(f"PRAGMA synchronous={sync}")
        c.execute("CREATE TABLE IF NOT EXISTS rows (id TEXT PRIMARY KEY, body BLOB)")
        _connection.append(c)
    return _connection[0]


@one_write.post("/incidents")
async def _write(request: Request) -> dict[str, Any]:
    body = await request.body()
    with _lock:
        c = _database()
        c.execute("BEGIN IMMEDIATE")
        c.execute("INSERT INTO rows VALUES (?, ?)", (uuid.uuid4().hex, body))
        c.execute("COMMIT")
    return {"scored": 1}
