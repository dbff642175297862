"""A 300 MB request body with no API key, against `triage serve` in a child process
over loopback: the service must answer 413 (before reading the body or checking a
key) while its memory stays flat.

Target: the server's resident memory grows by less than 50 MB, for a body announced
by its Content-Length and for a chunked one. The body is streamed from one reused
1 MB buffer, so the client holds 1 MB however large the body is.

    .venv/bin/python benchmarks/bench_body_limit.py [--mb 300]
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_MB = 50.0
CHUNK = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def _wait_ready(port: int, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited before it answered")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer in {seconds:.0f} s")


def _send(port: int, size: int, *, chunked: bool) -> tuple[int, int]:
    """Send a ``size``-byte body with no key; the status and the bytes actually sent
    (the server may answer, and stop listening, before the body ends)."""
    head = "POST /incidents HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {size}\r\n\r\n"
    block = b"[" * CHUNK
    frame = f"{CHUNK:x}\r\n".encode() + block + b"\r\n" if chunked else block
    answer = b""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(head.encode())
        try:
            while sent < size:
                s.sendall(frame)
                sent += CHUNK
                if select.select([s], [], [], 0)[0]:
                    answer += s.recv(65536)
            if chunked:
                s.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed after answering: read what it said
        s.settimeout(30)
        while b"\r\n" not in answer:
            more = s.recv(65536)
            if not more:
                break
            answer += more
    status = answer.split(b" ", 2)[1] if answer.startswith(b"HTTP/") else b"0"
    return int(status), sent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=300, help="body size in MB")
    args = parser.parse_args()
    size = args.mb * CHUNK
    triage = Path(sys.executable).with_name("triage")
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="bench-body-") as tmp:
        env = {
            **os.environ,
            "TRIAGE_DATABASE_URL": f"sqlite:///{tmp}/triage.db",
            "TRIAGE_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db",
        }
        log = Path(tmp) / "server.log"
        with log.open("wb") as out:
            server = subprocess.Popen(
                [str(triage), "serve", "--port", str(port), "--create"],
                stdout=out,
                stderr=out,
                env=env,
                start_new_session=True,
            )
        try:
            _wait_ready(port, server)
            worst = 0.0
            for chunked in (False, True):
                Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # peak := current
                before = _status_kb(server.pid, "VmRSS")
                started = time.perf_counter()
                status, sent = _send(port, size, chunked=chunked)
                seconds = time.perf_counter() - started
                after = _status_kb(server.pid, "VmRSS")
                peak = _status_kb(server.pid, "VmHWM")
                growth = (after - before) / 1024
                worst = max(worst, growth, (peak - before) / 1024)
                kind = "chunked" if chunked else "Content-Length"
                print(
                    f"{args.mb} MB body, no key, {kind}: status {status}; "
                    f"{sent / CHUNK:,.0f} MB sent in {seconds:.1f} s; server RSS "
                    f"{before / 1024:.0f} -> {after / 1024:.0f} MB (growth {growth:+.1f} MB, "
                    f"peak {peak / 1024:.0f} MB)"
                )
                if status != 413:
                    print(f"  expected 413; server log:\n{log.read_text()[-2000:]}")
                    return 1
            verdict = "ok" if worst < TARGET_MB else "OVER TARGET"
            print(f"largest growth {worst:.1f} MB (target < {TARGET_MB:g} MB): {verdict}")
            return 0 if worst < TARGET_MB else 1
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
