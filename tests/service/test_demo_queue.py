"""The service step of `triage demo`: the extract's latest complete day (not the
partial day it ends on) is loaded with the history its scores read (not the whole
extract), scored by the registry's champion exactly as a store holding everything
would score it, and shown as the queue with the way to the reviewers' pages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from synth_support import small_spec, small_world, trained_on

from triage.cli._service_demo import (
    MESSAGE_NO_CHAMPION,
    PAGES_URL,
    demo_queue,
    latest_day,
)
from triage.contract.names import Extract
from triage.exceptions import ConfigError
from triage.features.build import build_features
from triage.registry.tracking import MlflowRegistry, RunRecord
from triage.service import Store
from triage.service.audit_log import entries

pytestmark = pytest.mark.xdist_group("mlflow")
LABEL = "any_repeat_90d"


@pytest.fixture(scope="module")
def champion(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Any]:
    """A small world's extract folder, and a registry whose champion was trained on it."""
    root = tmp_path_factory.mktemp("demo")
    world = small_world()
    trained = trained_on(world, small_spec(), seed=3)
    matrix, result = trained.matrix, trained.result
    folder = result.bundle.save(root / "bundle")
    tracking = f"sqlite:///{root / 'models' / 'mlflow.db'}"
    registry = MlflowRegistry(tracking)
    run = RunRecord(LABEL, {}, {}, {}, folder, folder / "booster.txt", [])
    version = registry.record(run).version
    registry.promote(LABEL, version, [], override_reason="test champion")
    extract = _ending_the_day_after_one_with_history(world.extract)
    folder = root / "extract"
    folder.mkdir()
    for name in ("incidents", "people", "orders"):
        getattr(extract, name).to_parquet(folder / f"{name}.parquet", index=False)
    return tracking, folder, (extract, matrix, result.bundle)


