"""`triage keys`, `triage ingest`, `triage queue` and `triage serve` from the command
line: keys printed once and stored hashed, the same all-or-nothing ingest as the
API, the ranked queue, and a refusal to serve unsafely."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import triage.cli._service as service_cli
from triage.cli import app
from triage.cli._app import console, err_console
from triage.service import Store, StubScorer
from triage.service.auth import authenticate, list_keys
from triage.service.tables import IncidentRow, PersonRow
from triage.settings import Settings

KEY = re.compile(r"^trk\.[0-9a-f]{12}\.[A-Za-z0-9_-]{43}$")
Tables = dict[str, pd.DataFrame]


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TRIAGE_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setattr(err_console, "_width", 250)
    return f"sqlite:///{tmp_path / 'cli.db'}"


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.output


def _store(url: str) -> Store:
    return Store(url)


def test_keys_create_prints_the_key_alone_on_the_last_line(url: str) -> None:
    code, stdout, _ = _run(
        "keys", "create", "--role", "reviewer", "--label", "desk", "--database-url", url
    )
    assert code == 0
    key = stdout.strip().splitlines()[-1]
    assert KEY.match(key)
    store = _store(url)
    with store.session() as s:
        assert authenticate(s, key).label == "desk"
    store.dispose()


def test_keys_list_and_revoke(url: str) -> None:
    _, stdout, _ = _run("keys", "create", "--role", "auditor", "--database-url", url)
    key = stdout.strip().splitlines()[-1]
    key_id = key.split(".")[1]
    code, _, listing = _run("keys", "list", "--database-url", url)
    assert code == 0
    assert key_id in listing
    assert key.split(".")[2] not in listing
    assert _run("keys", "revoke", key_id, "--database-url", url)[0] == 0
    store = _store(url)
    with store.session() as s:
        assert [k.active for k in list_keys(s)] == [False]
    store.dispose()
    assert _run("keys", "revoke", "nosuchkey", "--database-url", url)[0] == 1


def test_keys_create_refuses_an_unknown_role(url: str) -> None:
    code, _, output = _run("keys", "create", "--role", "superuser", "--database-url", url)
    assert code == 1
    assert "reviewer" in output


def test_the_database_url_option_overrides_the_environment(url: str, tmp_path: Path) -> None:
    _run("keys", "create", "--role", "ingest", "--database-url", url)
    assert (tmp_path / "cli.db").exists()
    assert not (tmp_path / "env.db").exists()
    _run("keys", "create", "--role", "ingest")
    assert (tmp_path / "env.db").exists()


def test_ingest_loads_a_folder_whole_and_once(
    url: str, tables: Tables, write_extract: Callable[..., Path]
) -> None:
    folder = write_extract(tables)
    code, _, output = _run("ingest", str(folder), "--database-url", url, "--no-score")
    assert code == 0, output
    assert "stored 4 new incident(s)" in output
    code, _, output = _run("ingest", str(folder), "--database-url", url, "--no-score")
    assert "stored 0 new incident(s) (4 unchanged)" in output
    store = _store(url)
    assert store.counts()["incidents"] == 4
    store.dispose()


def test_ingest_of_a_bad_folder_lists_every_problem_and_stores_nothing(
    url: str, tables: Tables, write_extract: Callable[..., Path]
) -> None:
    tables["incidents"].loc[1, "relationship"] = "spouse"
    tables["incidents"].loc[2, "weapon"] = "maybe"
    code, _, output = _run(
        "ingest", str(write_extract(tables)), "--database-url", url, "--no-score"
    )
    assert code == 1
    assert "spouse" in output
    assert "maybe" in output
    assert "nothing was stored" in output
    store = _store(url)
    assert store.counts()["incidents"] == 0
    store.dispose()


FORCE_MAPPING = """
naive_timezone: Europe/London
values:
  gender: {"F": female, "M": male, "U": unknown}
