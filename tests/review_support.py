"""Helpers for the reviewer-page tests: a busy day as a hub sees it at 8 am (60
incidents of mixed types, grades and households, one pair with a course of conduct
behind it), a service ranking both shipped queues, and headless Chromium."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from service_support import Row, Service, incident, people_for, start_service

from triage.service import StaticModels, Store, StubScorer

DAY = "2024-03-04"  # a Monday
EARLIER_DAY = "2024-03-01"
BUSY = 60
STALKED = "q-stalked"  # the day's incident with three earlier harassments of its pair
EARLIER_HARASSMENT = ("h-1", "h-2", "h-3")
TYPES = ("harassment", "common_assault", "criminal_damage", "assault_with_injury", "stalking")
GRADES = ("standard", "medium", "high", "not_completed")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SHOTS = Path("/tmp/pshots")
_ROW = re.compile(r'<tr class="incident (?:within|beyond)" data-incident-id="([^"]+)">')


def busy_day() -> dict[str, list[Row]]:
    """60 incidents on :data:`DAY`, each household its own (so no alert fires by
    accident), one earlier incident on :data:`EARLIER_DAY`, and a pair whose three
    harassments in February precede :data:`STALKED`."""
    rows = [
        incident(
            f"q{i:03d}",
            f"{DAY}T{6 + i // 5:02d}:{(i * 7) % 60:02d}:00Z",
            victim=f"qv{i}",
            perpetrator=None if i % 6 == 0 else f"qp{i}",
            incident_type=TYPES[i % len(TYPES)],
            injury=i % 3 == 0,
            strangulation=i % 7 == 0,
            weapon=i % 11 == 0,
            children_present=i % 4 == 1,
            dash_grade=GRADES[(i // 2) % len(GRADES)],
        )
        for i in range(BUSY - 1)
    ]
    history = [
        incident(h, f"2024-02-{5 + 7 * n:02d}T21:00:00Z", victim="sv", perpetrator="sp")
        for n, h in enumerate(EARLIER_HARASSMENT)
    ]
    stalked = incident(
        STALKED, f"{DAY}T07:45:00Z", victim="sv", perpetrator="sp", children_present=True
    )
    earlier = incident("e-001", f"{EARLIER_DAY}T10:00:00Z", victim="ev", perpetrator="ep")
    everything = [*rows, stalked, *history, earlier]
    return {"incidents": everything, "people": people_for(everything)}


def both_queues() -> dict[str, StaticModels]:
    """Stand-in champions for both shipped queues' models."""
    return {
        "serious_harm_365d": StaticModels({1: StubScorer("harm/1")}, 1, name="harm"),
        "any_repeat_90d": StaticModels({1: StubScorer("repeat/1")}, 1, name="repeat"),
    }


@contextmanager
def busy_service(tmp: Path, models: Any = None) -> Iterator[Service]:
    """A running service on SQLite holding :func:`busy_day`, both queues served."""
    store = Store(f"sqlite:///{tmp / 'triage.db'}")
    store.create_schema()
    try:
        with start_service(store, tmp, models or both_queues()) as svc:
            with svc.client("ingest") as c:
                r = c.post("/incidents", json=busy_day())
                assert r.status_code == 200, r.text
            yield svc
    finally:
        store.dispose()


def row_ids(html: str) -> list[str]:
    """The incident ids of a queue page's rows, in the order shown."""
    return _ROW.findall(html)


def _unavailable(reason: str) -> None:
    """Skip locally; in CI a missing browser is a failure, never a silent skip."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


@contextmanager
def chromium(
    profile: Path, width: int = 1400, height: int = 1000, page_load_seconds: int = 30
) -> Iterator[Any]:
    """Headless Chromium (Debian's, with Debian's chromedriver: nothing downloaded)
    whose page area is ``width`` x ``height`` CSS pixels."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service as DriverService
    except ImportError:
        _unavailable("selenium is not installed (dev dependency group)")
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).is_file()]
    if missing:
        _unavailable(f"{' and '.join(missing)} not found: install chromium and chromium-driver")
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
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=DriverService(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(page_load_seconds)
    try:
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        yield driver
    finally:
        driver.quit()


def screenshot(driver: Any, name: str) -> Path:
    """Save what the browser shows to /tmp/pshots/NAME.png, to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
