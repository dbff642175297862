"""Integrity, against a real server: the ingest conflict answer reveals nothing and
people's corrections are kept as versions; a re-hashed model bundle is refused at
reload; the audit log's cut tail and altered reviews are found; a signed-out
session cookie is dead."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from features_support import make_extract
from service_support import (
    PageClient,
    Service,
    day_batch,
    incident,
    make_keys,
    person,
    populated_service,
    serving,
    start_service,
)
from sqlalchemy import func, select, text
from synth_support import small_spec, small_world, trained_on
from typer.testing import CliRunner

import triage.cli._service  # noqa: F401  (registers the commands)
from triage.cli import app
from triage.cli._app import console, err_console
from triage.exceptions import ConflictError
from triage.registry.tracking import MANIFEST_TAG, MlflowRegistry, RunRecord
from triage.service import StaticModels, Store, audit_log, create_app
from triage.service.audit_seal import Seal
from triage.service.auth import revoke_key
from triage.service.ingest import ingest
from triage.service.pages_session import SESSION_MAX_AGE
from triage.service.scoring import Band, Score
from triage.service.tables import (
    AuditCheckpointRow,
    AuditRow,
    PersonVersionRow,
    ScoreRow,
    SessionRow,
)
from triage.settings import Settings

LABEL = "any_repeat_90d"


# --- item 3: a re-hashed bundle is refused -------------------------------------------------


@pytest.fixture(scope="module")
def bundle_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    fitted = trained_on(small_world(), small_spec(), seed=3)
    return fitted.result.bundle.save(tmp_path_factory.mktemp("bundle") / "bundle")


def _register(registry: MlflowRegistry, folder: Path) -> int:
    run = RunRecord(
        LABEL, {"seed": 3}, {"pooled_model_roc_auc": 0.7}, {}, folder, folder / "booster.txt"
    )
    return registry.record(run).version


def _tamper(tmp_path: Path, run_id: str) -> None:
    """Change the calibrator so every probability moves, and re-hash it into the
    manifest, as someone with write access to the artifact store could."""
    found = list((tmp_path / "models" / "artifacts").rglob(f"{run_id}/artifacts/bundle"))
    assert len(found) == 1
    bundle = found[0]
    calibrator = json.loads((bundle / "calibrator.json").read_text())
    calibrator = _shifted(calibrator)
    data = json.dumps(calibrator).encode()
    (bundle / "calibrator.json").write_bytes(data)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"]["calibrator.json"] = hashlib.sha256(data).hexdigest()
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def _shifted(calibrator: Any) -> Any:
    """A calibrator with its intercept raised (Platt's ``b``, whatever it is named)."""
    if isinstance(calibrator, dict):
        out = {k: _shifted(v) for k, v in calibrator.items()}
        for name in ("b", "intercept", "bias"):
            if isinstance(out.get(name), int | float):
                out[name] = float(out[name]) + 3.0
        return out
    return calibrator


def _versions_scored(store: Store) -> dict[str, int]:
    with store.read_session() as s:
        rows = s.execute(
            select(ScoreRow.model_version, func.count()).group_by(ScoreRow.model_version)
        )
        return {str(v): int(n) for v, n in rows}


def test_a_rehashed_bundle_is_refused_at_reload_and_its_scores_dropped(
    bundle_folder: Path, sqlite_store: Store, tmp_path: Path
) -> None:
    tracking = f"sqlite:///{tmp_path / 'models' / 'mlflow.db'}"
    registry = MlflowRegistry(tracking)
    v1, v2 = _register(registry, bundle_folder), _register(registry, bundle_folder)
    assert (
        registry.version(LABEL, v2).tags[MANIFEST_TAG]
        == hashlib.sha256((bundle_folder / "manifest.json").read_bytes()).hexdigest()
    )
    registry.promote(LABEL, v2, [], override_reason="first champion")
    extract = small_world().extract
    ingest(sqlite_store, extract.incidents, extract.people, extract.orders, scorer=None, key_id="k")
    day = extract.incidents["reported_at"].iloc[-1].date().isoformat()
    keys, _ = make_keys(sqlite_store)
    settings = Settings(database_url=sqlite_store.url, tracking_uri=tracking)
    app = create_app(settings, store=sqlite_store, model_name=LABEL)
    with serving(app) as url:
        svc = Service(url, keys, {}, sqlite_store, None)  # type: ignore[arg-type]
        with svc.client("reviewer") as reviewer, svc.client("admin") as admin:
            assert reviewer.get("/queue", params={"date": day}).status_code == 200
            registry.promote(LABEL, v1, [], override_reason="back to v1")
            assert admin.post("/admin/reload").json()["model_version"] == f"{LABEL}/{v1}"
            before = reviewer.get("/queue", params={"date": day}).json()
            assert set(_versions_scored(sqlite_store)) == {f"{LABEL}/{v1}", f"{LABEL}/{v2}"}

            registry.promote(LABEL, v2, [], override_reason="v2 again")
            _tamper(tmp_path, registry.version(LABEL, v2).run_id)
            refused = admin.post("/admin/reload")
            assert refused.status_code == 409
            body = refused.json()
            assert body["error"] == "model_refused"
            assert f"{LABEL}/{v2} was refused" in body["message"]
            assert f"still serving {LABEL}/{v1}" in body["message"]
            assert httpx.get(url + "/health").json()["model_version"] == f"{LABEL}/{v1}"
            after = reviewer.get("/queue", params={"date": day}).json()
            assert after["model_version"] == f"{LABEL}/{v1}"
            assert after["items"] == before["items"]
            assert set(_versions_scored(sqlite_store)) == {f"{LABEL}/{v1}"}
            with sqlite_store.read_session() as s:
                refusal = s.execute(
                    select(AuditRow.model_version, AuditRow.detail).where(
                        AuditRow.action == "model.refused"
                    )
                ).one()
            assert refusal[0] == f"{LABEL}/{v2}"
            assert json.loads(refusal[1])["scores_dropped"] > 0

            # a version registered before manifests were sealed is refused, naming the fix
            registry.client.delete_model_version_tag(LABEL, str(v1), MANIFEST_TAG)
            registry.promote(LABEL, v1, [], override_reason="unsealed")
            unsealed = admin.post("/admin/reload")
            assert unsealed.status_code == 409
            assert "register it again" in unsealed.json()["message"]
            assert httpx.get(url + "/health").json()["model_version"] == f"{LABEL}/{v1}"


# --- item 5: sessions live on the server ---------------------------------------------------


def _replay(url: str, cookie: str) -> httpx.Response:
    with PageClient(url) as client:
        client.cookie = cookie
        return client.get("/ui/queue", follow=False)


def test_a_cookie_replayed_after_sign_out_gets_the_sign_in_page(service: Service) -> None:
    with PageClient(service.url) as client:
        client.login(service.keys["reviewer"])
        cookie = client.cookie
        assert cookie is not None
        assert client.get("/ui/queue", follow=False).status_code == 200
        client.logout()
    replayed = _replay(service.url, cookie)
    assert replayed.status_code == 303
    assert replayed.headers["location"].startswith("/login")
    with service.store.read_session() as s:
        rows = s.execute(select(SessionRow.key_id, SessionRow.revoked_at)).all()
    assert [(k, r is not None) for k, r in rows] == [(service.key_ids["reviewer"], True)]


def test_revoking_a_key_ends_its_sessions(service: Service) -> None:
    with PageClient(service.url) as client:
        client.login(service.keys["auditor"])
        cookie = client.cookie
        assert cookie is not None
    assert _replay(service.url, cookie).status_code == 403  # alive: the auditor's wrong page
    with service.store.read_session() as s:
        created, expires = s.execute(select(SessionRow.created_at, SessionRow.expires_at)).one()
    assert (expires - created).total_seconds() == SESSION_MAX_AGE
    with service.store.session() as s:
        revoke_key(s, service.key_ids["auditor"])
    with service.store.read_session() as s:
        assert s.scalars(select(SessionRow.revoked_at)).one() is not None
    replayed = _replay(service.url, cookie)
    assert replayed.status_code == 303
    assert replayed.headers["location"].startswith("/login")


# --- item 4: the audit log's tail, checkpoints and reviews ----------------------------------


def _verify(store: Store, *args: str) -> Any:
    return CliRunner().invoke(app, ["audit-log", "verify", "--database-url", store.url, *args])


def _sql(store: Store, statement: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(statement))


def _reads(svc: Service, n: int) -> None:
    with svc.client("reviewer") as c:
        for _ in range(n):
            assert c.get("/queue", params={"date": "2024-03-01"}).status_code == 200


def test_a_cut_tail_fails_verify_naming_the_anchored_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(err_console, "_width", 400)
    monkeypatch.setattr(console, "_width", 400)
    with populated_service(tmp_path, day_batch(6)) as svc:
        _reads(svc, 3)
        store = svc.store
        anchor = store.seal.anchor
        assert anchor is not None
        assert anchor.parent == tmp_path
        seq, head = anchor.read_text().split()
        ok = _verify(store)
        assert ok.exit_code == 0, ok.output
        assert f"{seq} row(s) verified; head {head}" in ok.output
        assert f"anchor {anchor} matches" in ok.output
        assert "checkpoints are unsigned: TRIAGE_AUDIT_KEY is not set" in ok.output
        assert _verify(store, "--expect-head", head).exit_code == 0

        _sql(store, f"DELETE FROM audit_log WHERE seq > {int(seq) - 2}")
        cut = _verify(store)
        assert cut.exit_code == 1
        assert f"the log ends at seq {int(seq) - 2}" in cut.output
        assert f"names seq {seq} (head {head})" in cut.output
        assert "rows were cut from the end" in cut.output
        assert "before it verified" not in cut.output
        with svc.client("auditor") as c:
            answer = c.get("/audit-log/verify").json()
        assert answer["ok"] is False
        assert head in answer["reason"]
        saved = anchor.read_text()
        with store.read_session() as s:  # the anchor re-pointed at the cut log too:
            anchor.write_text("{} {}\n".format(*audit_log.head(s)))
        assert _verify(store).exit_code == 0
        kept = _verify(store, "--expect-head", head)  # the operator's kept head finds the cut
        assert kept.exit_code == 1
        assert f"holds no row with head {head}" in kept.output
        anchor.write_text(saved)

        _sql(store, "DELETE FROM audit_log")
        empty = _verify(store)
        assert empty.exit_code == 1
        assert f"the log is empty, but the anchor {anchor} names seq {seq}" in empty.output
        assert "0 row(s) before it verified" not in empty.output
        _reads(svc, 1)  # an append onto the emptied log does not re-point the anchor
        assert anchor.read_text().split() == [seq, head]
        assert _verify(store).exit_code == 1


def test_a_changed_review_decision_fails_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(err_console, "_width", 400)
    with populated_service(tmp_path, day_batch(4)) as svc:
        with svc.client("reviewer") as c:
            for incident_id, body in (
                ("d001", {"decision": "monitor"}),
                ("d002", {"decision": "monitor", "override_band": "high", "note": "a call"}),
            ):
                r = c.post(f"/incidents/{incident_id}/review", json=body)
                assert r.status_code == 201, r.text
        assert _verify(svc.store).exit_code == 0
        for change in (
            "decision = 'no_further_action'",
            "note = 'something else'",
            "override_band = NULL",
        ):
            with svc.store.engine.begin() as conn:
                saved = conn.execute(text("SELECT * FROM reviews WHERE incident_id = 'd002'"))
                row = saved.mappings().one()
            _sql(svc.store, f"UPDATE reviews SET {change} WHERE incident_id = 'd002'")
            broken = _verify(svc.store)
            assert broken.exit_code == 1
            assert f"review {row['id']} no longer matches its entry" in broken.output
            with svc.client("auditor") as c:
                assert c.get("/audit-log/verify").json()["ok"] is False
            with svc.store.engine.begin() as conn:
                conn.execute(
                    text(
                        "UPDATE reviews SET decision = :d, note = :n, override_band = :b "
                        "WHERE incident_id = 'd002'"
                    ),
                    {"d": row["decision"], "n": row["note"], "b": row["override_band"]},
                )
            assert _verify(svc.store).exit_code == 0
        _sql(svc.store, "DELETE FROM reviews WHERE incident_id = 'd001'")
        gone = _verify(svc.store).output
        assert "review 1 that this entry records is gone" in gone
        assert "before it verified" not in gone  # the chain itself is whole
        assert "the hash chain itself verified" in gone


def test_checkpoints_are_signed_and_a_rewritten_chain_fails_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    key = b"k" * 32
    store = Store(url, seal=Seal(tmp_path / "head", key, every=2))
    store.create_schema()
    try:
        for i in range(5):
            with store.session() as s:
                audit_log.append(s, key_id="k", action="queue.read", detail={"n": i})
        with store.read_session() as s:
            points = s.execute(select(AuditCheckpointRow.seq, AuditCheckpointRow.signature)).all()
        assert [(seq, sig is not None) for seq, sig in points] == [(2, True), (4, True)]
        check = store.verify_audit_log()
        assert check.ok
        assert "checkpoints signed and verified" in check.notes
        # rewrite the whole chain from row 1 on, as someone with write access could
        prev, hashes = audit_log.GENESIS, {}
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE audit_log SET detail = :d WHERE seq = 1"), {"d": '{"n":99}'})
            rows = conn.execute(text("SELECT * FROM audit_log ORDER BY seq")).mappings().all()
            for row in rows:
                fields = {k: row[k] for k in ("seq", "at", "key_id", "action", "incident_ids")}
                canonical = audit_log._canonical(  # type: ignore[arg-type]
                    **fields, model_version=row["model_version"], detail=row["detail"]
                )
                digest = audit_log._digest(prev, canonical)
                conn.execute(
                    text("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE seq = :s"),
                    {"p": prev, "h": digest, "s": row["seq"]},
                )
                prev = hashes[row["seq"]] = digest
            conn.execute(
                text("UPDATE audit_checkpoints SET hash = :h WHERE seq = 4"), {"h": hashes[4]}
            )
        (tmp_path / "head").write_text(f"5 {prev}\n")
        broken = store.verify_audit_log()
        assert not broken.ok
        assert broken.reason == "row seq 2 does not match its checkpoint (chain rewritten?)"
        _sql(store, "DELETE FROM audit_checkpoints WHERE seq = 2")
        unsigned = store.verify_audit_log()
        assert unsigned.reason == "the checkpoint at seq 4 is not signed with TRIAGE_AUDIT_KEY"
    finally:
        store.dispose()


# --- item 2: the ingest answer is no oracle; people's corrections are versions ---------------


def _refusals(store: Store) -> list[tuple[str, str]]:
    with store.read_session() as s:
        rows = s.execute(
            select(AuditRow.incident_ids, AuditRow.detail).where(
                AuditRow.action == "ingest.refused"
            )
        )
        return [(str(ids), str(detail)) for ids, detail in rows]


def test_a_right_and_a_wrong_guess_of_an_incident_look_the_same(service: Service) -> None:
    batch = day_batch(3)
    with service.client("ingest") as c:
        assert c.post("/incidents", json=batch).status_code == 200
        answers = [c.post("/incidents", json=batch)]  # the right guess: identical
        for incident_id, change in (("d001", {"injury": True}), ("d002", {"weapon": True})):
            altered = json.loads(json.dumps(batch))
            row = next(r for r in altered["incidents"] if r["incident_id"] == incident_id)
            row.update(change)
            answers.append(c.post("/incidents", json=altered))
        bad = json.loads(json.dumps(batch))
        bad["incidents"][0]["dash_grade"] = "catastrophic"
        assert c.post("/incidents", json=bad).status_code == 422
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].content == answers[1].content == answers[2].content
    refusals = _refusals(service.store)
    assert len(refusals) == 1  # the contract breach, counts only
    (ids, detail) = refusals[0]
    assert ids == "[]"
    assert not any(name in detail for name in ("d00", "dv", "dp", "catastrophic"))
    assert json.loads(detail)["reason"] == "contract"
    with service.store.read_session() as s:
        requests = s.execute(
            select(AuditRow.incident_ids, AuditRow.detail).where(
                AuditRow.action == "ingest.correction_requested"
            )
        ).all()
    # for the hub (auditors read the log; an ingest key cannot), never the values
    assert [(json.loads(i), json.loads(d)) for i, d in requests] == [
        (["d001"], {"incidents": 1}),
        (["d002"], {"incidents": 1}),
    ]