tables:
  incidents:
    columns: {OCC_REF: incident_id, REL: relationship}
    values:
      REL: {"PARTNER": current_partner, "EX": ex_partner, "FAM": family_member}
  people:
    columns: {NOMINAL: person_id, gender: sex}
  orders:
    columns: {NOMINAL: person_id}
"""


def _force_export(tables: Tables) -> Tables:
    """The valid tables in a force's own names and codes (see FORCE_MAPPING)."""
    incidents = tables["incidents"].rename(
        columns={"incident_id": "OCC_REF", "relationship": "REL"}
    )
    incidents["REL"] = incidents["REL"].replace(
        {"current_partner": "PARTNER", "ex_partner": "EX", "family_member": "FAM"}
    )
    incidents.loc[1, "reported_at"] = "2024-07-01 10:00"  # naive: London summer time
    people = tables["people"].rename(columns={"person_id": "NOMINAL", "sex": "gender"})
    people["gender"] = people["gender"].replace({"female": "F", "male": "M", "unknown": "U"})
    orders = tables["orders"].rename(columns={"person_id": "NOMINAL"})
    return {"incidents": incidents, "people": people, "orders": orders}


def _mapping_file(tmp_path: Path, text: str = FORCE_MAPPING) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(text)
    return path


def test_ingest_with_a_mapping_stores_a_force_export_on_the_contract(
    url: str, tables: Tables, write_extract: Callable[..., Path], tmp_path: Path
) -> None:
    folder = write_extract(_force_export(tables))
    mapping = _mapping_file(tmp_path)
    code, _, output = _run("ingest", str(folder), "--database-url", url, "--no-score")
    assert code == 1
    assert "OCC_REF" in output  # unknown column without the mapping
    code, _, output = _run(
        "ingest", str(folder), "--mapping", str(mapping), "--database-url", url, "--no-score"
    )
    assert code == 0, output
    assert "stored 4 new incident(s)" in output
    store = _store(url)
    with store.session() as s:
        i1 = s.get(IncidentRow, "i1")
        p2 = s.get(PersonRow, "p2")
    assert store.counts()["orders"] == 2
    store.dispose()
    assert i1 is not None
    assert p2 is not None
    assert i1.relationship == "current_partner"
    assert i1.reported_at.replace(tzinfo=None) == dt.datetime(2024, 7, 1, 9, 0)  # BST -> UTC
    assert p2.sex == "male"


def test_ingest_with_a_mapping_names_people_already_stored(
    url: str, tables: Tables, write_extract: Callable[..., Path], tmp_path: Path
) -> None:
    mapping = _mapping_file(tmp_path)
    export = _force_export(tables)
    first = {"incidents": export["incidents"].iloc[:2], "people": export["people"]}
    assert (
        _run(
            "ingest",
            str(write_extract(first)),
            "-m",
            str(mapping),
            "--database-url",
            url,
            "--no-score",
        )[0]
        == 0
    )
    later = tmp_path / "later"
    later.mkdir()
    export["incidents"].iloc[2:].to_csv(later / "incidents.csv", index=False)
    export["people"].iloc[[2]].to_csv(later / "people.csv", index=False)  # p3 only
    code, _, output = _run(
        "ingest", str(later), "-m", str(mapping), "--database-url", url, "--no-score"
    )
    assert code == 0, output
    assert "stored 2 new incident(s)" in output


