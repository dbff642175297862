"""Scores are computed before the write lock, on the history the store will hold once
the batch is in; under the lock that history is read again, and a score is kept only
if no other writer changed it meanwhile. Either way the stored score is the one a
strictly serial store would give."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from service_support import incident, people_for
from sqlalchemy import select

from triage.service import Store
from triage.service import ingest as ingesting
from triage.service.ingest import ingest
from triage.service.scoring import StubScorer
from triage.service.tables import ScoreRow

EARLIER = incident("a", "2024-03-01T09:00:00Z")
LATER = incident("b", "2024-03-02T09:00:00Z")


def _post(store: Store, row: dict[str, Any], scorer: StubScorer) -> None:
    frame = pd.DataFrame.from_records([row])
    ingest(store, frame, pd.DataFrame.from_records(people_for([row])), scorer=scorer, key_id="k")


def _probability(store: Store, incident_id: str) -> float:
    with store.session() as s:
        found = s.scalar(select(ScoreRow.probability).where(ScoreRow.incident_id == incident_id))
    assert found is not None
    return float(found)


def _serial(tmp_path: Any) -> float:
    store = Store(f"sqlite:///{tmp_path / 'serial.db'}")
    store.create_schema()
    _post(store, EARLIER, StubScorer())
    _post(store, LATER, StubScorer())
    return _probability(store, "b")


def test_a_history_changed_by_another_writer_is_scored_again(
    sqlite_store: Store, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    scorer = StubScorer()
    real = ingesting.prepare_scores
    interleaved: list[str] = []

    def prepare_then_another_writer(*args: Any, **kwargs: Any) -> Any:
        prepared = real(*args, **kwargs)
        if not interleaved:  # the victim's earlier incident lands in between
            interleaved.append("a")
            _post(sqlite_store, EARLIER, scorer)
        return prepared

    monkeypatch.setattr(ingesting, "prepare_scores", prepare_then_another_writer)
    _post(sqlite_store, LATER, scorer)
    assert interleaved == ["a"]
    assert _probability(sqlite_store, "b") == _serial(tmp_path)


def test_an_unchanged_history_keeps_the_prepared_score(sqlite_store: Store, tmp_path: Any) -> None:
    scorer = StubScorer()
    _post(sqlite_store, EARLIER, scorer)
    _post(sqlite_store, LATER, scorer)
    assert scorer.calls == 2  # once each, before the lock: nothing scored twice
    assert _probability(sqlite_store, "b") == _serial(tmp_path)
