"""The review pages in a real browser: headless Chromium (Debian's, driven by
Selenium through Debian's chromedriver, so nothing is downloaded) against a real
uvicorn server on loopback. A reviewer signs in, reads the queue in rank order with
reasons and DASH grades, opens an incident, records a review, sees it recorded and
audited, and signs out; a wrong key is refused."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from service_support import SESSION_COOKIE, Service, day_batch

from triage.service import audit_log
from triage.service.pages import MESSAGE_LOGIN_REFUSED
from triage.service.pages_session import DISCLAIMER

try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service as DriverService
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # reported by the fixture: a skip locally, a failure in CI
    webdriver = None

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
DAY = "2024-03-01"
WAIT = 30


def _unavailable(reason: str) -> None:
    """Skip locally; in CI a missing browser is a failure, never a silent skip."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium for the module; each test starts with no cookies."""
    if webdriver is None:
        _unavailable("selenium is not installed (dev dependency group)")
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).is_file()]
    if missing:
        _unavailable(
            f"{' and '.join(missing)} not found: install Debian's chromium and "
            "chromium-driver packages"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=DriverService(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser: Any, service: Service) -> Iterator[Any]:
    with service.client("ingest") as c:
        assert c.post("/incidents", json=day_batch(8, DAY)).status_code == 200
    browser.delete_all_cookies()
    yield browser
    browser.delete_all_cookies()


def _wait_for_url(driver: Any, fragment: str) -> None:
    WebDriverWait(driver, WAIT).until(ec.url_contains(fragment))


def _submit(driver: Any, form_id: str) -> None:
    """Submit a form and wait for the next page to replace this one."""
    form = driver.find_element(By.ID, form_id)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    # while the page is being replaced, chromedriver may answer a probe of the old form
    # with a passing "unknown error" (the node leaving the document): probe again
    WebDriverWait(driver, WAIT, ignored_exceptions=(WebDriverException,)).until(
        ec.staleness_of(form)
    )


def _sign_in(driver: Any, key: str) -> None:
    field = driver.find_element(By.ID, "api_key")
    field.clear()
    field.send_keys(key)
    _submit(driver, "login-form")


def _queue_rows(driver: Any) -> list[dict[str, str]]:
    rows = driver.find_elements(By.CSS_SELECTOR, "#queue tr.incident")
    return [
        {
            "id": r.get_attribute("data-incident-id"),
            "rank": r.find_element(By.CSS_SELECTOR, "td.rank").text,
            "probability": r.find_element(By.CSS_SELECTOR, "td.probability").get_attribute(
                "data-probability"
            ),
            "shown": r.find_element(By.CSS_SELECTOR, "td.probability").text,
            "dash": r.find_element(By.CSS_SELECTOR, "td.dash").text,
            "reasons": r.find_element(By.CSS_SELECTOR, "td.reasons").text,
            "status": r.find_element(By.CSS_SELECTOR, "td.status").text,
        }
        for r in rows
    ]


def test_a_wrong_key_is_refused_in_the_browser(page: Any, service: Service) -> None:
    page.get(service.url + "/ui/queue")
    _wait_for_url(page, "/login")
    _sign_in(page, "trk.000000000000.a-wrong-secret")
    assert page.find_element(By.ID, "login-error").text == MESSAGE_LOGIN_REFUSED
    assert page.find_element(By.ID, "api_key").get_attribute("value") == ""
    assert "a-wrong-secret" not in page.page_source
    assert page.get_cookie(SESSION_COOKIE) is None or "key_id" not in str(
        page.get_cookie(SESSION_COOKIE)
    )
    page.get(service.url + "/ui/queue")
    _wait_for_url(page, "/login")


def test_a_reviewer_reads_the_queue_reviews_an_incident_and_signs_out(
    page: Any, service: Service
) -> None:
    grades = {r["incident_id"]: r["dash_grade"] for r in day_batch(8, DAY)["incidents"]}
    page.get(service.url + "/ui/queue")
    _wait_for_url(page, "/login?next=/ui/queue")
    _sign_in(page, service.keys["reviewer"])
    _wait_for_url(page, "/ui/queue")
    cookie = page.get_cookie(SESSION_COOKIE)
    assert cookie["httpOnly"] is True
    assert cookie["secure"] is True
    assert cookie["sameSite"] == "Strict"

    # choose the day and capacity with the page's own form
    page.execute_script("arguments[0].value = arguments[1]", page.find_element(By.ID, "date"), DAY)
    capacity = page.find_element(By.ID, "capacity")
    capacity.clear()
    capacity.send_keys("3")
    _submit(page, "queue-form")
    _wait_for_url(page, f"date={DAY}")
    assert DISCLAIMER in page.find_element(By.ID, "disclaimer").text
    rows = _queue_rows(page)
    assert [r["rank"] for r in rows] == [str(i) for i in range(1, 9)]
    probabilities = [float(r["probability"]) for r in rows]
    assert probabilities == sorted(probabilities, reverse=True)
    assert {r["id"]: r["dash"] for r in rows} == grades
    assert all(r["shown"].endswith("%") for r in rows)
    assert rows[0]["reasons"].startswith("Raises:")
    assert {r["status"] for r in rows} == {"Not reviewed"}
    assert "Capacity of 3 reached" in page.find_element(By.ID, "queue").text

    # open the second-ranked incident and record a review with an override
    chosen = rows[1]["id"]
    page.find_element(By.LINK_TEXT, chosen).click()
    _wait_for_url(page, f"/ui/incidents/{chosen}")
    assert page.find_element(By.ID, "dash").text == grades[chosen]
    assert page.find_element(By.ID, "probability").text == rows[1]["shown"]
    assert DISCLAIMER in page.find_element(By.ID, "disclaimer").text
    page.find_element(By.ID, "decision-safeguarding_action").click()
    page.find_element(By.CSS_SELECTOR, "#override_band option[value=high]").click()
    page.find_element(By.ID, "note").send_keys("SHARED-WITH-CHILDRENS-SERVICES")
    _submit(page, "review-form")
    _wait_for_url(page, f"/ui/incidents/{chosen}")
    assert page.find_element(By.ID, "flash").text == "Review recorded: Safeguarding action."
    reviews = page.find_elements(By.CSS_SELECTOR, "#reviews tr.review td.decision")
    assert [r.text for r in reviews] == ["Safeguarding action"]
    assert "SHARED-WITH-CHILDRENS-SERVICES" not in page.page_source

    # the queue shows it reviewed, and the audit log holds the review
    page.find_element(By.PARTIAL_LINK_TEXT, "Queue for").click()
    _wait_for_url(page, "/ui/queue")
    status = {r["id"]: r["status"] for r in _queue_rows(page)}
    assert status[chosen] == "Safeguarding action"
    with service.store.session() as s:
        entries = audit_log.entries(s, limit=1000)
    mine = [e for e in entries if e.key_id == service.key_ids["reviewer"]]
    review = next(e for e in mine if e.action == "review")
    assert review.incident_ids == (chosen,)
    assert review.model_version == "stub/1"
    assert review.detail["decision"] == "safeguarding_action"
    assert ("incident.read", (chosen,)) in [(e.action, e.incident_ids) for e in mine]
    assert service.store.verify_audit_log().ok

    # sign out: every page sends the browser back to sign in
    _submit(page, "signout-form")
    _wait_for_url(page, "/login?signed_out=true")
    for path in ("/ui/queue", f"/ui/incidents/{chosen}", "/ui/audit-log"):
        page.get(service.url + path)
        _wait_for_url(page, "/login")


def test_an_auditor_reads_the_review_in_the_audit_log_page(page: Any, service: Service) -> None:
    with service.client("reviewer") as c:
        assert c.post("/incidents/d004/review", json={"decision": "monitor"}).status_code == 201
    page.get(service.url + "/login")
    _sign_in(page, service.keys["auditor"])
    _wait_for_url(page, "/ui/audit-log")
    actions = [
        (r.get_attribute("data-action"), r.find_element(By.CSS_SELECTOR, "td.key").text)
        for r in page.find_elements(By.CSS_SELECTOR, "#audit tr.entry")
    ]
    assert ("review", service.key_ids["reviewer"]) in actions
    page.find_element(By.LINK_TEXT, "Model reports").click()
    _wait_for_url(page, "/ui/models")
    page.find_element(By.LINK_TEXT, "v1").click()
    _wait_for_url(page, "/ui/models/serious_harm_365d/1")
    metrics = page.find_element(By.ID, "metrics").text
    assert "ROC AUC" in metrics
    assert "0.710" in metrics  # the stub's logged AUC, under its name in words
    assert "pooled_model_roc_auc" not in metrics
    page.get(service.url + "/ui/queue")
    assert "may not open this page" in page.find_element(By.ID, "problem").text
