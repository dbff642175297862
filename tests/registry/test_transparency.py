"""A version's transparency record (``triage.registry.transparency``): it validates
against the schema shipped in the package, every figure equals the version's logged
metric or logged fairness ratio, the force's missing fields are marked and never
invented, and the HTML shows no raw metric key and fits a 1400-pixel screen."""

from __future__ import annotations

import html as markup
import json
import math
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from registry_support import STRICT, audit_spec, fresh_registry, register_small
from review_support import chromium, screenshot

from triage.evaluation.metric_intervals import INTERVAL_METRICS
from triage.registry.audit import logged_fairness
from triage.registry.tracking import MlflowRegistry
from triage.registry.transparency import (
    NOT_PROVIDED,
    SCHEMA_FILE,
    ForceInfo,
    record_json,
    transparency_record,
)
from triage.registry.transparency_html import render_html, write_record

pytestmark = pytest.mark.xdist_group("registry-transparency")
NAME = "any_repeat_90d"
FORCE = ForceInfo(
    organisation="Exampleshire Police",
    contact="mash@example.police.uk",
    purpose="So that lower-graded incidents likely to escalate are reviewed sooner.",
    dpia_reference="DPIA-2026-014",
    other_assessments=("Ethics committee review, 2026-02-12",),
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> MlflowRegistry:
    """One version, audited strictly so that it carries fairness flags."""
    registry = fresh_registry(tmp_path_factory, "transparency-store")
    register_small(registry, tmp_path_factory.mktemp("transparency"), audit=audit_spec(**STRICT))
    return registry


@pytest.fixture(scope="module")
def record(store: MlflowRegistry) -> dict[str, Any]:
    return transparency_record(store, NAME, 1, FORCE, resamples=50)


def _or_none(x: float) -> float | None:
    """How the record writes a figure: a number, or null when there is none."""
    return None if math.isnan(x) else x


def test_the_record_validates_against_the_shipped_schema(record: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(json.loads(record_json(record)))
    broken = json.loads(record_json(record))
    del broken["tier_2"]["impact_assessments"]["dpia_reference"]
    with pytest.raises(jsonschema.ValidationError, match="dpia_reference"):
        jsonschema.Draft202012Validator(schema).validate(broken)


def test_every_figure_equals_the_logged_metric(
    store: MlflowRegistry, record: dict[str, Any]
) -> None:
    logged = store.version(NAME, 1).metrics
    perf = record["tier_2"]["performance"]
    figures = perf["model"] + perf["baselines"]
    assert {f["key"] for f in perf["model"]} >= {"pooled_model_roc_auc", "headline_model_npe"}
    for f in figures:
        assert f["value"] == logged[f["key"]], f["key"]
        if f["low"] is not None:
            assert f["low"] <= f["value"] <= f["high"], f["key"]
    with_interval = [f["key"] for f in perf["model"] if f["low"] is not None]
    # all but NPE, which needs the DASH grade, and ECE (see INTERVAL_METRICS)
    assert set(with_interval) == {f"pooled_model_{m}" for m in INTERVAL_METRICS}
    report = logged_fairness(store, NAME, 1)
    ratios = {d.name: d for d in report.iter_disparities()}
    fairness = record["tier_2"]["fairness"]
    assert fairness["gate_answer"] == report.gate_answer == "flagged"
    assert fairness["disparities"]
    for d in fairness["disparities"]:
        got = ratios[d["key"]]
        assert (d["ratio"], d["low"], d["high"], d["status"]) == (
            _or_none(got.ratio),
            _or_none(got.low),
            _or_none(got.high),
            got.status,
        )
    assert set(fairness["flags"]) == set(report.flags)


def test_force_fields_come_from_the_force_or_are_marked_missing(record: dict[str, Any]) -> None:
    assert record["tier_1"]["organisation"] == "Exampleshire Police"
    assert record["tier_2"]["impact_assessments"]["dpia_reference"] == "DPIA-2026-014"
    missing = record["missing_force_fields"]
    assert set(missing) == {
        "team",
        "senior_responsible_owner",
        "phase",
        "human_oversight",
        "equality_impact_assessment",
    }
    owner = record["tier_2"]["owner_and_responsibility"]
    assert owner["senior_responsible_owner"] == NOT_PROVIDED
    assert record["tier_2"]["impact_assessments"]["equality_impact_assessment"] == NOT_PROVIDED
    uses = {p["attribute"]: p["use"] for p in record["tier_2"]["data"]["protected_characteristics"]}
    assert uses["victim_sex"].startswith("used only to audit")


def test_a_record_without_force_fields_invents_none(store: MlflowRegistry) -> None:
    bare = transparency_record(store, NAME, 1, resamples=20)
    assert len(bare["missing_force_fields"]) == 9
    text = record_json(bare)
    assert "Exampleshire" not in text
    assert bare["tier_1"]["contact"] == NOT_PROVIDED


def test_the_html_shows_no_raw_metric_key_and_fits_the_screen(
    record: dict[str, Any], tmp_path: Path
) -> None:
    js, html_path = write_record(record, tmp_path / "record")
    assert json.loads(js.read_text()) == json.loads(record_json(record))
    html = html_path.read_text()
    assert html == render_html(record)
    text = markup.unescape(html)
    for f in record["tier_2"]["performance"]["model"]:
        assert f["key"] not in html
        assert f["title"] in text
    assert not re.search(r"pooled_|headline_|victim_sex:|_roc_auc", html)
    assert html.count('class="missing"') >= 5
    with chromium(tmp_path / "profile") as driver:
        driver.get(html_path.as_uri())
        width = driver.execute_script("return document.documentElement.scrollWidth")
        assert width <= 1400
        screenshot(driver, "transparency-record")