def test_the_command_line_still_refuses_a_changed_incident(store: Store) -> None:
    extract = make_extract([{"day": 1}, {"day": 2}])
    ingest(store, extract.incidents, extract.people, scorer=None, key_id="cli")
    changed = extract.incidents.copy()
    changed.loc[0, "injury"] = True
    with pytest.raises(ConflictError):
        ingest(store, changed, extract.people, scorer=None, key_id="cli")


def test_a_right_and_a_wrong_guess_of_a_persons_attributes_look_the_same(
    service: Service,
) -> None:
    batch = day_batch(3)
    with service.client("ingest") as c:
        assert c.post("/incidents", json=batch).status_code == 200
        stored = next(p for p in batch["people"] if p["person_id"] == "dv0")
        answers = []
        for guess in (stored["birth_year"], 1951):  # right, then wrong
            resent = {
                "incidents": batch["incidents"][:1],
                "people": [{**stored, "birth_year": guess}],
            }
            answers.append(c.post("/incidents", json=resent))
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()
    with service.store.read_session() as s:
        versions = s.execute(
            select(PersonVersionRow.person_id, PersonVersionRow.version, PersonVersionRow.key_id)
        ).all()
    assert versions == [("dv0", 1, service.key_ids["ingest"])]  # the wrong guess is a correction