def _cut_mid_day(extract: Extract, day: dt.date) -> Extract:
    """The extract up to the end of ``day``, then the first half of the next day's
    incidents: an extract ends part-way through its last day."""
    incidents = extract.incidents
    days = incidents["reported_at"].dt.date
    after = min(d for d in set(days) if d > day)
    keep = (days <= day).to_numpy()
    next_day = np.flatnonzero((days == after).to_numpy())
    keep[next_day[: max(1, len(next_day) // 2)]] = True
    return Extract(incidents[keep].reset_index(drop=True), extract.people, extract.orders)


def _ending_the_day_after_one_with_history(extract: Extract) -> Extract:
    """The extract cut part-way through the day after the one, of its last 60 complete
    days, whose people have the most earlier incidents (so scoring it needs history)."""
    days = sorted(set(extract.incidents["reported_at"].dt.date))
    best = max(
        days[-61:-1],
        key=lambda d: len(latest_day(_cut_mid_day(extract, d))[1].incidents),
    )
    return _cut_mid_day(extract, best)


def _counts(url: str) -> dict[str, int]:
    store = Store(url)
    try:
        return store.counts()
    finally:
        store.dispose()


def test_the_latest_day_is_scored_as_with_the_whole_extract_stored(
    champion: tuple[str, Path, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tracking, folder, (extract, matrix, bundle) = champion
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    view = demo_queue(folder, database_url=url, tracking_uri=tracking, model_name=LABEL)
    reported = extract.incidents["reported_at"]
    last = reported.max().date()
    assert view.date == max(d for d in set(reported.dt.date) if d < last)  # not the partial day
    on_day = set(extract.incidents["incident_id"][(reported.dt.date == view.date).to_numpy()])
    assert {i.incident_id for i in view.items} == on_day
    in_matrix = matrix.ids["incident_id"].isin(on_day).to_numpy()
    probabilities = bundle.predict_proba(matrix.X)[in_matrix]
    expected = dict(zip(matrix.ids["incident_id"][in_matrix], probabilities, strict=True))
    got = {i.incident_id: i.probability for i in view.items}
    assert got == pytest.approx(expected, abs=1e-12)
    probabilities = [i.probability for i in view.items]
    assert probabilities == sorted(probabilities, reverse=True)
    stored = _counts(url)
    assert len(on_day) < stored["incidents"] < len(reported)  # the day and its history only
    out = capsys.readouterr().out
    assert f"Queue for {view.date:%Y-%m-%d}" in out
    assert "triage keys create --role reviewer" in out
    assert "triage serve" in out
    assert PAGES_URL in out


def test_loading_again_changes_nothing_but_logs_the_read(
    champion: tuple[str, Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracking, folder, (extract, _, _) = champion
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    monkeypatch.setenv("TRIAGE_DATABASE_URL", url)
    monkeypatch.setenv("TRIAGE_TRACKING_URI", tracking)
    first = demo_queue(extract, model_name=LABEL)  # the extract already read
    before = _counts(url)
    second = demo_queue(folder, model_name=LABEL)
    after = _counts(url)
    assert second == first
    assert {k: after[k] for k in ("incidents", "people", "orders", "scores")} == {
        k: before[k] for k in ("incidents", "people", "orders", "scores")
    }
    store = Store(url)
    with store.session() as s:
        reads = [e for e in entries(s) if e.action == "queue.read" and e.detail["queue"] == "mash"]
    store.dispose()
    assert len(reads) == 2
    assert reads[0].key_id.startswith("cli:")


def test_a_store_filled_from_another_extract_is_refused_untouched(
    champion: tuple[str, Path, Any], tmp_path: Path
) -> None:
    tracking, folder, (extract, _, _) = champion
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    incidents = extract.incidents.copy()
    incidents["injury"] = ~incidents["injury"]  # the same ids, other content
    other = Extract(incidents, extract.people, extract.orders)
    demo_queue(other, database_url=url, tracking_uri=tracking, model_name=LABEL)
    before = _counts(url)
    with pytest.raises(ConfigError, match="another extract"):
        demo_queue(folder, database_url=url, tracking_uri=tracking, model_name=LABEL)
    assert _counts(url) == {**before, "audit_log": before["audit_log"] + 1}  # the refusal


def test_without_a_champion_nothing_is_loaded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    tracking = f"sqlite:///{tmp_path / 'models' / 'mlflow.db'}"
    message = MESSAGE_NO_CHAMPION.format(name=LABEL, uri=tracking)
    with pytest.raises(ConfigError, match=message.replace("@", ".")):
        demo_queue(small_world().extract, database_url=url, tracking_uri=tracking, model_name=LABEL)
    assert not (tmp_path / "triage.db").exists()


def test_the_latest_day_is_the_last_complete_one_and_nothing_later_is_loaded() -> None:
    world = small_world().extract
    incidents = world.incidents
    days = incidents["reported_at"].dt.date
    complete = sorted(set(days))[-3]
    before = incidents[(days <= complete).to_numpy()]
    later = before.iloc[[-1]].assign(  # the partial last day names a person of the day
        incident_id="later-1",
        reported_at=pd.Timestamp(complete + dt.timedelta(days=1), tz="UTC") + pd.Timedelta("9h"),
    )
    extract = Extract(pd.concat([before, later], ignore_index=True), world.people, world.orders)
    day, part = latest_day(extract)
    assert day == complete
    assert "later-1" not in set(part.incidents["incident_id"])
    assert (part.incidents["reported_at"].dt.date <= day).all()
    single = Extract(incidents[(days == complete).to_numpy()], world.people, world.orders)
    assert latest_day(single)[0] == complete  # a single day is the only one to show


def test_the_history_keeps_every_record_of_the_days_people() -> None:
    extract = small_world().extract
    day, part = latest_day(extract)
    incidents = extract.incidents
    days = incidents["reported_at"].dt.date
    assert day < days.max()
    on_day = incidents[(days == day).to_numpy()]
    people = set(on_day["victim_id"]) | set(on_day["perpetrator_id"].dropna())
    theirs = incidents["victim_id"].isin(people) | incidents["perpetrator_id"].isin(people)
    until = (days <= day).to_numpy() & theirs.to_numpy()
    assert set(part.incidents["incident_id"]) == set(incidents["incident_id"][until])
    named = set(part.incidents["victim_id"]) | set(part.incidents["perpetrator_id"].dropna())
    assert named <= set(part.people["person_id"])
    assert part.orders is not None
    assert len(part.orders) >= 1  # the store must know there are orders (zero, not missing)
    assert np.all(part.incidents["reported_at"].diff().dropna() >= np.timedelta64(0))


def test_a_day_whose_people_have_no_orders_reads_order_features_as_zero() -> None:
    world = small_world().extract
    assert world.orders is not None
    _, part = latest_day(world)
    named = set(part.incidents["victim_id"]) | set(part.incidents["perpetrator_id"].dropna())
    others = world.orders[~world.orders["person_id"].isin(named)].reset_index(drop=True)
    extract = Extract(world.incidents, world.people, others)
    day, fallback = latest_day(extract)
    assert fallback.orders is not None
    assert len(fallback.orders) == 1
    assert set(fallback.orders["person_id"]) <= set(fallback.people["person_id"])
    queries = world.incidents[(world.incidents["reported_at"].dt.date == day).to_numpy()]
    whole = build_features(extract, queries.reset_index(drop=True), threads=1).X
    loaded = build_features(fallback, queries.reset_index(drop=True), threads=1).X
    pd.testing.assert_frame_equal(loaded, whole)
