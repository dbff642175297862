"""A small valid extract, as text the way a force's CSV export holds it; tests damage
a copy and write it to ``tmp_path``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from triage.contract.names import BOOL_FLAGS, DASH_QUESTIONS

WriteExtract = Callable[..., Path]


def valid_tables() -> dict[str, pd.DataFrame]:
    incidents = pd.DataFrame(
        {
            "incident_id": ["i4", "i1", "i2", "i3"],
            "reported_at": [
                "2024-03-01T09:00:00",
                "2024-01-05 10:00:00",
                "2024-02-01T08:30:00+01:00",
                "2024-02-01T07:30:00Z",
            ],
            "occurred_at": ["2024-03-01T08:00:00", "", "2024-01-31 23:00", "2024-02-01"],
            "victim_id": ["p1", "p1", "p3", "p1"],
            "perpetrator_id": ["p2", "p2", "", "p4"],
            "relationship": ["ex_partner", "current_partner", "family_member", "other"],
            "incident_type": ["stalking", "common_assault", "harassment", "rape"],
            **{flag: ["no", "True", "0", "yes"] for flag in BOOL_FLAGS},
            "dash_grade": ["medium", "standard", "not_completed", "high"],
            **{q: ["yes", "", "no", "1"] for q in DASH_QUESTIONS},
            "deprivation_decile": ["3", "10", "", "1"],
        }
    )
    people = pd.DataFrame(
        {
            "person_id": ["p1", "p2", "p3", "p4"],
            "sex": ["female", "male", "unknown", "male"],
            "birth_year": ["1990", "1985", "", "2001"],
            "ethnicity": ["white", "asian", "unknown", "black"],
        }
    )
    orders = pd.DataFrame(
        {
            "person_id": ["p2", "p4"],
            "order_type": ["dvpn", "non_molestation"],
            "start_at": ["2024-01-06", "2024-02-02T12:00:00Z"],
            "end_at": ["2024-02-03", ""],
        }
    )
    return {"incidents": incidents, "people": people, "orders": orders}


@pytest.fixture
def tables() -> dict[str, pd.DataFrame]:
    """A fresh valid extract (incidents, people, orders) as text columns."""
    return valid_tables()


@pytest.fixture
def write_extract(tmp_path: Path) -> WriteExtract:
    """Write tables to ``tmp_path/extract`` as ``fmt`` (csv or parquet); return the folder."""

    def write(tables: dict[str, pd.DataFrame], fmt: str = "csv") -> Path:
        folder = tmp_path / "extract"
        folder.mkdir(exist_ok=True)
        for name, frame in tables.items():
            if fmt == "csv":
                frame.to_csv(folder / f"{name}.csv", index=False)
            else:
                frame.to_parquet(folder / f"{name}.parquet", index=False)
        return folder

    return write


@pytest.fixture(autouse=True)
def _consoles_at_their_own_width() -> Iterator[None]:
    """Every test starts and ends with the CLI's consoles sizing themselves (from
    ``COLUMNS``): rich pins a width once anything sets ``Console.width`` (a monkeypatch
    restoring it included), and a pinned 80 columns wraps every later test's output."""
    from triage.cli._app import console, err_console

    for shown in (console, err_console):
        shown._width = None
    yield
    for shown in (console, err_console):
        shown._width = None