@dataclass
class AgeScorer:
    """Risk from the victim's birth year in the history it is given (older, riskier)."""

    model_version: str = "age/1"

    def score(self, incidents: pd.DataFrame, history: Any) -> list[Score]:
        years = history.people.set_index("person_id")["birth_year"]
        out = []
        for incident_id, victim in zip(
            incidents["incident_id"], incidents["victim_id"], strict=True
        ):
            p = (2024 - int(years[victim])) / 100
            out.append(Score(str(incident_id), p, Band.MEDIUM, (), self.model_version))
        return out


def test_people_are_scored_as_known_at_each_incidents_reported_at(
    sqlite_store: Store, tmp_path: Path
) -> None:
    models = StaticModels({1: AgeScorer()}, 1, name="age")
    first = [incident("a", "2024-03-01T09:00:00Z", victim="v", perpetrator="p")]
    with start_service(sqlite_store, tmp_path, models) as svc, svc.client("ingest") as c:
        people = [person("v", birth_year=1990), person("p", birth_year=1980)]
        assert c.post("/incidents", json={"incidents": first, "people": people}).status_code == 200
        corrected = [person("v", birth_year=1950), person("p", birth_year=1980)]
        late = [incident("late", "2024-03-02T09:00:00Z", victim="v", perpetrator="p")]
        r = c.post("/incidents", json={"incidents": late, "people": corrected})
        assert r.status_code == 200, r.text
        after = datetime.now(UTC).isoformat()
        new = [incident("new", after, victim="v", perpetrator="p")]
        assert c.post("/incidents", json={"incidents": new, "people": []}).status_code == 200
        again = c.post("/incidents", json={"incidents": new, "people": corrected})
        assert again.json()["unchanged"] == ["new"]  # the latest version, re-sent: a no-op
    with sqlite_store.read_session() as s:
        got = dict(s.execute(select(ScoreRow.incident_id, ScoreRow.probability)).all())
        versions = s.execute(select(PersonVersionRow.person_id, PersonVersionRow.birth_year)).all()
    assert versions == [("v", 1950)]
    # before the correction was known: as first stored; after it: corrected
    assert got == pytest.approx({"a": 0.34, "late": 0.34, "new": 0.74})


def test_triage_keys_revoke_ends_the_keys_page_sessions(service: Service) -> None:
    with PageClient(service.url) as client:
        client.login(service.keys["reviewer"])
        cookie = client.cookie
        assert cookie is not None
    assert _replay(service.url, cookie).status_code == 200
    key_id = service.key_ids["reviewer"]
    revoked = CliRunner().invoke(
        app, ["keys", "revoke", key_id, "--database-url", service.store.url]
    )
    assert revoked.exit_code == 0, revoked.output
    replayed = _replay(service.url, cookie)
    assert replayed.status_code == 303
    assert replayed.headers["location"].startswith("/login")
