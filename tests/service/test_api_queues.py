"""A queue for each team, over real HTTP: each queue ranked by its own model's
champion, early intervention holding only lower-risk incidents, a queue without a
champion answering 503 while the others work, and a reload picking up a champion
promoted later. Scores of two models of one incident are kept apart."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from service_support import Service, day_batch, start_service
from sqlalchemy import select

from triage.contract.names import Extract
from triage.exceptions import BundleIntegrityError
from triage.service import StaticModels, Store, StubScorer
from triage.service.models import ModelInfo
from triage.service.scoring import Bands, Score, Scorer
from triage.service.tables import ScoreRow

DAY = "2024-03-01"
LOWER_RISK = {"standard", "not_completed"}


class HashScorer:
    """A stand-in model of another label: a fixed probability per incident id, in
    another order than the stub's."""

    def __init__(self, model_version: str) -> None:
        self.model_version = model_version

    @staticmethod
    def probability(incident_id: str) -> float:
        return int(hashlib.sha256(incident_id.encode()).hexdigest()[:8], 16) / 2**32

    def score(self, incidents: pd.DataFrame, history: Extract) -> list[Score]:
        return [
            Score(i, p, Bands().of(p), (), self.model_version)
            for i in incidents["incident_id"].astype(str)
            for p in [self.probability(i)]
        ]


class RefusingModels(StaticModels):
    """A registry whose champion's bundle fails its checks."""

    def load(self, info: ModelInfo) -> Scorer:
        raise BundleIntegrityError(f"{info.model_version} was refused and is not served")


def _batch() -> dict[str, Any]:
    batch = day_batch(18, DAY)
    for i, row in enumerate(batch["incidents"]):
        if i % 6 == 1:
            row["dash_grade"] = "not_completed"
    return batch


def _models(repeat_champion: int | None) -> dict[str, StaticModels]:
    return {
        "serious_harm_365d": StaticModels(
            {1: StubScorer("serious_harm_365d/1")}, 1, name="serious_harm_365d"
        ),
        "any_repeat_90d": StaticModels(
            {1: HashScorer("any_repeat_90d/1")}, repeat_champion, name="any_repeat_90d"
        ),
    }


@contextmanager
def _two_queues(tmp: Path, models: dict[str, StaticModels]) -> Iterator[Service]:
    store = Store(f"sqlite:///{tmp / 'triage.db'}")
    store.create_schema()
    try:
        with start_service(store, tmp, models) as svc:  # type: ignore[arg-type]
            with svc.client("ingest") as c:
                assert c.post("/incidents", json=_batch()).status_code == 200
            yield svc
    finally:
        store.dispose()


