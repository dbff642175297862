"""The auditor's audit log page over real HTTP: newest first and paged, filtered by
kind, key, day range and incident, incident ids collapsed to a count; key creation and
revocation, promotions and reloads recorded with who and when; bad filters refused."""

from __future__ import annotations

import re
from html import unescape

import pytest
from service_support import PageClient, Service
from typer.testing import CliRunner

import triage.cli._service  # noqa: F401  (registers the commands)
from triage.cli import app
from triage.service import audit_log
from triage.service.auth import Role, create_key, operator, revoke_key
from triage.service.pages_audit import PAGE_SIZE

_ROW = re.compile(r'<tr class="entry[^"]*" data-seq="(\d+)" data-action="([^"]+)"')


def _listed(html: str) -> list[tuple[int, str]]:
    return [(int(seq), action) for seq, action in _ROW.findall(html)]


def _auditor(service: Service) -> PageClient:
    client = PageClient(service.url)
    client.login(service.keys["auditor"])
    return client


def _fill(service: Service, n: int, **entry: object) -> None:
    with service.store.session() as s:
        for i in range(n):
            audit_log.append(
                s,
                key_id=str(entry.get("key_id", "k-fill")),
                action=str(entry.get("action", "queue.read")),
                incident_ids=list(entry.get("incident_ids", [f"f{i}"])),  # type: ignore[call-overload]
                detail={"queue": "mash", "n": i},
            )


def test_the_log_is_newest_first_and_pages_back_and_forth(service: Service) -> None:
    _fill(service, 2 * PAGE_SIZE + 5)
    with service.store.session() as s:
        head = audit_log.head(s)[0]
    with _auditor(service) as auditor:
        first = auditor.get("/ui/audit-log")
        seqs = [seq for seq, _ in _listed(first.text)]
        assert seqs == list(range(head, head - PAGE_SIZE, -1))
        assert 'id="newer"' not in first.text
        older = unescape(re.search(r'href="([^"]+)" id="older"', first.text).group(1))  # type: ignore[union-attr]
        second = auditor.get(older)
        assert [seq for seq, _ in _listed(second.text)] == list(
            range(head - PAGE_SIZE, head - 2 * PAGE_SIZE, -1)
        )
        newer = unescape(re.search(r'href="([^"]+)" id="newer"', second.text).group(1))  # type: ignore[union-attr]
        assert [seq for seq, _ in _listed(auditor.get(newer).text)] == seqs
        last = auditor.get(f"/ui/audit-log?before={PAGE_SIZE}")
        assert [seq for seq, _ in _listed(last.text)] == list(range(PAGE_SIZE - 1, 0, -1))
        assert 'id="older"' not in last.text


def test_filters_by_kind_key_incident_and_day(service: Service) -> None:
    _fill(service, 3, key_id="k-one", incident_ids=["a_1", "x"])
    _fill(service, 2, key_id="k-two", incident_ids=["ab1"])
    with service.store.session() as s:
        created, _ = create_key(s, Role.REVIEWER, "desk", by="cli:alice")
    with service.store.session() as s:
        revoke_key(s, created.key_id, by="cli:bob")
    with _auditor(service) as auditor:
        keys = _listed(auditor.get("/ui/audit-log?kind=key").text)
        assert [a for _, a in keys] == ["key.revoked", "key.created"]
        mine = auditor.get("/ui/audit-log?key=k-two").text
        assert [a for _, a in _listed(mine)] == ["queue.read"] * 2
        assert "2 entries match" in mine
        # an underscore in an id is a character, not a wildcard
        assert len(_listed(auditor.get("/ui/audit-log?incident=a_1").text)) == 3
        assert len(_listed(auditor.get("/ui/audit-log?incident=ab1").text)) == 2
        assert len(_listed(auditor.get("/ui/audit-log?incident=a").text)) == 0
        today = audit_log.entries  # the entries were all written today (UTC)
        with service.store.session() as s:
            day = today(s, limit=1)[0].at[:10]
        assert len(_listed(auditor.get(f"/ui/audit-log?since={day}&until={day}").text)) > 5
        assert _listed(auditor.get("/ui/audit-log?until=2000-01-01").text) == []
        both = auditor.get("/ui/audit-log?kind=queue&key=k-one&incident=x").text
        assert len(_listed(both)) == 3
        assert 'value="k-one"' in both  # the form keeps the filters


def test_incidents_are_collapsed_to_a_count_with_a_link(service: Service) -> None:
    ids = [f"inc-{i}" for i in range(40)]
    _fill(service, 1, incident_ids=ids)
    with service.store.session() as s:
        seq = audit_log.head(s)[0]
    with _auditor(service) as auditor:
        page = auditor.get("/ui/audit-log").text
        row = page.split(f'data-seq="{seq}"')[1].split("</tr>")[0]
        assert f'href="/ui/audit-log/{seq}">40 incidents</a>' in row
        assert "inc-7" not in row
        entry = auditor.get(f"/ui/audit-log/{seq}")
    assert entry.status_code == 200
    listed = re.findall(r'href="/ui/audit-log\?incident=([^"]+)"', entry.text)
    assert listed == ids


