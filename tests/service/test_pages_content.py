"""What the review pages show and record, over real HTTP without a browser: the
queue in rank order with the DASH grade beside every score and the disclaimer on
every page, reviews by post-redirect-get, and each page view in the audit log exactly
as the API writes it. No key, note or personal field reaches a page or a log line."""

from __future__ import annotations

import logging
import re
from html import unescape

import pytest
from service_support import PageClient, Service, csrf_in, day_batch, incident, person

from triage.service import audit_log
from triage.service.audit_log import AuditEntry
from triage.service.pages_session import DISCLAIMER
from triage.service.tables import ReviewRow

ROW = re.compile(
    r'<tr class="incident (within|beyond)" data-incident-id="([^"]+)">\s*'
    r'<td class="rank">(\d+)</td>.*?data-probability="([^"]+)".*?'
    r'<td class="dash">([^<]+)</td>\s*<td class="reasons">(.*?)</td>\s*'
    r'<td class="status">([^<]+)</td>',
    re.S,
)
VICTIM = "PERSON-SECRET-VICTIM"
SUSPECT = "PERSON-SECRET-SUSPECT"
NOTE = "NOTE-SPOKE-TO-THE-NEIGHBOUR"


def _rows(html: str) -> list[tuple[str, str, int, float, str, str, str]]:
    return [
        (cap, iid, int(rank), float(p), dash, unescape(reasons), status)
        for cap, iid, rank, p, dash, reasons, status in ROW.findall(html)
    ]


def _entries(service: Service) -> list[AuditEntry]:
    with service.store.session() as s:
        return audit_log.entries(s, limit=10_000)


def _reviewer(service: Service) -> PageClient:
    client = PageClient(service.url)
    client.login(service.keys["reviewer"], follow=False)
    return client


def test_the_queue_page_ranks_the_day_with_dash_grades_and_reasons(service: Service) -> None:
    batch = day_batch(9)
    with service.client("ingest") as c:
        assert c.post("/incidents", json=batch).status_code == 200
    with service.client("reviewer") as c:
        api = c.get("/queue", params={"date": "2024-03-01", "capacity": 4}).json()
    with _reviewer(service) as client:
        r = client.get("/ui/queue?date=2024-03-01&capacity=4")
    assert r.status_code == 200
    rows = _rows(r.text)
    assert [row[1] for row in rows] == [i["incident_id"] for i in api["items"]]
    assert [row[2] for row in rows] == list(range(1, 10))
    probabilities = [row[3] for row in rows]
    assert probabilities == sorted(probabilities, reverse=True)
    assert [row[0] for row in rows] == ["within"] * 4 + ["beyond"] * 5
    grades = {r["incident_id"]: r["dash_grade"] for r in batch["incidents"]}
    assert {row[1]: row[4] for row in rows} == grades
    top = rows[0][5]
    assert "Raises:" in top
    assert api["items"][0]["reasons"][0]["text"] in top
    assert {row[6] for row in rows} == {"Not reviewed"}
    assert "Capacity of 4 reached" in r.text
    assert DISCLAIMER in unescape(r.text)


def test_every_page_states_the_disclaimer_and_every_score_its_dash_grade(
    service: Service,
) -> None:
    with service.client("ingest") as c:
        c.post("/incidents", json=day_batch(3))
    with _reviewer(service) as reviewer:
        queue = reviewer.get("/ui/queue?date=2024-03-01")
        detail = reviewer.get("/ui/incidents/d002")
    with PageClient(service.url) as auditor:
        login = auditor.get("/login")
        auditor.login(service.keys["auditor"])
        pages = [auditor.get(p) for p in ("/ui/audit-log", "/ui/models", "/ui/models/1")]
    for page in [queue, detail, login, *pages]:
        assert page.status_code == 200
        assert DISCLAIMER in unescape(page.text), page.url
    assert len(_rows(queue.text)) == 3
    score = detail.text.split('id="score-heading"')[1].split("</section>")[0]
    assert re.search(r'id="probability">\d+\.\d%<', score)
    assert '<dd id="dash">high</dd>' in score  # d002 was graded high by the officer


def test_a_review_is_recorded_then_shown_and_audited_as_the_api_does(service: Service) -> None:
    with service.client("ingest") as c:
        c.post("/incidents", json=day_batch(5))
    reviewer_id = service.key_ids["reviewer"]
    with _reviewer(service) as client:
        queue = client.get("/ui/queue?date=2024-03-01&capacity=2")
        shown = [row[1] for row in _rows(queue.text)]
        page = client.get("/ui/incidents/d003")
        r = client.post(
            "/ui/incidents/d003/review",
            {
                "decision": "refer_marac",
                "override_band": "high",
                "note": NOTE,
                "csrf_token": csrf_in(page.text),
            },
            follow=False,
        )
        assert r.status_code == 303
        assert r.headers["location"] == "/ui/incidents/d003"
        after = client.get("/ui/incidents/d003")
        again = client.get("/ui/queue?date=2024-03-01&capacity=2")
    assert "Review recorded: Refer to MARAC." in after.text
    assert '<td class="decision">Refer to MARAC</td>' in after.text
    assert NOTE not in after.text
    assert {row[1]: row[6] for row in _rows(again.text)}["d003"] == "Refer to MARAC"
    entries = _entries(service)
    actions = [(e.action, e.incident_ids) for e in entries if e.key_id == reviewer_id]
    assert actions == [
        ("queue.read", tuple(shown)),
        ("incident.read", ("d003",)),
        ("review", ("d003",)),
        ("incident.read", ("d003",)),
        ("queue.read", tuple(shown)),
    ]
    first, review = entries[-5], entries[-3]
    assert first.model_version == "stub/1"
    assert first.detail == {"date": "2024-03-01", "capacity": 2, "queue": "mash"}
    assert review.model_version == "stub/1"
    assert review.detail["decision"] == "refer_marac"
    assert review.detail["override_band"] == "high"
    assert NOTE not in str(review.detail)
    assert service.store.verify_audit_log().ok
    with service.store.session() as s:
        stored = s.query(ReviewRow).one()
    assert (stored.key_id, stored.note) == (reviewer_id, NOTE)


