"""What the HTTP stack alone allows, under the load of bench_service's first part.

``bench_service.py`` times ``POST /incidents`` (one incident: validate, store, score,
explain, audit) from 16 concurrent clients against a p50 of 5 ms and a p99 of 20 ms.
This script runs the same client and load against the smallest apps the stack
allows (``_floor_apps.py``, FastAPI under uvicorn as `triage serve` runs it), so the
target can be read against a floor no implementation of the route can go below:

1. a POST route that reads the body and answers, doing nothing else;
2. the same route making one durable write (raw ``sqlite3``, WAL, synchronous=FULL,
   one INSERT and COMMIT a request), with no validation, features, model or audit;
3. the same write without waiting for the disk (synchronous=NORMAL: safe against a
   crash of the process, not of the machine).

A group commit (one transaction, one wait for the disk, for the writes of several
concurrent requests) would lower 2. towards 3., not below it.

With 16 clients each sending its next request when the last is answered, p50 is
about 16 / throughput, so 5 ms needs about 3,200 requests a second. Figures are
printed with their ratio to the target, never asserted.

    .venv/bin/python benchmarks/bench_http_floor.py [--requests 5000] [--clients 16]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _lean_client import request_bytes, run_clients
from _service_support import against, cpu_seconds, free_port, running

HERE = Path(__file__).resolve().parent
TARGET_P50_MS, TARGET_P99_MS = 5.0, 20.0
#: about the size of bench_service's single-incident request
BODY = {"incidents": [{f"field_{i}": "x" * 12 for i in range(45)}], "people": [{}, {}]}


def floor(app: str, sync: str, args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--app-dir", str(HERE)]
    command += ["--port", str(port), "--log-level", "warning"]
    env = {"FLOOR_DATABASE": str(tmp / f"{app.split(':')[1]}-{sync}.db"), "FLOOR_SYNC": sync}
    request = request_bytes("POST", "/incidents", {"X-API-Key": "k" * 60}, BODY)
    with running(command, f"http://127.0.0.1:{port}/docs", tmp / "floor.log", env) as pid:
        run_clients("127.0.0.1", port, [request] * args.warmup, args.clients)
        cpu = cpu_seconds(pid)
        started = time.perf_counter()
        answers = run_clients("127.0.0.1", port, [request] * args.requests, args.clients)
        wall = time.perf_counter() - started
        cpu_ms = 1000 * (cpu_seconds(pid) - cpu) / len(answers)
        if any(a.status != 200 for a in answers):
            raise RuntimeError(f"{app} failed under load")
        ms = [1000 * a.seconds for a in answers]
        one = [1000 * a.seconds for a in run_clients("127.0.0.1", port, [request] * 500, 1)]
    p50, p99 = float(np.percentile(ms, 50)), float(np.percentile(ms, 99))
    print(f"== {app} (synchronous={sync}) ==" if app.endswith("write") else f"== {app} ==")
    print(f"p50                 : {p50:.2f} ms  {against(p50, TARGET_P50_MS, 'ms')}")
    print(f"p99                 : {p99:.2f} ms  {against(p99, TARGET_P99_MS, 'ms')}")
    print(f"throughput          : {len(ms) / wall:,.0f} requests/s ({args.clients} clients)")
    print(f"server CPU          : {cpu_ms:.3f} ms a request")
    print(f"p50, one client     : {float(np.percentile(one, 50)):.2f} ms")
    return {"p50": p50, "p99": p99}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=300)
    args = parser.parse_args()
    runs = {
        "no work": ("_floor_apps:noop", "FULL"),
        "one write, FULL": ("_floor_apps:one_write", "FULL"),
        "one write, NORMAL": ("_floor_apps:one_write", "NORMAL"),
    }
    with tempfile.TemporaryDirectory(prefix="triage-floor-") as name:
        results = {what: floor(app, sync, args, Path(name)) for what, (app, sync) in runs.items()}
    print("== summary: ratio = measured / target (at most 1 meets it) ==")
    for what, r in results.items():
        print(
            f"{what:<20} p50 {r['p50']:6.2f} ms (ratio {r['p50'] / TARGET_P50_MS:.2f})  "
            f"p99 {r['p99']:6.2f} ms (ratio {r['p99'] / TARGET_P99_MS:.2f})"
        )


if __name__ == "__main__":
    main()