def test_each_queue_is_ranked_by_its_own_champion(tmp_path: Path) -> None:
    batch = _batch()
    grades = {r["incident_id"]: r["dash_grade"] for r in batch["incidents"]}
    with _two_queues(tmp_path, _models(1)) as svc, svc.client("reviewer") as c:
        queues = c.get("/queues").json()
        mash = c.get("/queue", params={"date": DAY}).json()
        early = c.get("/queue", params={"date": DAY, "queue": "early_intervention"}).json()
        again = c.get("/queue", params={"date": DAY, "queue": "mash", "capacity": 3}).json()
        health = c.get("/health").json()
        with svc.store.read_session() as s:
            stored = s.execute(select(ScoreRow.incident_id, ScoreRow.model_version)).all()
    assert queues == [
        {
            "name": "mash",
            "title": "MASH daily review",
            "model_version": "serious_harm_365d/1",
            "capacity": 10,
        },
        {
            "name": "early_intervention",
            "title": "Early intervention after lower-risk incidents",
            "model_version": "any_repeat_90d/1",
            "capacity": 8,
        },
    ]
    assert health["queues"] == {
        "mash": "serious_harm_365d/1",
        "early_intervention": "any_repeat_90d/1",
    }
    assert (mash["queue"], mash["model_version"]) == ("mash", "serious_harm_365d/1")
    assert {i["incident_id"] for i in mash["items"]} == set(grades)
    assert again["queue"] == "mash"
    assert again["capacity"] == 3
    assert [i["incident_id"] for i in again["items"]] == [i["incident_id"] for i in mash["items"]]

    assert (early["queue"], early["model_version"]) == ("early_intervention", "any_repeat_90d/1")
    assert early["capacity"] == 8
    lower = {i for i, g in grades.items() if g in LOWER_RISK}
    assert {"not_completed", "standard"} <= set(grades.values()) - {"medium", "high"}
    items = early["items"]
    assert {i["incident_id"] for i in items} == lower
    assert {i["dash_grade"] for i in items} <= LOWER_RISK
    expected = sorted(lower, key=lambda i: -HashScorer.probability(i))
    assert [i["incident_id"] for i in items] == expected
    assert [i["probability"] for i in items] == [HashScorer.probability(i) for i in expected]
    assert [i["within_capacity"] for i in items] == [n < 8 for n in range(len(items))]
    # the two models' scores of one incident are kept side by side
    by_version: dict[str, set[str]] = {}
    for incident_id, version in stored:
        by_version.setdefault(version, set()).add(incident_id)
    assert by_version == {"serious_harm_365d/1": set(grades), "any_repeat_90d/1": lower}
    mash_p = {i["incident_id"]: i["probability"] for i in mash["items"]}
    assert any(mash_p[i["incident_id"]] != i["probability"] for i in items)


def test_a_queue_without_a_champion_answers_503_and_a_reload_picks_it_up(
    tmp_path: Path,
) -> None:
    models = _models(None)
    with _two_queues(tmp_path, models) as svc:
        with svc.client("reviewer") as c:
            missing = c.get("/queue", params={"date": DAY, "queue": "early_intervention"})
            mash = c.get("/queue", params={"date": DAY})
            listed = {q["name"]: q["model_version"] for q in c.get("/queues").json()}
        assert missing.status_code == 503
        message = missing.json()["message"]
        assert "'early_intervention'" in message
        assert "any_repeat_90d has no @champion" in message
        assert mash.status_code == 200
        assert mash.json()["items"]
        assert listed == {"mash": "serious_harm_365d/1", "early_intervention": None}
        with svc.client() as c:
            assert c.get("/health").json()["queues"]["early_intervention"] is None

        models["any_repeat_90d"].promote(1, reason="first early-intervention model")
        with svc.client("reviewer") as c:
            still = c.get("/queue", params={"date": DAY, "queue": "early_intervention"})
        assert still.status_code == 503  # nothing changes until the reload
        with svc.client("admin") as c:
            reload = c.post("/admin/reload")
        assert reload.json() == {
            "model_version": "serious_harm_365d/1",
            "previous": "serious_harm_365d/1",
            "changed": False,
        }
        with svc.client("reviewer") as c:
            early = c.get("/queue", params={"date": DAY, "queue": "early_intervention"})
        with svc.client("auditor") as c:
            log = c.get("/audit-log", params={"limit": 1000}).json()["items"]
    assert early.status_code == 200
    assert early.json()["model_version"] == "any_repeat_90d/1"
    reloads = {e["model_version"] for e in log if e["action"] == "model.reload"}
    assert reloads == {"serious_harm_365d/1", "any_repeat_90d/1"}
    decisions = [e["model_version"] for e in log if e["action"] == "model.decision"]
    assert decisions == ["any_repeat_90d/1"]
    reads = [e["detail"].get("queue") for e in log if e["action"] == "queue.read"]
    assert reads == ["mash", "early_intervention"]


