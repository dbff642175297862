"""Per-rule alert figures on out-of-time rows: equal to a direct count on a small
synthetic county, shown in the evaluation report and logged with the run."""

from __future__ import annotations

import json
from collections import defaultdict
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from synth_support import small_world

from triage.config import load_model_spec
from triage.evaluation import evaluate, evaluation_html, evaluation_json, write_evaluation_report
from triage.evaluation.alert_figures import (
    ALERT_FIGURE_COLUMNS,
    AlertEvaluation,
    alert_figures,
    with_alert_figures,
)
from triage.exceptions import ConfigError
from triage.features import build_labels
from triage.features.alerts import build_alerts, load_alert_spec
from triage.pipeline import run_metrics

SPEC = load_alert_spec()
LABEL = "serious_harm_365d"


@cache
def _validation() -> pd.DataFrame:
    """The last year of the small county with a known label, as two test periods, with
    made-up scores (the figures do not read them)."""
    extract = small_world().extract
    labels = build_labels(extract, load_model_spec().labels)
    known = labels[labels[LABEL].notna()]
    rows = known[known["reported_at"] >= known["reported_at"].max() - pd.Timedelta(days=365)]
    grades = extract.incidents.set_index("incident_id")["dash_grade"].astype(str)
    rng = np.random.default_rng(0)
    n = len(rows)
    return pd.DataFrame(
        {
            "incident_id": rows["incident_id"].astype(str).to_numpy(),
            "reported_at": rows["reported_at"].to_numpy(),
            "split": np.where(np.arange(n) < n // 2, 1, 2),
            "y": rows[LABEL].astype(int).to_numpy(),
            "dash_grade": grades.loc[rows["incident_id"].astype(str)].to_numpy(),
            **{f"score_{s}": rng.random(n) for s in ("model", "logistic", "dash", "prior")},
        }
    )


def test_the_figures_equal_a_direct_count_on_a_small_county() -> None:
    extract, validation = small_world().extract, _validation()
    # the direct count asks the engine online: only these incidents, each as of its time
    online = build_alerts(
        extract, extract.incidents[extract.incidents["incident_id"].isin(validation["incident_id"])]
    )
    rules_of: dict[str, set[str]] = defaultdict(set)
    for row in online.itertuples():
        rules_of[row.incident_id].add(row.rule)
    figures = alert_figures(validation, build_alerts(extract), SPEC).set_index("rule")
    assert list(figures.index) == [r.name for r in SPEC.alerts]
    ys = list(zip(validation["incident_id"], validation["y"], strict=True))
    positives = sum(y for _, y in ys)
    for rule in SPEC.alerts:
        with_it = [y for i, y in ys if rule.name in rules_of[i]]
        without = [y for i, y in ys if rule.name not in rules_of[i]]
        assert with_it, f"{rule.name} never fires on the test rows: the check would be empty"
        got = figures.loc[rule.name]
        assert got["title"] == rule.title
        assert (got["n"], got["fired"], got["positives"]) == (len(ys), len(with_it), positives)
        assert got["fire_rate"] == pytest.approx(len(with_it) / len(ys))
        assert got["rate_with"] == pytest.approx(sum(with_it) / len(with_it))
        assert got["rate_without"] == pytest.approx(sum(without) / len(without))
        assert got["preceded"] == sum(with_it)
        assert got["preceded_share"] == pytest.approx(sum(with_it) / positives)


def test_a_rule_that_never_fires_has_no_rate_with_it() -> None:
    validation = pd.DataFrame({"incident_id": ["a", "b", "c", "d"], "y": [1, 0, 0, 1]})
    alerts = pd.DataFrame({"incident_id": ["a", "b"], "rule": ["order_breach"] * 2})
    figures = alert_figures(validation, alerts, SPEC).set_index("rule")
    breach, stalking = figures.loc["order_breach"], figures.loc["possible_stalking"]
    assert (breach["fired"], breach["rate_with"], breach["rate_without"]) == (2, 0.5, 0.5)
    assert breach["preceded_share"] == 0.5
    assert stalking["fired"] == 0
    assert np.isnan(stalking["rate_with"])
    assert stalking["rate_without"] == 0.5
    assert stalking["preceded_share"] == 0.0


def test_a_validation_frame_without_the_label_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"lacks the columns \['y'\]"):
        alert_figures(pd.DataFrame({"incident_id": ["a"]}), pd.DataFrame(), SPEC)


def test_the_report_shows_the_table_and_the_run_logs_the_figures(tmp_path: Path) -> None:
    plain = evaluate(_validation(), label=LABEL, capacity=5)
    assert "Course-of-conduct alerts" not in evaluation_html(plain)
    ev = with_alert_figures(plain, small_world().extract)
    assert isinstance(ev, AlertEvaluation)
    assert ev.metrics is plain.metrics
    assert ev.label == LABEL
    html = evaluation_html(ev)
    table = html[html.index('<table id="alert-figures">') :]
    table = table[: table.index("</table>")]
    for row in ev.alerts.itertuples():
        assert row.title in table
        assert f"<td>{100 * row.fire_rate:.1f}%</td>" in table
    data = evaluation_json(ev)
    assert [r["rule"] for r in data["alerts"]] == [r.name for r in SPEC.alerts]
    assert set(data["alerts"][0]) == set(ALERT_FIGURE_COLUMNS)
    logged = run_metrics(ev)
    for row in ev.alerts.itertuples():
        assert logged[f"headline_alert_{row.rule}_fire_rate"] == pytest.approx(row.fire_rate)
        assert logged[f"headline_alert_{row.rule}_preceded_share"] == pytest.approx(
            row.preceded_share
        )
    _, js = write_evaluation_report(ev, tmp_path)
    assert json.loads(js.read_text())["alerts"] == data["alerts"]
