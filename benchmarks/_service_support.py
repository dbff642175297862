"""Helpers of ``bench_service.py``: the benchmark world and its cached champion, the
store it starts from, child servers, payloads as a feed sends them, and timing."""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from triage.contract.names import Extract
from triage.pipeline import prepare, train_and_register
from triage.registry.tracking import MlflowRegistry
from triage.service import Role, Store
from triage.service.auth import create_key
from triage.service.ingest import ingest
from triage.synth import SynthConfig

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
NAME = "serious_harm_365d"
Payload = dict[str, list[dict[str, Any]]]


def feed_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Contract rows as a feed sends them: ISO times, null for missing."""
    rows: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", date_format="iso"))
    return rows


def champion(config: SynthConfig, extract: Extract) -> str:
    """The tracking URI of a registry whose @champion was trained on ``config``'s world."""
    folder = OUT / f"service-{config.incidents_per_year}x{config.years:g}-{config.seed}"
    tracking = f"sqlite:///{folder / 'models' / 'mlflow.db'}"
    registry = MlflowRegistry(tracking)
    if registry.champion(NAME) is None:
        print("training and registering the champion (once) ...", flush=True)
        started = time.perf_counter()
        prepared = prepare(extract)
        trained = train_and_register(prepared, registry, report_dir=folder / "reports")
        assert trained.version is not None
        registry.promote(NAME, trained.version.version, [], override_reason="benchmark world")
        print(f"  trained in {time.perf_counter() - started:.0f} s")
    return tracking


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited; see {log}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {seconds:.0f} s; see {log}")


@contextmanager
def running(args: Sequence[str], ready: str, log: Path, env: dict[str, str]) -> Iterator[int]:
    """A server started as a child process in its own process group; yields its pid,
    stops the group afterwards."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            list(args), stdout=out, stderr=out, env={**os.environ, **env}, start_new_session=True
        )
        try:
            _wait(ready, process, log)
            yield process.pid
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)  # the group: a server may run its own workers
            process.wait(timeout=30)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of ``pid`` and its children, from /proc (Linux)."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        total += next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmHWM"))
        todo += [int(c) for c in children]
    return total / 1024


def against(value: float, target: float, unit: str) -> str:
    return f"(target {target:g} {unit}, ratio {value / target:.2f})"


def median_ms(call: Callable[[], object], n: int) -> float:
    for _ in range(min(10, n)):
        call()
    times = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def single_payloads(extract: Extract, incidents: pd.DataFrame) -> list[Payload]:
    """One request per incident: the incident and its people, as a feed sends them."""
    people = extract.people.set_index("person_id", drop=False)
    out = []
    for record in feed_rows(incidents):
        named = [record["victim_id"]] + (
            [record["perpetrator_id"]] if record["perpetrator_id"] else []
        )
        out.append({"incidents": [record], "people": feed_rows(people.loc[named])})
    return out


def queue_day(extract: Extract, n: int, seed: int) -> tuple[str, pd.DataFrame]:
    """``n`` incidents on the day after the extract's end: the county's incidents
    resampled, new ids, the same people (so each has a real history)."""
    rng = np.random.default_rng(seed)
    day = (extract.end + pd.Timedelta(days=1)).normalize()
    rows = extract.incidents.iloc[rng.integers(0, len(extract.incidents), n)].copy()
    rows["incident_id"] = [f"Q{i:06d}" for i in range(n)]
    rows["reported_at"] = day + pd.to_timedelta(np.sort(rng.integers(0, 86_400, n)), unit="s")
    rows["occurred_at"] = pd.NaT
    return day.strftime("%Y-%m-%d"), rows.reset_index(drop=True)


def mlflow_payload(row: pd.DataFrame) -> dict[str, Any]:
    """One feature row as MLflow's ``inputs`` JSON (a 1 x n array, categorical features
    as LightGBM's own codes, missing as null). ``dataframe_split`` cannot carry it:
    JSON has no categories, and a booster trained on pandas categoricals refuses a
    frame without them ("train and valid dataset categorical_feature do not match")."""
    frame = row.copy()
    for column in frame.select_dtypes("category").columns:
        codes = frame[column].cat.codes.astype("float64")
        frame[column] = codes.where(codes >= 0)
    values = frame.astype("float64").to_numpy()
    return {"inputs": [[None if np.isnan(v) else float(v) for v in values[0]]]}


def serve_store(extract: Extract, held: int, tmp: Path) -> tuple[str, dict[str, str]]:
    """A store holding the county but its last ``held`` incidents, and a key per role."""
    url = f"sqlite:///{tmp / 'triage.db'}"
    store = Store(url)
    store.create_schema()
    started = time.perf_counter()
    history = extract.incidents.iloc[:-held]
    ingest(store, history, extract.people, extract.orders, scorer=None, key_id="bench")
    print(
        f"store               : SQLite with {len(history):,} incidents of history (loaded in "
        f"{time.perf_counter() - started:.1f} s); the last {held:,} are posted"
    )
    with store.session() as session:
        keys = {r.value: create_key(session, r, "bench")[1] for r in (Role.INGEST, Role.REVIEWER)}
    store.dispose()
    return url, keys


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` and its children so far, from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        todo += [int(c) for c in children]
    return total
