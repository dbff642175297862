"""`triage serve` says which store and registry it uses, refuses a SQLite store or
registry that does not exist, and makes them only when asked (--create)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from triage.cli import app
from triage.service import Store

CLI = [sys.executable, "-c", "from triage.cli import main; main()"]


def _serve(*args: str) -> tuple[int, str]:
    """``triage serve`` on a port held busy: a serve that wrongly went ahead fails to
    bind and returns, rather than serving for ever."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        result = CliRunner().invoke(app, ["serve", "--port", port, *args])
    assert "Traceback" not in result.output
    return result.exit_code, _flat(result.output)


def _flat(text: str) -> str:
    """``text`` without whitespace: the error console wraps long lines, even mid-path."""
    return "".join(text.split())


def test_serve_refuses_a_store_that_does_not_exist(tmp_path: Path) -> None:
    store, registry = tmp_path / "typo.db", tmp_path / "mlflow.db"
    code, output = _serve(
        "--database-url", f"sqlite:///{store}", "--tracking-uri", f"sqlite:///{registry}"
    )
    assert code == 1
    assert _flat(f"store: sqlite:///{store}") in output
    assert _flat(f"no store at {store}") in output
    assert "--create" in output
    assert not store.exists()
    assert not registry.exists()


def test_serve_refuses_a_registry_that_does_not_exist(tmp_path: Path) -> None:
    store, registry = tmp_path / "triage.db", tmp_path / "typo.db"
    Store(f"sqlite:///{store}").create_schema()
    code, output = _serve(
        "--database-url", f"sqlite:///{store}", "--tracking-uri", f"sqlite:///{registry}"
    )
    assert code == 1
    assert _flat(f"store: sqlite:///{store} registry:") in output  # it exists: no note
    assert _flat(f"registry: sqlite:///{registry} (does not exist)") in output
    assert _flat(f"no registry at {registry}") in output
    assert "--create" in output
    assert not registry.exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_create_makes_both_says_so_and_serves(tmp_path: Path) -> None:
    store, registry = tmp_path / "new.db", tmp_path / "models" / "mlflow.db"
    registry.parent.mkdir()
    port = _free_port()
    args = ["serve", "--port", str(port), "--create"]
    args += ["--database-url", f"sqlite:///{store}", "--tracking-uri", f"sqlite:///{registry}"]
    env = {**os.environ, "COLUMNS": "250"}
    server = subprocess.Popen(
        [*CLI, *args], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env
    )
    try:
        deadline, health = time.monotonic() + 180, None
        while health is None and time.monotonic() < deadline and server.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
            except httpx.TransportError:
                time.sleep(0.5)
        assert health is not None, "triage serve --create did not start"
        assert health.status_code == 200
        assert health.json() == {
            "status": "ok",
            "model_version": None,
            "queues": {"early_intervention": None, "mash": None},
        }
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=60)
    assert f"store: sqlite:///{store} (new)" in stderr
    assert f"registry: sqlite:///{registry} (new)" in stderr
    assert store.exists()
