"""The scoring service under load: `triage serve` on loopback with a real model.

A synthetic county (5 years, 3,000 incidents a year) trains the shipped model spec
with temporal validation; the version is registered in a SQLite MLflow store and made
@champion (cached under benchmarks/out/, ignored). The store is filled with the
county's history except its last incidents, then `triage serve` runs as a child
process and answers:

1. ``POST /incidents`` with one incident and its people (validate, store, build the
   features from the stored history, score, explain, audit), from 16 concurrent
   clients. Targets: p50 <= 5 ms, p99 <= 20 ms. First the floor: ``GET /health``
   (open; one ``SELECT 1`` on the store in the thread pool; no model) on the same
   server with the same clients: what the HTTP stack, the middleware and a store
   round trip cost before any work. With 16 clients each sending its next request as soon as the
   last is answered, p50 is about 16 / throughput: 5 ms needs about 3,200 requests
   a second, whatever the route does.
2. ``GET /queue`` for a day of 5,000 incidents (ingested first, in batches), median
   of several reads. Target: <= 1 s.
3. Raw scoring of one ready feature row, 200 sequential requests each: the bundle in
   process (booster + calibration), the booster alone, and `mlflow models serve` on
   the same registered booster (``/invocations``; HTTP round trip, uncalibrated;
   ``inputs`` JSON, as ``dataframe_split`` cannot carry categorical features), and
   the booster on the numpy row MLflow hands it. Our service has no raw-row
   endpoint: its nearest HTTP figure is 1. from a single client, which does the
   whole ingest-and-score.

Latencies of 1. are client-side, from a lean asyncio client in this process
(``_lean_client.py``: httpx's own cost per request would dominate them), so they
include the client's own cost; on a shared 2-core machine the server and the clients
compete for CPU.
Figures are printed with their ratio to the target, never asserted.

    .venv/bin/python benchmarks/bench_service.py [--requests 1000] [--clients 16]
        [--queue-incidents 5000] [--raw-requests 200] [--floor-requests 5000]
        [--skip-mlflow]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import httpx
import numpy as np
from _lean_client import request_bytes, run_clients
from _service_support import (
    NAME,
    Payload,
    against,
    champion,
    cpu_seconds,
    feed_rows,
    free_port,
    median_ms,
    mlflow_payload,
    peak_rss_mb,
    queue_day,
    running,
    serve_store,
    single_payloads,
)

from triage.contract.names import Extract
from triage.features.build import build_features
from triage.models.bundle import ModelBundle
from triage.registry.tracking import MlflowRegistry
from triage.synth import SynthConfig, generate_world

TARGET_P50_MS, TARGET_P99_MS, TARGET_QUEUE_S = 5.0, 20.0, 1.0
QUEUE_BATCH = 500
Result = dict[str, float]


# --- 1. single-incident ingest-and-score ------------------------------------------------


def _post_all(
    port: int, key: str, payloads: Sequence[Payload], clients: int
) -> tuple[list[float], Counter[str]]:
    """POST every payload once from ``clients`` concurrent keep-alive connections;
    return each request's latency in seconds, failed or not, and the failures by
    status and error (a success stores and scores exactly one incident)."""
    headers = {"X-API-Key": key}
    requests = [request_bytes("POST", "/incidents", headers, p) for p in payloads]
    answers = run_clients("127.0.0.1", port, requests, clients)
    failures: Counter[str] = Counter()
    for answer in answers:
        body = answer.json()
        if answer.status != 200 or body.get("scored") != 1:
            failures[f"{answer.status} {body.get('error')}"] += 1
    return [a.seconds for a in answers], failures


def _failed(failures: Counter[str]) -> str:
    return ", ".join(f"{n} x {what}" for what, n in failures.items()) or "none"


def _percentiles(seconds: Sequence[float]) -> tuple[float, float]:
    ms = [1000 * s for s in seconds]
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def bench_floor(port: int, args: argparse.Namespace, pid: int) -> Result:
    """The same server, client and concurrency on ``GET /health`` (open; ``SELECT 1``
    on the store; no model): the floor under every route's latency."""
    requests = [request_bytes("GET", "/health", {})] * args.floor_requests
    run_clients("127.0.0.1", port, requests[: args.warmup], args.clients)
    cpu = cpu_seconds(pid)
    started = time.perf_counter()
    answers = run_clients("127.0.0.1", port, requests, args.clients)
    wall = time.perf_counter() - started
    if any(a.status != 200 for a in answers):
        raise RuntimeError("GET /health failed under load")
    p50, p99 = _percentiles([a.seconds for a in answers])
    out = {
        "p50": p50,
        "p99": p99,
        "throughput": len(answers) / wall,
        "cpu_ms": 1000 * (cpu_seconds(pid) - cpu) / len(answers),
    }
    print(
        f"GET /health         : p50 {p50:.2f} ms, p99 {p99:.2f} ms, {out['throughput']:,.0f} "
        f"requests/s, server CPU {out['cpu_ms']:.3f} ms a request ({len(answers):,} requests, "
        f"{args.clients} clients)"
    )
    return out


