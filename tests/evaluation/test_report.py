"""The HTML and JSON evaluation report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from evaluation_support import random_validation

from triage.evaluation import Evaluation, evaluate, evaluation_json, write_evaluation_report


@pytest.fixture(scope="module")
def ev() -> Evaluation:
    v = random_validation()
    truth = pd.DataFrame({"incident_id": v["incident_id"], "p_x": v["score_model"] ** 0.9})
    return evaluate(v, label="x", capacity=3, truth=truth)


def test_report_writes_html_with_summary_first_and_embedded_images(
    ev: Evaluation, tmp_path: Path
) -> None:
    html_path, json_path = write_evaluation_report(ev, tmp_path / "out", prior_formula="a + b")
    assert (html_path.name, json_path.name) == ("evaluation.html", "evaluation.json")
    html = html_path.read_text(encoding="utf-8")
    h = ev.headline()
    summary = html.index("<h2>Summary</h2>")
    assert summary < html.index("<img")  # plain words before any figure or table
    assert summary < html.index("<table")
    assert "The model was tested on <strong>600 incidents</strong>" in html
    word = "more" if h["found_more"] >= 0 else "fewer"
    assert f"{abs(h['found_more']) * 100:.0f}% {word} escalations than DASH" in html
    assert "same flag rate as DASH" in html
    assert "true risk would score" in html
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 6
    assert all(len(img) > 1000 for img in images)
    assert "it never\nreplaces it" in html or "it never replaces it" in html


def test_report_json_holds_the_same_numbers(ev: Evaluation, tmp_path: Path) -> None:
    _, json_path = write_evaluation_report(ev, tmp_path, extra={"run": {"seed": 0}})
    data = json.loads(json_path.read_text())
    assert data["run"] == {"seed": 0}
    assert data["headline"] == json.loads(json.dumps(evaluation_json(ev)["headline"]))
    pooled = next(r for r in data["metrics"] if r["split"] == "pooled" and r["scorer"] == "model")
    assert pooled["roc_auc"] == pytest.approx(ev.pooled("model")["roc_auc"])


def test_report_escapes_text_it_is_given(ev: Evaluation, tmp_path: Path) -> None:
    html_path, _ = write_evaluation_report(ev, tmp_path, label_description="<script>x</script>")
    html = html_path.read_text()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_report_without_truth_leaves_out_the_oracle(tmp_path: Path) -> None:
    ev = evaluate(random_validation(), label="x", capacity=3)
    html_path, json_path = write_evaluation_report(ev, tmp_path, stem="plain")
    assert html_path.name == "plain.html"
    assert "true risk would score" not in html_path.read_text()
    assert "oracle" not in json.loads(json_path.read_text())
