"""Helpers for the service tests: JSON rows as a force's feed would send them, a
real uvicorn server on a free loopback port, and a throwaway PostgreSQL server."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from glob import glob
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from triage.contract.names import DASH_QUESTIONS
from triage.service import Role, StaticModels, Store, StubScorer, create_app
from triage.service.auth import create_key, revoke_key
from triage.settings import Settings

Row = dict[str, Any]


def incident(
    incident_id: str,
    reported_at: str = "2024-03-01T09:00:00Z",
    victim: str = "v1",
    perpetrator: str | None = "p1",
    **overrides: Any,
) -> Row:
    row: Row = {
        "incident_id": incident_id,
        "reported_at": reported_at,
        "occurred_at": None,
        "victim_id": victim,
        "perpetrator_id": perpetrator,
        "relationship": "ex_partner",
        "incident_type": "harassment",
        "injury": False,
        "weapon": False,
        "strangulation": False,
        "children_present": False,
        "substance_misuse": False,
        "dash_grade": "standard",
        **dict.fromkeys(DASH_QUESTIONS),
        "deprivation_decile": 5,
    }
    row.update(overrides)
    return row


def person(person_id: str, sex: str = "female", birth_year: int | None = 1990) -> Row:
    return {"person_id": person_id, "sex": sex, "birth_year": birth_year, "ethnicity": "white"}


def people_for(rows: list[Row]) -> list[Row]:
    ids = sorted({r["victim_id"] for r in rows} | {r["perpetrator_id"] for r in rows} - {None})
    return [person(i) for i in ids]


def day_batch(n: int, day: str = "2024-03-01", prefix: str = "d") -> dict[str, list[Row]]:
    """``n`` incidents on one day, with varied risk so the ranking means something."""
    rows = [
        incident(
            f"{prefix}{i:03d}",
            f"{day}T{8 + i % 10:02d}:{i % 60:02d}:00Z",
            victim=f"{prefix}v{i % 7}",
            perpetrator=f"{prefix}p{i % 5}" if i % 4 else None,
            injury=i % 3 == 0,
            strangulation=i % 5 == 0,
            dash_grade=("standard", "medium", "high")[i % 3],
        )
        for i in range(n)
    ]
    return {"incidents": rows, "people": people_for(rows)}


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Run ``app`` under a real uvicorn server in a thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_config=None, lifespan="on", ws="none", timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@dataclass
class Service:
    """A running service: its URL, a key per role, and the doubles behind it."""

    url: str
    keys: dict[str, str]
    key_ids: dict[str, str]
    store: Store
    models: StaticModels

    def client(self, role: str | None = None) -> httpx.Client:
        headers = {} if role is None else {"X-API-Key": self.keys[role]}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def make_keys(store: Store) -> tuple[dict[str, str], dict[str, str]]:
    keys, ids = {}, {}
    with store.session() as session:
        for role in Role:
            record, key = create_key(session, role, label=f"test {role.value}")
            keys[role.value], ids[role.value] = key, record.key_id
        revoked, key = create_key(session, Role.REVIEWER, label="revoked")
    with store.session() as session:
        revoke_key(session, revoked.key_id)
    keys["revoked"], ids["revoked"] = key, revoked.key_id
    return keys, ids


@contextmanager
def start_service(
    store: Store, tmp_path: Path, models: StaticModels | None = None
) -> Iterator[Service]:
    """Keys for every role (and a revoked one), a stub champion, a real server."""
    keys, ids = make_keys(store)
    models = models or StaticModels(
        {1: StubScorer("stub/1"), 2: StubScorer("stub/2")},
        1,
        name="stub",
        metrics={1: {"pooled_model_roc_auc": 0.71}, 2: {"pooled_model_roc_auc": 0.74}},
    )
    settings = Settings(
        database_url=store.url,
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        api_docs=True,  # the tests read the schema
        auth_failures_per_minute=10_000,  # the role tests send many bad keys on purpose
    )
    app = create_app(settings, store=store, models=models)
    with serving(app) as url:
        yield Service(url, keys, ids, store, models)


@contextmanager
def populated_service(tmp: Path, batch: dict[str, Any]) -> Iterator[Service]:
    """A running service on a fresh SQLite store holding ``batch``."""
    store = Store(f"sqlite:///{tmp / 'triage.db'}")
    store.create_schema()
    try:
        with start_service(store, tmp) as svc:
            with svc.client("ingest") as c:
                assert c.post("/incidents", json=batch).status_code == 200
            yield svc
    finally:
        store.dispose()


def logged_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured log message, with its traceback text if any."""
    return "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)