def bench_ingest(
    port: int, key: str, payloads: list[Payload], args: argparse.Namespace, pid: int
) -> Result:
    _post_all(port, key, payloads[: args.warmup], args.clients)
    timed = payloads[args.warmup : len(payloads) - args.raw_requests]
    cpu = cpu_seconds(pid)
    started = time.perf_counter()
    seconds, failures = _post_all(port, key, timed, args.clients)
    wall = time.perf_counter() - started
    cpu_ms = 1000 * (cpu_seconds(pid) - cpu) / len(timed)
    p50, p99 = _percentiles(seconds)
    failed = sum(failures.values())
    print(
        f"requests            : {len(seconds):,} from {args.clients} clients in {wall:.1f} s "
        f"({len(seconds) / wall:,.1f} requests/s; after {args.warmup} warm-up requests)"
    )
    print(f"failed              : {_failed(failures)}")
    print(f"p50                 : {p50:,.1f} ms  {against(p50, TARGET_P50_MS, 'ms')}")
    print(f"p99                 : {p99:,.1f} ms  {against(p99, TARGET_P99_MS, 'ms')}")
    ms = [1000 * s for s in seconds]
    print(f"p90 / max           : {np.percentile(ms, 90):,.1f} / {max(ms):,.1f} ms")
    print(f"server CPU          : {cpu_ms:,.1f} ms a request (user + system, triage serve)")
    throughput = len(seconds) / wall
    last = payloads[len(payloads) - args.raw_requests :]
    sequential, failures = _post_all(port, key, last, 1)
    one = 1000 * statistics.median(sequential)
    print(
        f"p50, one client     : {one:,.1f} ms  ({len(last)} sequential requests; "
        f"failed: {_failed(failures)})"
    )
    return {
        "p50": p50,
        "p99": p99,
        "throughput": throughput,
        "failed": failed,
        "one_client": one,
        "cpu_ms": cpu_ms,
    }


# --- 2. the day's queue ----------------------------------------------------------------


def bench_queue(
    url: str, keys: dict[str, str], extract: Extract, args: argparse.Namespace
) -> float:
    day, rows = queue_day(extract, args.queue_incidents, args.seed)
    started = time.perf_counter()
    with httpx.Client(base_url=url, headers={"X-API-Key": keys["ingest"]}, timeout=600) as c:
        for start in range(0, len(rows), QUEUE_BATCH):  # people are stored: not re-sent
            batch = {"incidents": feed_rows(rows.iloc[start : start + QUEUE_BATCH]), "people": []}
            c.post("/incidents", json=batch).raise_for_status()
    took = time.perf_counter() - started
    print(
        f"ingested            : {len(rows):,} incidents on {day}, {QUEUE_BATCH} a request, "
        f"in {took:.1f} s ({len(rows) / took:,.0f} incidents/s, scored on the way in)"
    )
    times = []
    with httpx.Client(base_url=url, headers={"X-API-Key": keys["reviewer"]}, timeout=600) as c:
        for _ in range(args.queue_calls):
            started = time.perf_counter()
            response = c.get("/queue", params={"date": day, "capacity": 10})
            times.append(time.perf_counter() - started)
            response.raise_for_status()
    median = statistics.median(times)
    print(
        f"GET /queue          : median {median:.2f} s of {len(times)} reads "
        f"{against(median, TARGET_QUEUE_S, 's')}; {len(response.json()['items']):,} items, "
        f"{len(response.content) / 1e6:.1f} MB, min {min(times):.2f} s, max {max(times):.2f} s"
    )
    return median


