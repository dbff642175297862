"""The queue a reviewer works, over real HTTP against a real server: filters narrow
the rows and keep the day, sorting reorders them, the band legend reads the served
model's thresholds, the page opens on the latest day with incidents, and an incident
opened from the queue links to the previous and next in that queue's order."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from review_support import (
    BUSY,
    DAY,
    EARLIER_DAY,
    EARLIER_HARASSMENT,
    STALKED,
    busy_service,
    row_ids,
)
from service_support import PageClient, Service, csrf_in

from triage.service import StaticModels, StubScorer, audit_log
from triage.service.scoring import Bands

_NEXT = re.compile(r'<a href="([^"]+)" id="next-incident"')
_PREVIOUS = re.compile(r'<a href="([^"]+)" id="previous-incident"')


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with busy_service(tmp_path_factory.mktemp("busy")) as svc:
        yield svc


def _reviewer(service: Service) -> PageClient:
    client = PageClient(service.url)
    client.login(service.keys["reviewer"], follow=False)
    return client


def _api_items(service: Service, queue: str = "mash") -> list[dict[str, Any]]:
    with service.client("reviewer") as c:
        r = c.get("/queue", params={"date": DAY, "queue": queue})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def _incident_id(html: str) -> str:
    found = re.search(r'id="incident-id">([^<]+)<', html)
    assert found is not None
    return found.group(1)


def _page(client: PageClient, query: str) -> str:
    r = client.get("/ui/queue?" + query)
    assert r.status_code == 200, r.text
    return r.text


def test_each_filter_keeps_exactly_the_matching_rows_and_the_day(busy: Service) -> None:
    items = _api_items(busy)
    assert len(items) == BUSY
    expected = {
        "dash=high": [i for i in items if i["dash_grade"] == "high"],
        "dash=not_completed": [i for i in items if i["dash_grade"] == "not_completed"],
        "band=low": [i for i in items if i["band"] == "low"],
        "children=yes": [i for i in items if i["children_present"]],
        "children=no": [i for i in items if not i["children_present"]],
        "alert=yes": [i for i in items if i["alerts"]],
        "status=not_reviewed": [i for i in items if i["review_status"] == "not_reviewed"],
        "status=reviewed": [i for i in items if i["review_status"] != "not_reviewed"],
        "dash=standard&children=yes": [
            i for i in items if i["dash_grade"] == "standard" and i["children_present"]
        ],
    }
    with _reviewer(busy) as client:
        for query, kept in expected.items():
            html = _page(client, f"date={DAY}&{query}")
            assert row_ids(html) == [i["incident_id"] for i in kept], query
            assert f'value="{DAY}"' in html  # the form keeps the day
            for name, value in (p.split("=") for p in query.split("&")):
                assert f'<option value="{value}" selected>' in html, (query, name)
    assert 0 < len(expected["dash=high"]) < BUSY
    assert 0 < len(expected["children=yes"]) < BUSY
    assert [i["incident_id"] for i in expected["alert=yes"]] == [STALKED]


def test_a_review_moves_the_incident_between_review_filters(busy: Service) -> None:
    waiting_before = [
        i["incident_id"] for i in _api_items(busy) if i["review_status"] == "not_reviewed"
    ]
    chosen = waiting_before[3]
    with _reviewer(busy) as client:
        token = csrf_in(client.get(f"/ui/incidents/{chosen}").text)
        r = client.post(
            f"/ui/incidents/{chosen}/review", {"decision": "monitor", "csrf_token": token}
        )
        assert r.status_code == 200
        reviewed = row_ids(_page(client, f"date={DAY}&status=reviewed"))
        monitored = row_ids(_page(client, f"date={DAY}&status=monitor"))
        waiting = row_ids(_page(client, f"date={DAY}&status=not_reviewed"))
    assert chosen in reviewed
    assert chosen in monitored
    assert waiting == [i for i in waiting_before if i != chosen]
    statuses = {i["incident_id"]: i["review_status"] for i in _api_items(busy)}
    assert monitored == [i for i in reviewed if statuses[i] == "monitor"]


def test_sorting_reorders_the_rows_and_a_header_link_reverses_it(busy: Service) -> None:
    items = {i["incident_id"]: i for i in _api_items(busy)}
    by_rank = sorted(items, key=lambda i: items[i]["rank"])
    grade = {"high": 0, "medium": 1, "standard": 2, "not_completed": 3}
    with _reviewer(busy) as client:
        reported = row_ids(_page(client, f"date={DAY}&sort=reported"))
        latest_first = row_ids(_page(client, f"date={DAY}&sort=-reported"))
        dash = row_ids(_page(client, f"date={DAY}&sort=dash"))
        children = _page(client, f"date={DAY}&sort=children&band=low")
    times = [items[i]["reported_at"] for i in reported]
    assert times == sorted(times)
    assert reported != by_rank
    assert latest_first == sorted(by_rank, key=lambda i: items[i]["reported_at"], reverse=True)
    assert dash == sorted(by_rank, key=lambda i: grade[items[i]["dash_grade"]])  # ties by rank
    ids = row_ids(children)
    flags = [items[i]["children_present"] for i in ids]
    assert flags == sorted(flags, reverse=True)
    assert True in flags
    assert False in flags
    assert {items[i]["band"] for i in ids} == {"low"}  # the filter holds while sorted
    header = re.search(r'aria-sort="other"><a href="([^"]+)"', children)
    assert header is not None  # the active column says so, and its link reverses it
    assert parse_qs(urlsplit(unescape(header.group(1))).query)["sort"] == ["-children"]


def test_bad_filters_and_sorts_are_refused_before_anything_is_read(busy: Service) -> None:
    with busy.store.session() as s:
        before = len(audit_log.entries(s, limit=100_000))
    cases = {
        f"date={DAY}&dash=extreme": "The dash filter must be one of: standard, medium",
        f"date={DAY}&band=purple": "The band filter must be one of: low, medium, high",
        f"date={DAY}&children=maybe": "The children filter must be one of: yes, no",
        f"date={DAY}&status=closed": "The status filter must be one of: not_reviewed",
        f"date={DAY}&sort=probability": "The sort must be one of: rank, reported",
        f"date={DAY}&queue=nope": "There is no such queue: the queues are mash, early_interv",
    }
    with _reviewer(busy) as client:
        for query, message in cases.items():
            r = client.get("/ui/queue?" + query)
            assert r.status_code == 422, query
            assert message in unescape(r.text), query
            assert "Traceback" not in r.text
        r = client.get(f"/ui/incidents/{STALKED}?date={DAY}&sort=-nothing")
        assert r.status_code == 422
    with busy.store.session() as s:
        assert len(audit_log.entries(s, limit=100_000)) == before


def test_without_a_date_the_queue_opens_on_the_latest_day_with_incidents(busy: Service) -> None:
    with _reviewer(busy) as client:
        html = _page(client, "")
        earlier = _page(client, f"date={EARLIER_DAY}")
    note = re.search(r'id="day-note">([^<]+)<', html)
    assert note is not None
    assert f"showing {DAY}, the latest day with incidents" in unescape(note.group(1))
    assert len(row_ids(html)) == BUSY
    assert f'id="date" name="date" value="{DAY}"' in html
    assert row_ids(earlier) == ["e-001"]
    assert 'id="day-note"' not in earlier


def test_the_band_legend_states_the_served_models_thresholds(tmp_path: Path) -> None:
    custom = StubScorer("harm/2", bands=Bands(medium=0.2, high=0.55))
    models = {"serious_harm_365d": StaticModels({2: custom}, 2, name="harm")}
    with busy_service(tmp_path, models) as svc, _reviewer(svc) as client:
        html = unescape(_page(client, f"date={DAY}"))
    legend = html.split('id="band-legend">')[1].split("</p>")[0]
    legend = " ".join(re.sub(r"<[^>]+>", "", legend).split())
    assert "low under 20%" in legend
    with busy_service(tmp_path / "one", models) as svc, _reviewer(svc) as client:
        r = client.get(f"/ui/queue?date={DAY}&queue=early_intervention")
    assert r.status_code == 503  # the queue whose model has no champion says so
    assert "The queue 'Early intervention after lower-risk incidents' has no model" in unescape(
        r.text
    )
    assert "medium 20% to under 55%" in legend
    assert "high 55% or more" in legend


def test_next_and_previous_follow_the_filtered_sorted_queue(busy: Service) -> None:
    query = f"date={DAY}&children=no&sort=-reported"
    with _reviewer(busy) as client:
        html = _page(client, query)
        order = row_ids(html)
        first = re.search(
            r'data-incident-id="[^"]+">\s*<td class="rank">\d+</td>\s*'
            r'<td class="id"><a href="([^"]+)"',
            html,
        )
        assert first is not None
        link, walked, backwards = unescape(first.group(1)), [], []
        while True:
            page = client.get(link)
            assert page.status_code == 200
            walked.append(_incident_id(page.text))
            assert f"Incident {len(walked)} of {len(order)} in MASH daily review" in page.text
            found = _NEXT.search(page.text)
            if found is None:
                assert 'id="last-incident"' in page.text
                break
            link = unescape(found.group(1))
            assert parse_qs(urlsplit(link).query) == parse_qs(query)
        for _ in range(3):
            back = _PREVIOUS.search(page.text)
            assert back is not None
            page = client.get(unescape(back.group(1)))
            backwards.append(_incident_id(page.text))
    assert walked == order
    assert backwards == order[-2:-5:-1]


def test_a_review_from_the_queue_returns_to_the_incident_in_that_queue(busy: Service) -> None:
    query = f"date={DAY}&dash=medium"
    with _reviewer(busy) as client:
        order = row_ids(_page(client, query))
        page = client.get(f"/ui/incidents/{order[0]}?{query}")
        r = client.post(
            f"/ui/incidents/{order[0]}/review?{query}",
            {"decision": "no_further_action", "csrf_token": csrf_in(page.text)},
            follow=False,
        )
        assert r.status_code == 303
        assert r.headers["location"] == f"/ui/incidents/{order[0]}?{query}"
        after = client.get(r.headers["location"]).text
    found = _NEXT.search(after)
    assert found is not None
    assert f"/ui/incidents/{order[1]}?" in found.group(1)
    assert "Review recorded: No further action." in after


def test_the_early_intervention_queue_holds_lower_risk_incidents_only(busy: Service) -> None:
    api = _api_items(busy, "early_intervention")
    with _reviewer(busy) as client:
        html = _page(client, f"date={DAY}&queue=early_intervention")
        children = _page(client, f"date={DAY}&queue=early_intervention&children=yes")
        first = row_ids(children)[0]
        incident = client.get(f"/ui/incidents/{first}?date={DAY}&queue=early_intervention")
    assert row_ids(html) == [i["incident_id"] for i in api]
    assert {i["dash_grade"] for i in api} <= {"standard", "not_completed"}
    assert "Ranked by model <code>repeat/1</code>" in html
    assert '<option value="early_intervention" selected>' in html
    assert row_ids(children) == [i["incident_id"] for i in api if i["children_present"]]
    assert "in Early intervention after lower-risk incidents" in incident.text
    assert "<code>repeat/1</code>" in incident.text  # scored by the queue's own model


def test_the_incident_page_shows_the_chronology_and_the_alerts_evidence(busy: Service) -> None:
    with _reviewer(busy) as client:
        html = client.get(f"/ui/incidents/{STALKED}?date={DAY}").text
        alerted = client.get(f"/ui/incidents/{STALKED}?date={DAY}&alert=yes").text
    assert "Incident 1 of 1 in MASH daily review (filtered)" in alerted  # alerts decide it
    assert 'id="last-incident"' in alerted
    chronology = html.split('id="chronology"')[1].split("</table>")[0]
    earlier = re.findall(r'<a href="/ui/incidents/([^"]+)">', chronology)
    assert earlier == list(reversed(EARLIER_HARASSMENT))  # newest first
    assert chronology.count('data-relation="pair"') == 3
    alerts = html.split('id="alerts"')[1].split("</ul>")[0]
    assert 'data-rule="possible_stalking"' in alerts
    assert "Stalking Protection Order" in unescape(alerts)
    evidence = re.findall(r'<a href="/ui/incidents/([^"]+)">', alerts.split("possible_stalking")[1])
    assert set(EARLIER_HARASSMENT) <= set(evidence)
    assert "<dt>Children present</dt><dd>yes</dd>" in html
