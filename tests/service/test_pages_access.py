"""Who may open which review page, over real HTTP without a browser: no session goes
to sign-in, a role sees exactly its pages, the session cookie is signed, HttpOnly,
Secure and SameSite=Strict, a revoked key ends its session at the next request, and
a form without this session's CSRF token changes nothing."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import httpx
import itsdangerous
import pytest
from pydantic import SecretStr
from service_support import (
    SESSION_COOKIE,
    PageClient,
    Service,
    csrf_in,
    day_batch,
    populated_service,
    serving,
)

from triage.exceptions import ConfigError
from triage.service import Role, StaticModels, Store, StubScorer, audit_log, create_app
from triage.service.auth import create_key, revoke_key
from triage.service.pages import MESSAGE_LOGIN_REFUSED
from triage.service.pages_session import MESSAGE_CSRF, SESSION_MAX_AGE
from triage.service.sessions import start_session
from triage.service.tables import ReviewRow, SessionRow
from triage.settings import Settings

ROLES = ["ingest", "reviewer", "auditor", "admin"]
#: (page, roles that may open it)
PAGES: list[tuple[str, frozenset[str]]] = [
    ("/ui/queue?date=2024-03-01", frozenset({"reviewer"})),
    ("/ui/incidents/d001", frozenset({"reviewer"})),
    ("/ui/models", frozenset({"auditor"})),
    ("/ui/models/1", frozenset({"auditor"})),
    ("/ui/audit-log", frozenset({"auditor"})),
]
HOMES = {"reviewer": "/ui/queue", "auditor": "/ui/audit-log"}
SECRET = "s" * 48


@pytest.fixture(scope="module")
def pages_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with populated_service(tmp_path_factory.mktemp("pages"), day_batch(4)) as svc:
        yield svc


@pytest.fixture(scope="module")
def signed_in(pages_service: Service) -> Iterator[dict[str, PageClient]]:
    """A signed-in page client per role."""
    clients = {role: PageClient(pages_service.url) for role in ROLES}
    for role, client in clients.items():
        assert client.login(pages_service.keys[role], follow=False).status_code == 303
    yield clients
    for client in clients.values():
        client.http.close()


def _reviews(store: Store) -> int:
    with store.session() as s:
        return s.query(ReviewRow).count()


def _audit_size(store: Store) -> int:
    with store.session() as s:
        return audit_log.head(s)[0]


@pytest.mark.parametrize(("page", "allowed"), PAGES, ids=[p for p, _ in PAGES])
def test_a_page_without_a_session_redirects_to_sign_in(
    pages_service: Service, page: str, allowed: frozenset[str]
) -> None:
    r = httpx.get(pages_service.url + page)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=" + page.split("?")[0]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("page", "allowed"), PAGES, ids=[p for p, _ in PAGES])
def test_a_page_admits_exactly_its_roles(
    signed_in: dict[str, PageClient], page: str, allowed: frozenset[str], role: str
) -> None:
    r = signed_in[role].get(page, follow=False)
    if role in allowed:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        return
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("text/html")
    assert f"role ({role}) may not open this page" in r.text


@pytest.mark.parametrize("role", ROLES)
def test_home_sends_each_role_to_its_first_page(
    signed_in: dict[str, PageClient], role: str
) -> None:
    r = signed_in[role].get("/ui/", follow=False)
    if role in HOMES:
        assert r.status_code == 303
        assert r.headers["location"] == HOMES[role]
    else:
        assert r.status_code == 403
        assert "have no pages here" in r.text


@pytest.mark.parametrize("role", ["ingest", "auditor", "admin"])
def test_only_a_reviewer_may_post_a_review(
    pages_service: Service, signed_in: dict[str, PageClient], role: str
) -> None:
    client = signed_in[role]
    token = csrf_in(client.get("/login").text)  # the session's token, on any page with a form
    before = _reviews(pages_service.store)
    r = client.post(
        "/ui/incidents/d001/review", {"decision": "monitor", "csrf_token": token}, follow=False
    )
    assert r.status_code == 403
    assert _reviews(pages_service.store) == before


def test_pages_are_not_part_of_the_api_schema(pages_service: Service) -> None:
    paths = httpx.get(pages_service.url + "/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith(("/ui", "/login", "/logout")) or p == "/"]


def test_the_session_cookie_is_signed_httponly_secure_and_strict(pages_service: Service) -> None:
    with PageClient(pages_service.url) as client:
        client.login(pages_service.keys["reviewer"], follow=False)
        raw = client.set_cookies[-1]
        value = client.cookie
    attributes = {a.strip().split("=")[0].lower(): a.strip() for a in raw.split(";")[1:]}
    assert raw.startswith(f"{SESSION_COOKIE}=")
    assert {"httponly", "secure", "samesite", "max-age", "path"} <= set(attributes)
    assert attributes["samesite"].lower() == "samesite=strict"
    assert attributes["max-age"] == f"Max-Age={SESSION_MAX_AGE}"
    assert value is not None
    assert pages_service.keys["reviewer"].split(".")[2] not in raw
    payload = json.loads(base64.b64decode(value.split(".")[0]))
    assert set(payload) == {"sid", "csrf"}  # a server-side session's id, not the key's
    assert pages_service.key_ids["reviewer"] not in json.dumps(payload)


def test_a_forged_or_altered_cookie_is_not_a_session(pages_service: Service) -> None:
    forged = base64.b64encode(
        json.dumps(
            {"key_id": pages_service.key_ids["reviewer"], "since": int(time.time()), "csrf": "x"}
        ).encode()
    ).decode()
    with PageClient(pages_service.url) as client:
        client.login(pages_service.keys["reviewer"], follow=False)
        assert client.cookie is not None
        signed = client.cookie.split(".", 1)[1]
        for cookie in (forged, f"{forged}.{signed}"):
            r = httpx.get(
                pages_service.url + "/ui/queue", cookies={SESSION_COOKIE: cookie}
            )  # a plain jar sends it: the cookie here has no Secure flag
            assert r.status_code == 303
            assert r.headers["location"].startswith("/login")


def test_a_wrong_key_is_refused_on_the_page_without_echoing_it(pages_service: Service) -> None:
    wrong = "trk.000000000000.certainly-not-a-real-secret"
    with PageClient(pages_service.url) as client:
        for key in (wrong, pages_service.keys["revoked"], ""):
            r = client.login(key)
            assert r.status_code == 401
            assert MESSAGE_LOGIN_REFUSED in r.text.replace("&#39;", "'")
            assert wrong not in r.text
            assert pages_service.keys["revoked"] not in r.text
        assert client.get("/ui/queue", follow=False).headers["location"].startswith("/login")


def test_signing_out_ends_the_session(pages_service: Service) -> None:
    with PageClient(pages_service.url) as client:
        client.login(pages_service.keys["reviewer"])
        old = client.cookie
        r = client.logout("/ui/queue?date=2024-03-01")
        assert str(r.url).endswith("/login?signed_out=true")
        assert "You have signed out." in r.text
        assert client.cookie != old
        assert client.get("/ui/queue", follow=False).status_code == 303


def test_sign_in_goes_back_to_the_page_asked_for_but_never_off_site(
    pages_service: Service,
) -> None:
    key = pages_service.keys["reviewer"]
    for asked in ("/ui/incidents/d002", "/ui/incidents/a%20b"):
        with PageClient(pages_service.url) as client:
            page = client.get(asked)
            assert str(page.url).endswith("/login?next=" + asked)
            found = re.search(r'name="next" value="([^"]*)"', page.text)
            assert found is not None
            form = {"api_key": key, "next": unescape(found.group(1))}
            r = client.post("/login", {**form, "csrf_token": csrf_in(page.text)}, follow=False)
            assert r.headers["location"] == asked
    for target in ("//evil.example/ui/", "https://evil.example/", "/ui/\\evil", "/api", "/ui/\n"):
        with PageClient(pages_service.url) as client:
            token = csrf_in(client.get("/login").text)
            r = client.post(
                "/login", {"api_key": key, "next": target, "csrf_token": token}, follow=False
            )
            assert r.headers["location"] == "/ui/", target


def test_revoking_a_key_ends_its_session_at_the_next_request(pages_service: Service) -> None:
    store = pages_service.store
    with store.session() as s:
        record, key = create_key(s, Role.REVIEWER, label="to revoke")
    with PageClient(pages_service.url) as client:
        client.login(key)
        kept = client.cookie
        assert client.get("/ui/queue?date=2024-03-01", follow=False).status_code == 200
        with store.session() as s:
            revoke_key(s, record.key_id)
        r = client.get("/ui/queue?date=2024-03-01", follow=False)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login")
        assert "expires=Thu, 01 Jan 1970" in client.set_cookies[-1]  # the cookie is cleared
        client.cookie = kept  # replaying the old cookie does not help
        assert client.get("/ui/incidents/d001", follow=False).status_code == 303


@pytest.mark.parametrize("token", ["missing", "wrong", "another session's"])
def test_a_review_without_this_sessions_csrf_token_stores_nothing(
    pages_service: Service, token: str
) -> None:
    store = pages_service.store
    with PageClient(pages_service.url) as other:
        other.login(pages_service.keys["reviewer"])
        others = csrf_in(other.get("/ui/incidents/d001").text)
    with PageClient(pages_service.url) as client:
        client.login(pages_service.keys["reviewer"])
        client.get("/ui/incidents/d001")
        form = {"decision": "refer_marac"}
        if token == "wrong":
            form["csrf_token"] = "not-the-token"
        elif token == "another session's":
            form["csrf_token"] = others
        reviews, entries = _reviews(store), _audit_size(store)
        r = client.post("/ui/incidents/d001/review", form, follow=False)
        assert r.status_code == 403
        assert MESSAGE_CSRF in r.text
        assert (_reviews(store), _audit_size(store)) == (reviews, entries)


def test_sign_in_and_sign_out_need_the_forms_csrf_token(pages_service: Service) -> None:
    with PageClient(pages_service.url) as client:
        r = client.post("/login", {"api_key": pages_service.keys["reviewer"]}, follow=False)
        assert r.status_code == 403
        assert client.cookie is None
        client.login(pages_service.keys["reviewer"])
        assert client.post("/logout", {"csrf_token": "nope"}, follow=False).status_code == 403
        assert client.get("/ui/queue?date=2024-03-01", follow=False).status_code == 200


def test_a_form_that_is_not_urlencoded_is_refused(pages_service: Service) -> None:
    with PageClient(pages_service.url) as client:
        client.login(pages_service.keys["reviewer"])
        token = csrf_in(client.get("/ui/incidents/d001").text)
        before = _reviews(pages_service.store)
        r = client.http.post(
            "/ui/incidents/d001/review",
            json={"decision": "monitor", "csrf_token": token},
            headers={"Cookie": f"{SESSION_COOKIE}={client.cookie}"},
        )
        assert r.status_code == 400
        assert _reviews(pages_service.store) == before


def _settings(store: Store, tmp: Path, secret: str | None) -> Settings:
    return Settings(
        database_url=store.url,
        tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}",
        session_secret=None if secret is None else SecretStr(secret),
    )


def test_sessions_signed_with_the_configured_secret_survive_a_restart(
    sqlite_store: Store, tmp_path: Path
) -> None:
    models = StaticModels({1: StubScorer("stub/1")}, 1, name="stub")
    with sqlite_store.session() as s:
        _, key = create_key(s, Role.REVIEWER)
    settings = _settings(sqlite_store, tmp_path, SECRET)
    with (
        serving(create_app(settings, store=sqlite_store, models=models)) as url,
        PageClient(url) as client,
    ):
        client.login(key)
        cookie = client.cookie
    for secret, expected in ((SECRET, 200), ("t" * 48, 303)):
        app = create_app(
            _settings(sqlite_store, tmp_path, secret), store=sqlite_store, models=models
        )
        with serving(app) as url, PageClient(url) as client:
            client.cookie = cookie
            assert client.get("/ui/queue", follow=False).status_code == expected


def test_a_session_ends_its_maximum_age_after_sign_in(sqlite_store: Store, tmp_path: Path) -> None:
    models = StaticModels({1: StubScorer("stub/1")}, 1, name="stub")
    with sqlite_store.session() as s:
        record, _ = create_key(s, Role.REVIEWER)
    settings = _settings(sqlite_store, tmp_path, SECRET)

    def cookie(since: float) -> str:
        with sqlite_store.session() as s:
            sid = start_session(s, record.key_id, SESSION_MAX_AGE)
            row = s.get(SessionRow, sid)
            assert row is not None
            row.expires_at = datetime.fromtimestamp(since + SESSION_MAX_AGE, UTC)
        body = {"sid": sid, "csrf": "t"}
        data = base64.b64encode(json.dumps(body).encode())
        return itsdangerous.TimestampSigner(SECRET).sign(data).decode()

    with serving(create_app(settings, store=sqlite_store, models=models)) as url:
        for since, expected in ((time.time() - 60, 200), (time.time() - SESSION_MAX_AGE - 60, 303)):
            with PageClient(url) as client:
                client.cookie = cookie(since)
                assert client.get("/ui/queue", follow=False).status_code == expected


def test_a_missing_secret_is_warned_about_and_a_short_one_refused(
    sqlite_store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    create_app(_settings(sqlite_store, tmp_path, None), scorer=StubScorer())
    assert "TRIAGE_SESSION_SECRET is not set" in caplog.text
    caplog.clear()
    create_app(_settings(sqlite_store, tmp_path, SECRET), scorer=StubScorer())
    assert "TRIAGE_SESSION_SECRET" not in caplog.text
    with pytest.raises(ConfigError, match="TRIAGE_SESSION_SECRET") as raised:
        Settings.from_env({"TRIAGE_SESSION_SECRET": "too-short-secret"})
    assert "too-short-secret" not in str(raised.value)