# --- 3. raw scoring of one feature row -------------------------------------------------


def bench_raw(tracking: str, extract: Extract, args: argparse.Namespace, log: Path) -> Result:
    registry = MlflowRegistry(tracking)
    info = registry.champion(NAME)
    assert info is not None
    with tempfile.TemporaryDirectory(prefix="triage-bundle-") as tmp:
        bundle = ModelBundle.load(registry.download_bundle(NAME, info.version, Path(tmp)))
    last = extract.incidents.iloc[[-1]].reset_index(drop=True)
    row = build_features(extract, last, bundle.feature_spec, threads=1).X
    n, payload = args.raw_requests, mlflow_payload(row)
    array = np.array(payload["inputs"], dtype=np.float64)  # what MLflow hands the booster
    out: Result = {
        "bundle": median_ms(lambda: bundle.predict_proba(row), n),
        "booster": median_ms(lambda: bundle.booster.predict(row), n),
        "array": median_ms(lambda: bundle.booster.predict(array), n),
    }
    print(
        f"bundle in process   : p50 {out['bundle']:.3f} ms  (a pandas row: booster + calibration)"
    )
    print(f"booster in process  : p50 {out['booster']:.3f} ms  (a pandas row, booster alone)")
    print(f"booster, numpy row  : p50 {out['array']:.3f} ms  (the row as MLflow's model gets it)")
    if args.skip_mlflow:
        return out
    port = free_port()
    command = [str(Path(sys.executable).parent / "mlflow"), "models", "serve"]
    command += ["-m", f"models:/{NAME}/{info.version}", "--env-manager", "local"]
    command += ["-h", "127.0.0.1", "-p", str(port)]
    url = f"http://127.0.0.1:{port}"
    expected = float(bundle.booster.predict(row)[0])
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {"MLFLOW_TRACKING_URI": tracking, "PATH": path}  # it runs `uvicorn` from PATH
    with running(command, url + "/ping", log, env) as pid:
        with httpx.Client(base_url=url, timeout=60) as client:
            answer = client.post("/invocations", json=payload)
            if answer.status_code != 200:
                raise RuntimeError(f"MLflow answered {answer.status_code}: {answer.text[-1200:]}")
            got = float(answer.json()["predictions"][0])
            if not np.isclose(got, expected, rtol=0, atol=1e-9):
                raise RuntimeError(f"MLflow scored {got}, the booster {expected}")
            out["mlflow"] = median_ms(lambda: client.post("/invocations", json=payload), n)
        out["mlflow_rss"] = peak_rss_mb(pid)
    print(
        f"mlflow models serve : p50 {out['mlflow']:.2f} ms  (POST /invocations, one row, {n} "
        f"sequential requests; same score as the booster: checked; peak RSS "
        f"{out['mlflow_rss']:,.0f} MB)"
    )
    return out


# --- main ----------------------------------------------------------------------------------