def test_a_refused_champion_stops_only_its_own_queue(tmp_path: Path) -> None:
    models: dict[str, StaticModels] = {
        **_models(None),
        "any_repeat_90d": RefusingModels(
            {1: HashScorer("any_repeat_90d/1")}, 1, name="any_repeat_90d"
        ),
    }
    with _two_queues(tmp_path, models) as svc:
        with svc.client("reviewer") as c:
            early = c.get("/queue", params={"date": DAY, "queue": "early_intervention"})
            mash = c.get("/queue", params={"date": DAY})
        with svc.client("admin") as c:
            reload = c.post("/admin/reload")
    assert early.status_code == 503
    assert "any_repeat_90d/1 was refused" in early.json()["message"]
    assert mash.status_code == 200
    assert reload.status_code == 409
    assert "any_repeat_90d/1 was refused" in reload.json()["message"]


def test_an_unknown_queue_is_named_and_refused(service: Service) -> None:
    with service.client("reviewer") as c:
        unknown = c.get("/queue", params={"date": DAY, "queue": "nonesuch"})
        malformed = c.get("/queue", params={"date": DAY, "queue": "Bad Name!"})
        unserved = c.get("/queue", params={"date": DAY, "queue": "early_intervention"})
    assert unknown.status_code == 404
    assert unknown.json()["message"] == (
        "no queue 'nonesuch'; the queues are: mash, early_intervention"
    )
    assert malformed.status_code == 422
    assert unserved.status_code == 503  # one model given: the other queue has none


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ("queues:\n  - {name: a, title: A, team: T, model: m, colour: red}\n", "colour"),
        ("queues:\n  - {name: a, title: A, team: T, model: m, holds: some}\n", "holds"),
        ("queues: []\n", "queues"),
        (
            "queues:\n  - {name: a, title: A, team: T, model: m}\n" * 1
            + "  - {name: a, title: B, team: T, model: m}\n",
            "unique",
        ),
    ],
)
def test_a_bad_queue_spec_stops_the_service_naming_file_and_field(
    tmp_path: Path, spec: str, field: str
) -> None:
    from triage.exceptions import ConfigError
    from triage.service import create_app
    from triage.settings import Settings

    file = tmp_path / "queues.yaml"
    file.write_text(spec, encoding="utf-8")
    settings = Settings.from_env(
        {"TRIAGE_QUEUES": str(file), "TRIAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    )
    with pytest.raises(ConfigError) as caught:
        create_app(settings, scorer=StubScorer())
    assert str(file) in str(caught.value)
    assert field in str(caught.value)


def test_triage_queues_points_the_service_at_another_spec(tmp_path: Path) -> None:
    import httpx
    from service_support import make_keys, serving

    from triage.service import create_app
    from triage.settings import Settings

    file = tmp_path / "queues.yaml"
    file.write_text(
        "queues:\n"
        "  - {name: night, title: Night desk, team: T, model: serious_harm_365d, capacity: 2}\n",
        encoding="utf-8",
    )
    store = Store(f"sqlite:///{tmp_path / 'triage.db'}")
    store.create_schema()
    keys, _ = make_keys(store)
    settings = Settings.from_env(
        {"TRIAGE_QUEUES": str(file)},
        database_url=store.url,
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
    )
    models = _models(1)
    try:
        with serving(create_app(settings, store=store, models=models)) as url:  # type: ignore[arg-type]
            with httpx.Client(base_url=url, headers={"X-API-Key": keys["ingest"]}) as c:
                assert c.post("/incidents", json=_batch()).status_code == 200
            with httpx.Client(base_url=url, headers={"X-API-Key": keys["reviewer"]}) as c:
                queues = c.get("/queues").json()
                night = c.get("/queue", params={"date": DAY}).json()
                gone = c.get("/queue", params={"date": DAY, "queue": "mash"})
    finally:
        store.dispose()
    assert queues == [
        {
            "name": "night",
            "title": "Night desk",
            "model_version": "serious_harm_365d/1",
            "capacity": 2,
        }
    ]
    assert (night["queue"], night["capacity"], len(night["items"])) == ("night", 2, 18)
    assert gone.status_code == 404
