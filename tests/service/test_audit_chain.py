"""The audit log's hash chain finds an altered, a deleted and an inserted row, on
both backends, from the library and from `triage audit-log verify`."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

import triage.cli._service  # noqa: F401  (registers the commands)
from triage.cli import app
from triage.cli._app import err_console
from triage.service import Store, audit_log
from triage.service.audit_log import GENESIS

_INSERT = (
    "INSERT INTO audit_log "
    "(seq, at, key_id, action, incident_ids, model_version, detail, prev_hash, hash) VALUES "
)


def _fill(store: Store, n: int = 5) -> None:
    for i in range(n):
        with store.session() as s:
            audit_log.append(
                s,
                key_id=f"k{i}",
                action="queue.read",
                incident_ids=[f"i{i}"],
                model_version="m/1",
                detail={"n": i},
            )


def _sql(store: Store, statement: str, **params: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(statement), params)


def test_an_untouched_chain_verifies(store: Store) -> None:
    _fill(store)
    check = store.verify_audit_log()
    assert check.ok
    assert check.rows == 5
    assert check.head != GENESIS
    with store.session() as s:
        assert audit_log.head(s) == (5, check.head)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("detail", '{"n":99}'),
        ("incident_ids", '["someone-else"]'),
        ("key_id", "k9"),
        ("at", "2020-01-01T00:00:00+00:00"),
    ],
)
def test_an_altered_row_is_found(store: Store, column: str, value: str) -> None:
    _fill(store)
    _sql(store, f"UPDATE audit_log SET {column} = :v WHERE seq = 3", v=value)
    check = store.verify_audit_log()
    assert not check.ok
    assert check.broken_at == 3
    assert "altered" in (check.reason or "")


def test_a_deleted_row_is_found(store: Store) -> None:
    _fill(store)
    _sql(store, "DELETE FROM audit_log WHERE seq = 3")
    check = store.verify_audit_log()
    assert not check.ok
    assert check.broken_at == 4
    assert "deleted" in (check.reason or "")


def test_a_deleted_first_row_is_found(store: Store) -> None:
    _fill(store)
    _sql(store, "DELETE FROM audit_log WHERE seq = 1")
    assert store.verify_audit_log().broken_at == 2


def test_a_row_inserted_with_a_valid_hash_is_found_by_the_next_link(store: Store) -> None:
    _fill(store)
    _sql(store, "UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 4")
    _sql(store, "UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000")
    with store.session() as s:
        prev = s.execute(text("SELECT hash FROM audit_log WHERE seq = 3")).scalar_one()
    forged = {
        "seq": 4,
        "at": "2024-03-01T00:00:00.000000+00:00",
        "key_id": "k",
        "action": "queue.read",
        "incident_ids": "[]",
        "model_version": None,
        "detail": "{}",
    }
    digest = audit_log._digest(prev, audit_log._canonical(**forged))  # type: ignore[arg-type]
    _sql(
        store,
        _INSERT
        + "(:seq, :at, :key_id, :action, :incident_ids, :model_version, :detail, :prev, :hash)",
        **forged,
        prev=prev,
        hash=digest,
    )
    check = store.verify_audit_log()
    assert not check.ok
    assert check.broken_at == 5


def test_a_row_inserted_before_the_first_is_found(store: Store) -> None:
    _fill(store, 2)
    _sql(
        store,
        _INSERT + "(0, 'x', 'k', 'a', '[]', NULL, '{}', :g, 'f')",
        g=GENESIS,
    )
    assert store.verify_audit_log().broken_at == 0


def test_entries_read_back_as_written(store: Store) -> None:
    _fill(store, 3)
    with store.session() as s:
        got = audit_log.entries(s, after=1, limit=1)
    assert [(e.seq, e.incident_ids, dict(e.detail)) for e in got] == [(2, ("i1",), {"n": 1})]
    assert json.loads(json.dumps(dict(got[0].detail))) == {"n": 1}


def test_cli_verify_exits_1_naming_the_row(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(err_console, "_width", 200)
    _fill(store)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit-log", "verify", "--database-url", store.url])
    assert ok.exit_code == 0
    assert "5 row(s) verified" in ok.output
    _sql(store, "UPDATE audit_log SET detail = '{}' WHERE seq = 2")
    broken = runner.invoke(app, ["audit-log", "verify", "--database-url", store.url])
    assert broken.exit_code == 1
    assert "row seq 2" in broken.output
