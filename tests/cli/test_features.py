"""`triage features`, `triage labels` and `triage splits` end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from features_support import make_extract
from typer.testing import CliRunner

import triage.cli._features  # noqa: F401  (registers the commands)
from triage.cli._app import app

RUNNER = CliRunner()


@pytest.fixture(scope="module")
def extract_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three years of incidents among a few people, written as Parquet."""
    rng = np.random.default_rng(7)
    types = ["common_assault", "harassment", "gbh", "stalking", "non_crime_domestic"]
    rows = [
        {
            "day": float(day),
            "victim_id": f"v{rng.integers(0, 30)}",
            "perpetrator_id": f"p{rng.integers(0, 25)}" if rng.random() > 0.1 else None,
            "incident_type": types[rng.integers(0, len(types))],
        }
        for day in np.sort(rng.uniform(0, 3 * 365, 600))
    ]
    extract = make_extract(rows, orders=[{"person_id": "p1", "start": 100, "end": 300}])
    folder = tmp_path_factory.mktemp("extract")
    extract.incidents.to_parquet(folder / "incidents.parquet", index=False)
    extract.people.to_parquet(folder / "people.parquet", index=False)
    assert extract.orders is not None
    extract.orders.to_parquet(folder / "orders.parquet", index=False)
    return folder


def test_features_command_writes_parquet_and_summarises(extract_dir: Path, tmp_path: Path) -> None:
    out, audit = tmp_path / "out" / "features.parquet", tmp_path / "audit.parquet"
    result = RUNNER.invoke(
        app, ["features", str(extract_dir), "--out", str(out), "--audit", str(audit)]
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    assert len(frame) == 600
    assert {"incident_id", "reported_at", "perpetrator_count_90d"} <= set(frame.columns)
    assert frame["incident_type"].dtype == "category"
    assert "victim_sex" in pd.read_parquet(audit).columns
    assert "600" in result.output
    assert "features" in result.output


def test_labels_command_reports_rate_and_censoring(extract_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "labels.parquet"
    result = RUNNER.invoke(
        app, ["labels", str(extract_dir), "--out", str(out), "--end", "2022-12-31"]
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    assert frame["serious_harm_365d"].dtype == "boolean"
    assert frame["serious_harm_365d"].isna().any()
    assert "the model predicts serious_harm_365d" in result.output
    assert "censored" in result.output


def test_splits_command_prints_a_table_and_saves_a_timeline(
    extract_dir: Path, tmp_path: Path
) -> None:
    spec = tmp_path / "model.yaml"
    spec.write_text(
        "label: y\nlabels:\n  - {name: y, window_days: 90, match: [victim], types: any}\n"
        "splits: {n_splits: 2, step_days: 120, test_span_days: 120}\n"
    )
    png = tmp_path / "splits.png"
    result = RUNNER.invoke(
        app, ["splits", str(extract_dir), "--spec", str(spec), "--png", str(png)]
    )
    assert result.exit_code == 0, result.output
    assert "final" in result.output
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_an_invalid_extract_stops_with_the_validation_report(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "incidents.csv").write_text("incident_id,reported_at\nx,not-a-date\n")
    result = RUNNER.invoke(app, ["features", str(bad), "--out", str(tmp_path / "f.parquet")])
    assert result.exit_code == 1
    assert "error" in result.output
    assert not (tmp_path / "f.parquet").exists()
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_bad_spec_is_reported_not_raised(extract_dir: Path, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: x\nhistory: [{entities: [pair], aggregates: [order_active]}]\n")
    result = RUNNER.invoke(
        app,
        ["features", str(extract_dir), "--spec", str(spec), "--out", str(tmp_path / "f.parquet")],
    )
    assert result.exit_code == 1
    assert "order_active" in result.output
