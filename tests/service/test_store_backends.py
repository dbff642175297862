"""The store on SQLite and on PostgreSQL: atomic, idempotent ingest; scores from
stored history; keys kept only as salted hashes; a linear audit chain under
concurrent writers."""

from __future__ import annotations

import threading
from datetime import date

import pandas as pd
import pytest
from service_support import day_batch, incident, people_for
from sqlalchemy import text

from triage.exceptions import AuthError, ConflictError, SchemaError
from triage.service import Role, Store, StubScorer
from triage.service.auth import authenticate, create_key, revoke_key
from triage.service.ingest import IngestResult, ingest
from triage.service.reading import queue


def _frames(batch: dict[str, list[dict[str, object]]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.DataFrame(batch["incidents"]), pd.DataFrame(batch["people"])


def test_a_batch_is_stored_and_scored_whole(store: Store) -> None:
    incidents, people = _frames(day_batch(30))
    result = ingest(store, incidents, people, scorer=StubScorer(), key_id="k")
    assert len(result.stored) == 30
    assert result.scored == 30
    counts = store.counts()
    assert (counts["incidents"], counts["scores"], counts["audit_log"]) == (30, 30, 1)


def test_a_bad_row_leaves_the_store_untouched(store: Store) -> None:
    ingest(store, *_frames(day_batch(5, prefix="a")), scorer=StubScorer(), key_id="k")
    before = store.counts()
    incidents, people = _frames(day_batch(5, prefix="b"))
    incidents.loc[4, "dash_grade"] = "very high"
    with pytest.raises(SchemaError) as caught:
        ingest(store, incidents, people, scorer=StubScorer(), key_id="k")
    assert [(p.row, p.column) for p in caught.value.problems] == [(4, "dash_grade")]
    assert store.counts() == {**before, "audit_log": before["audit_log"] + 1}  # the refusal


def test_a_conflict_rolls_back_the_new_rows_too(store: Store) -> None:
    batch = day_batch(3)
    ingest(store, *_frames(batch), scorer=None, key_id="k")
    before = store.counts()
    batch["incidents"][0]["weapon"] = True
    batch["incidents"].append(incident("fresh", victim="dv0", perpetrator=None))
    with pytest.raises(ConflictError) as caught:
        ingest(store, *_frames(batch), scorer=StubScorer(), key_id="k")
    assert caught.value.conflicts == {"incidents": ["d000"]}
    assert store.counts() == {**before, "audit_log": before["audit_log"] + 1}  # the refusal


def test_orders_round_trip_and_resend_as_no_ops(store: Store) -> None:
    rows = [incident("a", victim="v", perpetrator="p")]
    orders = pd.DataFrame(
        {
            "person_id": ["p"],
            "order_type": ["dvpo"],
            "start_at": ["2024-01-01T00:00:00Z"],
            "end_at": [None],
        }
    )
    people = pd.DataFrame(people_for(rows))
    first = ingest(store, pd.DataFrame(rows), people, orders, scorer=StubScorer(), key_id="k")
    again = ingest(store, pd.DataFrame(rows), people, orders, scorer=StubScorer(), key_id="k")
    assert (first.orders_stored, again.orders_stored, again.unchanged) == (1, 0, ("a",))


def test_queue_ranks_by_stored_history(store: Store) -> None:
    rows = [
        incident("old", "2023-12-01T10:00:00Z", victim="a", perpetrator=None),
        incident("repeat", "2024-03-01T10:00:00Z", victim="a", perpetrator=None),
        incident("first", "2024-03-01T09:00:00Z", victim="b", perpetrator=None),
    ]
    ingest(store, pd.DataFrame(rows), pd.DataFrame(people_for(rows)), scorer=None, key_id="k")
    view = queue(store, date(2024, 3, 1), 1, StubScorer(), key_id="r")
    assert [(i.incident_id, i.within_capacity) for i in view.items] == [
        ("repeat", True),
        ("first", False),
    ]
    assert store.counts()["scores"] == 2  # scored on first read, for the day only


def test_keys_are_stored_only_as_salted_hashes(store: Store) -> None:
    with store.session() as s:
        record, key = create_key(s, Role.REVIEWER, "desk 3")
        _, twin = create_key(s, Role.REVIEWER, "desk 4")
    secret = key.split(".", 2)[2]
    with store.session() as s:
        rows = s.execute(text("SELECT * FROM api_keys")).all()
        assert authenticate(s, key).key_id == record.key_id
        with pytest.raises(AuthError):
            authenticate(s, key[:-1] + ("A" if key[-1] != "A" else "B"))
        revoke_key(s, record.key_id)
    dump = " ".join(str(v) for row in rows for v in row)
    assert secret not in dump
    assert key not in dump
    salts = {row._mapping["salt"] for row in rows}
    assert len(salts) == 2
    with store.session() as s, pytest.raises(AuthError):
        authenticate(s, key)
    with store.session() as s:
        assert authenticate(s, twin).role is Role.REVIEWER


def test_concurrent_writers_keep_one_linear_audit_chain(store: Store) -> None:
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(5):
                batch = day_batch(1, prefix=f"t{n}x{i}-")
                ingest(store, *_frames(batch), scorer=StubScorer(), key_id=f"k{n}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    check = store.verify_audit_log()
    assert check.ok
    assert check.rows == 20


def test_concurrent_resends_of_one_batch_store_it_once(store: Store) -> None:
    batch = day_batch(10)
    results: list[IngestResult | BaseException] = []

    def send() -> None:
        try:
            results.append(ingest(store, *_frames(batch), scorer=StubScorer(), key_id="k"))
        except BaseException as exc:  # pragma: no cover - reported below
            results.append(exc)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = sorted(len(r.stored) for r in results if not isinstance(r, BaseException))
    assert stored == [0, 0, 0, 10], results
    assert store.counts()["incidents"] == 10