def test_a_page_view_writes_the_same_audit_entry_as_the_api(service: Service) -> None:
    with service.client("ingest") as c:
        c.post("/incidents", json=day_batch(4))
    with service.client("reviewer") as c:
        c.get("/queue", params={"date": "2024-03-01", "capacity": 3})
        c.get("/incidents/d001")
    with _reviewer(service) as client:
        client.get("/ui/queue?date=2024-03-01&capacity=3")
        client.get("/ui/incidents/d001")
    api_queue, api_incident, page_queue, page_incident = _entries(service)[-4:]
    for api, page in ((api_queue, page_queue), (api_incident, page_incident)):
        assert (page.key_id, page.action) == (api.key_id, api.action)
        assert (page.incident_ids, page.model_version) == (api.incident_ids, api.model_version)
        assert page.detail == api.detail


def test_a_review_that_breaks_the_rules_comes_back_without_the_note(service: Service) -> None:
    with service.client("ingest") as c:
        c.post("/incidents", json=day_batch(2))
    with _reviewer(service) as client:
        page = client.get("/ui/incidents/d001")
        token = csrf_in(page.text)
        bad = [
            ({"decision": "monitor", "override_band": "high"}, "An override needs a note"),
            ({"decision": "shrug", "note": NOTE}, "Choose one of the decisions."),
            ({"decision": "monitor", "override_band": "extreme", "note": NOTE}, "Choose low"),
        ]
        for form, message in bad:
            r = client.post("/ui/incidents/d001/review", {**form, "csrf_token": token})
            assert r.status_code == 422
            assert message in unescape(r.text)
            assert NOTE not in r.text
    with service.store.session() as s:
        assert s.query(ReviewRow).count() == 0


def test_bad_input_answers_an_html_page_not_a_traceback(service: Service) -> None:
    with _reviewer(service) as client:
        cases = {
            "/ui/queue?date=2024-13-45": (422, "YYYY-MM-DD"),
            "/ui/queue?date=2024-03-01&capacity=0": (422, "capacity"),
            "/ui/incidents/nope": (404, "no such incident"),
            "/ui/incidents/" + "x" * 300: (404, "no such incident"),
        }
        for path, (status, words) in cases.items():
            r = client.get(path)
            assert r.status_code == status, path
            assert r.headers["content-type"].startswith("text/html")
            assert words in r.text
            assert "Traceback" not in r.text
    with PageClient(service.url) as auditor:
        auditor.login(service.keys["auditor"])
        assert auditor.get("/ui/models/9").status_code == 404
        assert auditor.get("/ui/models?version=x").status_code == 422
        assert auditor.get("/ui/audit-log?after=-1").status_code == 422


def test_the_audit_log_page_lists_entries_and_checks_the_chain(service: Service) -> None:
    with service.client("ingest") as c:
        c.post("/incidents", json=day_batch(3))
    with _reviewer(service) as client:
        client.get("/ui/queue?date=2024-03-01")
    with PageClient(service.url) as auditor:
        auditor.login(service.keys["auditor"])
        r = auditor.get("/ui/audit-log?verify=true")
    entries = _entries(service)
    listed = re.findall(r'data-seq="(\d+)" data-action="([^"]+)"', r.text)
    assert listed == [(str(e.seq), e.action) for e in reversed(entries)]  # newest first
    assert "The chain holds" in r.text
    assert entries[-1].hash in r.text
    assert service.key_ids["reviewer"] in r.text


def test_pages_are_kept_out_of_caches_and_frames(service: Service) -> None:
    with _reviewer(service) as client:
        r = client.get("/ui/queue?date=2024-03-01")
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert "script-src" not in r.headers["content-security-policy"]  # default-src 'none'


def test_no_key_note_or_personal_field_reaches_a_page_or_log(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    row = incident("pii-1", victim=VICTIM, perpetrator=SUSPECT)
    people = [person(VICTIM), person(SUSPECT)]
    with service.client("ingest") as c:
        assert c.post("/incidents", json={"incidents": [row], "people": people}).status_code == 200
    texts = []
    with PageClient(service.url) as client:
        texts.append(client.login("trk.abcdefabcdef.a-wrong-secret").text)
        texts.append(client.login(service.keys["reviewer"]).text)
        texts.append(client.get("/ui/queue?date=2024-03-01").text)
        page = client.get("/ui/incidents/pii-1")
        texts.append(page.text)
        review = {"decision": "monitor", "note": NOTE, "csrf_token": csrf_in(page.text)}
        texts.append(client.post("/ui/incidents/pii-1/review", review).text)
        texts.append(client.logout().text)
    logs = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "POST /ui/incidents/pii-1/review" in logs  # the capture works
    assert "page sign-in refused" in logs
    keys = [k.split(".")[2] for k in service.keys.values()]
    secrets = [VICTIM, SUSPECT, NOTE, "a-wrong-secret", *keys]
    for secret in secrets:
        assert secret not in logs, secret
        assert not any(secret in t for t in texts), secret