# --- PostgreSQL ------------------------------------------------------------------------


def _pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _as_postgres_user(args: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: drop to the ``postgres`` user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@contextmanager
def local_postgres() -> Iterator[str | None]:
    """A throwaway PostgreSQL cluster on a free loopback port, or None if the server
    binaries are not installed. Yields a server URL (database ``postgres``)."""
    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        yield None
        return
    root = Path(tempfile.mkdtemp(prefix="triage-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    init = [initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"]
    subprocess.run(_as_postgres_user(init), check=True, capture_output=True, timeout=120)
    options = f"-p {port} -h 127.0.0.1 -k {root} -c fsync=off -c full_page_writes=off"
    start = [pg_ctl, "-D", str(data), "-o", options, "-w", "-l", str(root / "log"), "start"]
    subprocess.run(_as_postgres_user(start), check=True, capture_output=True, timeout=120)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres_user([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server at ``server_url``; dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    name = f"triage_test_{uuid.uuid4().hex[:12]}"
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- review pages ------------------------------------------------------------------------

SESSION_COOKIE = "triage_session"
_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_in(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF_INPUT.search(html)
    if found is None:
        raise AssertionError("no CSRF token on the page")
    return found.group(1)


class PageClient:
    """The review pages as a browser sees them, over plain HTTP. It keeps the session
    cookie itself: httpx's cookie jar never sends a Secure cookie over http, while
    browsers do on loopback. Redirects are followed unless ``follow=False``."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)
        self.cookie: str | None = None
        self.set_cookies: list[str] = []

    def __enter__(self) -> PageClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def request(
        self, method: str, path: str, *, data: dict[str, str] | None = None, follow: bool = True
    ) -> httpx.Response:
        headers = {"Cookie": f"{SESSION_COOKIE}={self.cookie}"} if self.cookie else {}
        r = self.http.request(method, path, data=data, headers=headers)
        for raw in r.headers.get_list("set-cookie"):
            self.set_cookies.append(raw)
            name, _, value = raw.split(";", 1)[0].partition("=")
            if name == SESSION_COOKIE:
                self.cookie = None if "expires=Thu, 01 Jan 1970" in raw else value
        if follow and r.status_code in (302, 303, 307):
            return self.request("GET", r.headers["location"])
        return r

    def get(self, path: str, *, follow: bool = True) -> httpx.Response:
        return self.request("GET", path, follow=follow)

    def post(self, path: str, data: dict[str, str], *, follow: bool = True) -> httpx.Response:
        return self.request("POST", path, data=data, follow=follow)

    def post_form(
        self, page: str, action: str, data: dict[str, str], *, follow: bool = True
    ) -> httpx.Response:
        """Open ``page``, then post ``data`` to ``action`` with the page's CSRF token."""
        token = csrf_in(self.get(page).text)
        return self.post(action, {**data, "csrf_token": token}, follow=follow)

    def login(self, key: str, *, follow: bool = True) -> httpx.Response:
        return self.post_form("/login", "/login", {"api_key": key}, follow=follow)

    def logout(self, page: str = "/ui/") -> httpx.Response:
        return self.post_form(page, "/logout", {})
