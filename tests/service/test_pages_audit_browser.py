"""The auditor's desk in a real browser (headless Chromium at 1400x1000 against a real
uvicorn server and a real registry): an auditor signs in, lists the versions, opens a
version's fairness report and SHAP plots, compares two versions, filters the audit log
by kind and finds a promotion and a key revocation. No page scrolls sideways."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pages_audit_support import NAME, registry_service, two_versions
from review_support import chromium
from service_support import Service
from typer.testing import CliRunner

import triage.cli._service  # noqa: F401  (registers the commands)
from triage.cli import app
from triage.service.auth import Role, create_key

try:
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # reported by the fixture: a skip locally, a failure in CI
    pass

pytestmark = pytest.mark.xdist_group("audit-pages-registry")

WAIT = 60


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium, page area 1400x1000 (skipped locally without one, a
    failure in CI)."""
    with chromium(tmp_path_factory.mktemp("chromium-audit"), page_load_seconds=WAIT) as driver:
        yield driver


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    tracking = two_versions(tmp_path_factory)
    with registry_service(tmp_path_factory.mktemp("audit-browser"), tracking) as svc:
        yield svc


def _wait_for_url(driver: Any, fragment: str) -> None:
    WebDriverWait(driver, WAIT).until(ec.url_contains(fragment))


def _click(driver: Any, text: str) -> None:
    """Follow a link and wait for the next page to replace this one."""
    link = driver.find_element(By.LINK_TEXT, text)
    link.click()
    WebDriverWait(driver, WAIT, ignored_exceptions=(WebDriverException,)).until(
        ec.staleness_of(link)
    )


def _submit(driver: Any, form_id: str) -> None:
    form = driver.find_element(By.ID, form_id)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, WAIT, ignored_exceptions=(WebDriverException,)).until(
        ec.staleness_of(form)
    )


def _fits(driver: Any) -> None:
    """The page is readable at 1400x1000 without scrolling sideways."""
    wide, seen = driver.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert wide <= seen, f"{driver.current_url} scrolls sideways ({wide} > {seen})"


def test_an_auditor_reads_reports_compares_and_finds_lifecycle_events(
    browser: Any, running: Service
) -> None:
    with running.store.session() as s:
        record, _ = create_key(s, Role.REVIEWER, "night desk")
    revoked = CliRunner().invoke(
        app, ["keys", "revoke", record.key_id, "--database-url", running.store.url]
    )
    assert revoked.exit_code == 0
    page = browser
    page.get(running.url + "/login")
    page.find_element(By.ID, "api_key").send_keys(running.keys["auditor"])
    _submit(page, "login-form")
    _wait_for_url(page, "/ui/audit-log")

    _click(page, "Model reports")
    rows = page.find_elements(By.CSS_SELECTOR, f"#versions-{NAME} tr.version")
    assert [r.get_attribute("data-version") for r in rows] == ["2", "1"]
    assert "champion" in rows[0].text
    _fits(page)

    _click(page, "v2")
    _wait_for_url(page, f"/ui/models/{NAME}/2")
    assert "Escalations in the daily top k" in page.find_element(By.ID, "metrics").text
    assert page.find_element(By.ID, "model-card").find_elements(By.TAG_NAME, "table")
    _fits(page)

    _click(page, "Fairness report")
    _wait_for_url(page, f"/ui/models/{NAME}/2/fairness")
    frame = page.find_element(By.ID, "report-frame")
    assert frame.get_attribute("sandbox") == ""
    _fits(page)
    page.switch_to.frame(frame)
    assert "Fairness audit" in page.find_element(By.TAG_NAME, "h1").text
    page.switch_to.default_content()

    _click(page, f"{NAME} v2")
    _click(page, "What drives the scores (SHAP)")
    _wait_for_url(page, f"/ui/models/{NAME}/2/shap")
    features = page.find_elements(By.CSS_SELECTOR, "#shap tr.feature")
    assert len(features) > 5
    first = features[0].find_element(By.TAG_NAME, "td").text
    assert "_" not in first  # a name in words, not a feature code
    plot = page.find_element(By.CSS_SELECTOR, "figure.shap img")
    assert page.execute_script("return arguments[0].naturalWidth", plot) > 0  # it loaded
    _fits(page)

    page.get(running.url + f"/ui/compare?model={NAME}")
    Select(page.find_element(By.ID, "a")).select_by_value("1")
    Select(page.find_element(By.ID, "b")).select_by_value("2")
    _submit(page, "compare-form")
    _wait_for_url(page, "a=1")
    assert "v1 against v2" in page.find_element(By.ID, "compare-heading").text
    assert "ROC AUC" in page.find_element(By.ID, "metric-changes").text
    assert "the same" in page.find_element(By.ID, "same-data").text
    assert "went to the same incidents" in page.find_element(By.ID, "overlap").text
    _fits(page)

    _click(page, "Audit log")
    Select(page.find_element(By.ID, "kind")).select_by_value("model")
    _submit(page, "audit-filters")
    _wait_for_url(page, "kind=model")
    models = page.find_elements(By.CSS_SELECTOR, "#audit tr.entry")
    assert {r.get_attribute("data-action") for r in models} <= {
        "model.load",
        "model.reload",
        "model.decision",
        "model.refused",
    }
    promoted = [r.text for r in models if r.get_attribute("data-action") == "model.decision"]
    assert any(f"promoted {NAME}/2 (champion before: v1)" in t for t in promoted)
    _fits(page)

    Select(page.find_element(By.ID, "kind")).select_by_value("key")
    _submit(page, "audit-filters")
    _wait_for_url(page, "kind=key")
    keys = page.find_elements(By.CSS_SELECTOR, "#audit tr.entry")
    assert [r.get_attribute("data-action") for r in keys] == ["key.revoked"]
    assert f"revoked key {record.key_id}" in keys[0].text
    assert "cli:" in keys[0].find_element(By.CSS_SELECTOR, "td.key").text
    _fits(page)