def test_ingest_with_a_mapping_reports_unmapped_codes_and_stores_nothing(
    url: str, tables: Tables, write_extract: Callable[..., Path], tmp_path: Path
) -> None:
    export = _force_export(tables)
    export["incidents"].loc[2, "REL"] = "SPOUSE"
    export["people"].loc[3, "gender"] = "X"
    code, _, output = _run(
        "ingest",
        str(write_extract(export)),
        "--mapping",
        str(_mapping_file(tmp_path)),
        "--database-url",
        url,
        "--no-score",
    )
    assert code == 1
    assert "SPOUSE" in output
    assert "relationship" in output
    assert "nothing was stored" in output
    store = _store(url)
    assert store.counts()["incidents"] == store.counts()["people"] == 0
    store.dispose()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("columns: {OCC_REF: not_a_column}\n", "not_a_column"),
        ("columns: [unclosed\n", "not valid YAML"),
        ("naive_timezone: Mars/Olympus\n", "Mars/Olympus"),
    ],
    ids=["not_a_contract_column", "not_yaml", "unknown_zone"],
)
def test_ingest_with_a_bad_mapping_file_is_an_error_and_touches_no_store(
    text: str,
    message: str,
    url: str,
    tables: Tables,
    write_extract: Callable[..., Path],
    tmp_path: Path,
) -> None:
    folder = write_extract(_force_export(tables))
    mapping = _mapping_file(tmp_path, text)
    code, _, output = _run(
        "ingest", str(folder), "--mapping", str(mapping), "--database-url", url, "--no-score"
    )
    assert code == 1
    assert message in output
    assert str(mapping) in output.replace("\n", "")
    assert not (tmp_path / "cli.db").exists()
    code, _, output = _run(
        "ingest", str(folder), "-m", str(tmp_path / "absent.yaml"), "--database-url", url
    )
    assert code == 1
    assert "cannot read mapping file" in output
    assert not (tmp_path / "cli.db").exists()


def test_queue_shows_the_days_ranked_incidents(
    url: str, tables: Tables, write_extract: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service_cli, "_load_scorer", lambda _s, _n: StubScorer())
    monkeypatch.setattr(console, "_width", 250)
    _run("ingest", str(write_extract(tables)), "--database-url", url, "--no-score")
    code, stdout, output = _run(
        "queue", "--date", "2024-02-01", "--capacity", "1", "--database-url", url
    )
    assert code == 0, output
    assert stdout.index("i3") < stdout.index("i2")  # strangulation and injury rank first
    assert "capacity 1" in stdout
    assert "stub/1" in stdout
    store = _store(url)
    with store.session() as s:
        from triage.service.audit_log import entries

        shown = [e for e in entries(s) if e.action == "queue.read"]
    store.dispose()
    assert [e.incident_ids for e in shown] == [("i3", "i2")]
    assert shown[0].key_id.startswith("cli:")


def test_queue_without_a_champion_says_so(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service_cli, "_load_scorer", lambda _s, _n: None)
    code, _, output = _run("queue", "--date", "2024-02-01", "--database-url", url)
    assert code == 1
    assert "no @champion" in output
    assert _run("queue", "--date", "01/02/2024", "--database-url", url)[0] == 1


def test_serve_refuses_a_public_interface_and_an_in_memory_store(url: str) -> None:
    code, _, output = _run("serve", "--host", "0.0.0.0", "--database-url", url)
    assert code == 1
    assert "--allow-remote" in output
    code, _, output = _run("serve", "--database-url", "sqlite://")
    assert code == 1
    assert "in-memory" in output


def test_settings_are_checked_when_the_app_is_created_not_imported() -> None:
    from triage.exceptions import ConfigError
    from triage.service import create_app

    for bad in ("sqlite://", "sqlite:///:memory:", "mysql://x@y/z", "not a url"):
        with pytest.raises(ConfigError, match="TRIAGE_DATABASE_URL"):
            create_app(Settings(database_url=bad))
    with pytest.raises(ConfigError, match="TRIAGE_TRACKING_URI"):
        create_app(Settings(database_url="sqlite:///x.db", tracking_uri="file:./mlruns"))


def test_the_service_starts_without_a_model_on_an_empty_registry(tmp_path: Path) -> None:
    import httpx
    from service_support import serving

    from triage.service import create_app

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",  # nothing registered in it
    )
    with serving(create_app(settings)) as base:
        health = httpx.get(f"{base}/health", timeout=30)
    assert health.status_code == 200
    assert health.json() == {
        "status": "ok",
        "model_version": None,
        "queues": {"mash": None, "early_intervention": None},
    }
