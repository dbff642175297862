"""A process killed (SIGKILL) in the middle of ingesting a large batch leaves the
store as it was before: no incident, person or audit entry of the batch, a chain
that verifies, and a re-run that stores the whole batch. The kill lands on
`triage ingest` itself, running in a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from triage.contract.loading import read_folder
from triage.contract.names import DASH_QUESTIONS
from triage.service import Store
from triage.service.ingest import ingest

N = 15_000
CLI = [sys.executable, "-c", "import triage.cli._service; from triage.cli import main; main()"]


def _large_extract(folder: Path) -> Path:
    rng = np.random.default_rng(7)
    n_people = N // 2
    victims = rng.integers(0, n_people // 2, N)
    suspects = rng.integers(n_people // 2, n_people, N)
    stamps = pd.Timestamp("2023-01-01", tz="UTC") + pd.to_timedelta(
        np.sort(rng.integers(0, 365 * 86_400, N)), "s"
    )
    incidents = pd.DataFrame(
        {
            "incident_id": [f"k{i:06d}" for i in range(N)],
            "reported_at": stamps.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "occurred_at": "",
            "victim_id": [f"p{v}" for v in victims],
            "perpetrator_id": [f"p{s}" for s in suspects],
            "relationship": "current_partner",
            "incident_type": "common_assault",
            "injury": rng.integers(0, 2, N).astype(bool),
            "weapon": False,
            "strangulation": False,
            "children_present": False,
            "substance_misuse": False,
            "dash_grade": "standard",
            **dict.fromkeys(DASH_QUESTIONS, ""),
            "deprivation_decile": rng.integers(1, 11, N),
        }
    )
    people = pd.DataFrame(
        {
            "person_id": [f"p{i}" for i in range(n_people)],
            "sex": "unknown",
            "birth_year": "",
            "ethnicity": "unknown",
        }
    )
    folder.mkdir()
    incidents.to_csv(folder / "incidents.csv", index=False)
    people.to_csv(folder / "people.csv", index=False)
    return folder


def _ingest(folder: Path, url: str) -> subprocess.Popen[str]:
    args = [*CLI, "-v", "ingest", str(folder), "--database-url", url, "--no-score"]
    env = {**os.environ, "TRIAGE_DATABASE_URL": "sqlite:///must-not-be-used.db"}
    return subprocess.Popen(
        args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env
    )


def test_a_kill_mid_ingest_leaves_the_store_as_before(database_url: str, tmp_path: Path) -> None:
    folder = _large_extract(tmp_path / "extract")
    store = Store(database_url)
    store.create_schema()
    before = store.counts()
    proc = _ingest(folder, database_url)
    assert proc.stderr is not None
    for line in proc.stderr:  # validation done; the write transaction is open
        if "storing" in line:
            break
    else:
        pytest.fail(f"the ingest ended before writing (exit {proc.wait()})")
    time.sleep(0.3)
    still_running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()
    assert still_running, "the batch was written before the kill: make N larger"

    assert store.counts() == before
    assert store.verify_audit_log().ok

    frames, _ = read_folder(folder)
    incidents, people = frames["incidents"], frames["people"]
    assert incidents is not None
    assert people is not None
    ingest(store, incidents, people, scorer=None, key_id="rerun")
    counts = store.counts()
    store.dispose()
    assert (counts["incidents"], counts["people"], counts["audit_log"]) == (N, N // 2, 1)