def test_key_lifecycle_from_the_command_line_names_who_and_when(service: Service) -> None:
    url = service.store.url
    created = CliRunner().invoke(
        app, ["keys", "create", "--role", "auditor", "--label", "desk 4", "--database-url", url]
    )
    assert created.exit_code == 0
    key_id = created.stdout.strip().splitlines()[-1].split(".")[1]
    assert CliRunner().invoke(app, ["keys", "revoke", key_id, "--database-url", url]).exit_code == 0
    again = CliRunner().invoke(app, ["keys", "revoke", key_id, "--database-url", url])
    assert again.exit_code == 0  # revoking twice is recorded once
    with service.store.session() as s:
        found = [e for e in audit_log.entries(s, limit=10_000) if e.action.startswith("key.")]
    assert [(e.action, e.key_id, e.detail["key"]) for e in found] == [
        ("key.created", operator(), key_id),
        ("key.revoked", operator(), key_id),
    ]
    assert found[0].detail == {"key": key_id, "role": "auditor", "label": "desk 4"}
    with _auditor(service) as auditor:
        page = unescape(auditor.get("/ui/audit-log?kind=key").text)
    assert f"revoked key {key_id} (role auditor, labelled 'desk 4')" in page
    assert f"created key {key_id} (role auditor, labelled 'desk 4')" in page
    assert service.store.verify_audit_log().ok


def test_promotions_and_reloads_show_who_and_what_in_words(service: Service) -> None:
    service.models.promote(2, reason="better recall")
    with service.client("admin") as c:
        assert c.post("/admin/reload").status_code == 200
    with _auditor(service) as auditor:
        page = unescape(auditor.get("/ui/audit-log?kind=model").text)
    listed = _listed(page)
    assert [a for _, a in listed[:2]] == ["model.reload", "model.decision"]
    assert "promoted stub/2 (champion before: v1)" in page
    assert "failed gates overridden: better recall" in page
    assert "serving stub/2 (before: stub/1)" in page
    decision = page.split(f'data-seq="{listed[1][0]}"')[1].split("</tr>")[0]
    assert service.key_ids["admin"] in decision
    assert "model promoted" in decision
    assert "decision_sha256" not in page  # detail is described, not dumped


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("kind=bogus", "Choose a kind"),
        ("since=2024-13-01", "YYYY-MM-DD"),
        ("until=yesterday", "YYYY-MM-DD"),
        ("since=2024-03-02&until=2024-03-01", "after the"),
        ("before=-1", "whole number"),
        ("after=%C2%B3", "whole number"),
        ("key=" + "k" * 200, "key filter"),
        ("incident=%00", "incident filter"),
    ],
)
def test_bad_filters_are_refused_with_a_clear_page(
    service: Service, query: str, words: str
) -> None:
    with _auditor(service) as auditor:
        r = auditor.get(f"/ui/audit-log?{query}")
    assert r.status_code == 422
    assert words in unescape(r.text)
    assert "Traceback" not in r.text


def test_an_unknown_entry_is_not_found(service: Service) -> None:
    with _auditor(service) as auditor:
        for path in ("/ui/audit-log/0", "/ui/audit-log/999", "/ui/audit-log/x", "/ui/audit-log/²"):
            r = auditor.get(path)
            assert r.status_code == 404, path
            assert "no such audit log entry" in r.text


def test_compare_without_a_registry_says_so(service: Service) -> None:
    with _auditor(service) as auditor:
        chooser = auditor.get("/ui/compare")
        refused = auditor.get("/ui/compare?a=1&b=2")
        unknown = auditor.get("/ui/compare?model=nomodel&a=1&b=2")
    assert chooser.status_code == 200
    assert (
        re.findall(r'<select id="a" name="a">(.*?)</select>', chooser.text)[0].count("<option") == 2
    )
    assert refused.status_code == 404
    assert "only when the service reads the model registry" in refused.text
    assert unknown.status_code == 404


def test_a_transparency_record_needs_the_registry(service: Service) -> None:
    with _auditor(service) as auditor:
        page = auditor.get("/ui/models/serious_harm_365d/1")
        framed = auditor.get("/ui/models/serious_harm_365d/1/transparency")
        record = auditor.get("/ui/models/serious_harm_365d/1/files/transparency.json")
    assert "/transparency" not in page.text
    for r in (framed, record):
        assert r.status_code == 404
        assert "built from the model registry" in r.text