def summary(service: Result | None, raw: Result, clients: int) -> None:
    rows: list[tuple[str, str, float | None]] = []
    if service is not None:
        p50, p99, queue_s = service["p50"], service["p99"], service["queue"]
        rows += [
            (f"POST /incidents p50, {clients} clients", f"{p50:,.1f} ms", p50 / TARGET_P50_MS),
            (f"POST /incidents p99, {clients} clients", f"{p99:,.1f} ms", p99 / TARGET_P99_MS),
            ("POST /incidents throughput", f"{service['throughput']:,.1f} /s", None),
            ("POST /incidents failed (timed ones)", f"{service['failed']:,.0f}", None),
            ("POST /incidents p50, 1 client", f"{service['one_client']:,.1f} ms", None),
            ("POST /incidents server CPU", f"{service['cpu_ms']:,.1f} ms", None),
            (f"GET /health p50, {clients} clients", f"{service['floor_p50']:,.2f} ms", None),
            (f"GET /health p99, {clients} clients", f"{service['floor_p99']:,.2f} ms", None),
            ("GET /health throughput", f"{service['floor_throughput']:,.0f} /s", None),
            ("GET /health server CPU", f"{service['floor_cpu_ms']:,.3f} ms", None),
            ("GET /queue, one day (median)", f"{queue_s:.2f} s", queue_s / TARGET_QUEUE_S),
            ("triage serve peak RSS", f"{service['rss']:,.0f} MB", None),
        ]
    rows += [
        ("one row: bundle in process, p50", f"{raw['bundle']:.3f} ms", None),
        ("one row: booster in process, p50", f"{raw['booster']:.3f} ms", None),
        ("one row: booster on a numpy row, p50", f"{raw['array']:.3f} ms", None),
    ]
    if "mlflow" in raw:
        rows.append(("one row: mlflow models serve, p50", f"{raw['mlflow']:.2f} ms", None))
        rows.append(("mlflow models serve peak RSS", f"{raw['mlflow_rss']:,.0f} MB", None))
    print("== summary: ratio = measured / target (at most 1 meets it) ==")
    for name, value, ratio in rows:
        print(f"{name:<36} {value:>12}  {'' if ratio is None else f'ratio {ratio:,.2f}'}")
    if service is not None:
        print(
            f"POST /incidents server CPU / GET /health server CPU: "
            f"{service['cpu_ms'] / service['floor_cpu_ms']:,.0f}; the {TARGET_P50_MS:g} ms p50 "
            f"at {clients} clients leaves about {1000 * clients / TARGET_P50_MS:,.0f} requests "
            "a second to serve"
        )
    if "mlflow" in raw:
        mlflow = raw["mlflow"]
        print(f"MLflow over HTTP / our bundle in process (p50): {mlflow / raw['bundle']:.2f}")
        print(f"MLflow over HTTP / the booster on a numpy row (p50): {mlflow / raw['array']:,.0f}")
        if service is not None:
            print(
                "MLflow over HTTP (a ready row) / our whole POST /incidents from one client "
                f"(validate, store, features, score, reasons, audit), p50: "
                f"{mlflow / service['one_client']:.3f}"
            )


def bench_service(extract: Extract, tracking: str, args: argparse.Namespace, tmp: Path) -> Result:
    held = args.warmup + args.requests + args.raw_requests
    db, keys = serve_store(extract, held, tmp)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = [str(Path(sys.executable).parent / "triage"), "serve", "--port", str(port)]
    serve += ["--database-url", db, "--tracking-uri", tracking]
    payloads = single_payloads(extract, extract.incidents.iloc[-held:])
    with running(serve, url + "/health", tmp / "serve.log", {}) as pid:
        print(f"== 1. POST /incidents, one incident and its people, {args.clients} clients ==")
        floor = bench_floor(port, args, pid)
        result = bench_ingest(port, keys["ingest"], payloads, args, pid)
        result |= {f"floor_{k}": v for k, v in floor.items()}
        print(f"== 2. GET /queue, a day of {args.queue_incidents:,} incidents ==")
        result["queue"] = bench_queue(url, keys, extract, args)
        result["rss"] = peak_rss_mb(pid)
    print(f"server peak RSS     : {result['rss']:,.0f} MB (triage serve, over 1 and 2)")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-year", type=int, default=3000, help="incidents a year")
    parser.add_argument("--years", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--requests", type=int, default=1000, help="timed single posts")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument(
        "--floor-requests", type=int, default=5000, help="timed GET /health requests"
    )
    parser.add_argument("--queue-incidents", type=int, default=5000)
    parser.add_argument("--queue-calls", type=int, default=5)
    parser.add_argument("--raw-requests", type=int, default=200)
    parser.add_argument("--skip-service", action="store_true", help="only raw scoring (3.)")
    parser.add_argument("--skip-mlflow", action="store_true", help="no `mlflow models serve`")
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    config = SynthConfig(
        seed=args.seed, years=args.years, incidents_per_year=args.per_year, truth=False
    )
    extract = generate_world(config).extract
    tracking = champion(config, extract)
    with tempfile.TemporaryDirectory(prefix="triage-bench-") as name:
        tmp = Path(name)
        service = None if args.skip_service else bench_service(extract, tracking, args, tmp)
        print("== 3. raw scoring of one ready feature row ==")
        raw = bench_raw(tracking, extract, args, tmp / "mlflow.log")
    summary(service, raw, args.clients)


if __name__ == "__main__":
    main()
