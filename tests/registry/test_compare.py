"""Comparing two registered versions (``triage.registry.compare``, ``triage compare``):
metric changes with bootstrap intervals, flags, data and the overlap of their daily
queues, on small versions in a real MLflow store (docs/architecture.md §10)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from registry_support import (
    LENIENT,
    STRICT,
    audit_spec,
    fresh_registry,
    register_small,
    register_world,
)
from typer.testing import CliRunner

from triage.cli import app
from triage.evaluation.metric_intervals import INTERVAL_METRICS, Scored, metric_intervals
from triage.registry.audit import AUDIT_PREDICTIONS, SCORE
from triage.registry.compare import METRIC_TITLES, compare
from triage.registry.tracking import AUDIT_PATH, MlflowRegistry

pytestmark = pytest.mark.xdist_group("registry-compare")
runner = CliRunner(env={"COLUMNS": "220"})
NAME = "any_repeat_90d"
CAPACITY = 2
WITH_INTERVAL = {f"pooled_model_{m}" for m in INTERVAL_METRICS}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> MlflowRegistry:
    """v1 and v2: the same data, two seeds (v1 audited strictly: flags); v3: another
    world."""
    registry = fresh_registry(tmp_path_factory, "compare-store")
    folder = tmp_path_factory.mktemp("compare")
    register_small(registry, folder, audit=audit_spec(**STRICT))
    register_small(registry, folder, audit=audit_spec(**LENIENT), seed=1)
    register_world(registry, folder, 8, audit=audit_spec(**LENIENT))
    return registry


def _predictions(registry: MlflowRegistry, version: int, dst: Path) -> pd.DataFrame:
    folder = registry.download_artifact(NAME, version, AUDIT_PATH, dst / f"v{version}")
    return pd.read_parquet(folder / AUDIT_PREDICTIONS)


def _reviewed(scores: np.ndarray) -> np.ndarray:
    """Each incident's chance of a place in the day's top k under a random tie-break."""
    if len(scores) <= CAPACITY:
        return np.ones(len(scores))
    cut = np.sort(scores)[::-1][CAPACITY - 1]
    above, tied = scores > cut, scores == cut
    return np.where(above, 1.0, np.where(tied, (CAPACITY - above.sum()) / tied.sum(), 0.0))


def test_recomputed_metrics_equal_the_logged_ones(store: MlflowRegistry, tmp_path: Path) -> None:
    info = store.version(NAME, 1)
    scored = Scored.of(_predictions(store, 1, tmp_path), capacity=CAPACITY, score=SCORE)
    intervals = metric_intervals(scored, resamples=50)
    for metric in INTERVAL_METRICS:
        got = intervals[metric]
        assert got.value == pytest.approx(info.metrics[f"pooled_model_{metric}"], rel=1e-9)
        assert got.low <= got.value <= got.high, metric
        assert got.low < got.high, metric


def test_metric_changes_carry_paired_intervals_and_the_logged_figures(
    store: MlflowRegistry,
) -> None:
    c = compare(store, NAME, 1, 2, resamples=50)
    a, b = store.version(NAME, 1), store.version(NAME, 2)
    assert c.same_data is True
    assert c.paired
    assert [m.key for m in c.metrics] == list(METRIC_TITLES)
    assert set(METRIC_TITLES) > WITH_INTERVAL
    assert "pooled_model_ece" not in WITH_INTERVAL
    for m in c.metrics:
        assert (m.before, m.after) == (a.metrics[m.key], b.metrics[m.key])
        if m.key in WITH_INTERVAL:
            assert m.low <= m.high, m.key
            assert m.low <= m.delta + 1e-12, m.key
            assert m.delta - 1e-12 <= m.high, m.key
        else:  # NPE needs the DASH grade; ECE's percentile interval is biased
            assert math.isnan(m.low)
            assert math.isnan(m.high)
    auc = next(m for m in c.metrics if m.key == "pooled_model_roc_auc")
    assert auc.low < auc.high


def test_queue_overlap_is_the_share_of_daily_top_k_places_in_common(
    store: MlflowRegistry, tmp_path: Path
) -> None:
    c = compare(store, NAME, 1, 2, resamples=10)
    assert c.overlap is not None
    first, second = _predictions(store, 1, tmp_path), _predictions(store, 2, tmp_path)
    days = first["reported_at"].dt.strftime("%Y-%m-%d")
    common = places = 0.0
    lowest = 1.0
    for _, rows in first.groupby(days):
        wa = _reviewed(rows[SCORE].to_numpy())
        wb = _reviewed(second.loc[rows.index, SCORE].to_numpy())
        common += float(np.minimum(wa, wb).sum())
        places += float(wa.sum())
        lowest = min(lowest, float(np.minimum(wa, wb).sum() / wa.sum()))
    assert c.overlap.days == days.nunique()
    assert c.overlap.capacity == CAPACITY
    assert c.overlap.places == pytest.approx(places)
    assert c.overlap.common == pytest.approx(common)
    assert c.overlap.lowest == pytest.approx(lowest)
    assert 0.0 < c.overlap.share < 1.0


def test_a_version_compared_with_itself_agrees_everywhere(store: MlflowRegistry) -> None:
    c = compare(store, NAME, 1, 1, resamples=10)
    assert c.overlap is not None
    assert c.overlap.share == pytest.approx(1.0)
    assert c.raised == c.cleared == c.no_longer_judged == ()
    for m in c.metrics:
        if m.key in WITH_INTERVAL:
            assert (m.delta, m.low, m.high) == (0.0, 0.0, 0.0)


def test_versions_on_different_data_get_no_overlap_and_unpaired_intervals(
    store: MlflowRegistry,
) -> None:
    c = compare(store, NAME, 2, 3, resamples=20)
    assert c.same_data is False
    assert not c.paired
    assert c.overlap is None
    assert "different incidents" in c.overlap_note
    auc = next(m for m in c.metrics if m.key == "pooled_model_roc_auc")
    assert auc.low < auc.delta < auc.high
    assert all(" " in m.title and "_" not in m.title for m in c.metrics)
    assert all("_" not in d.title.split(":")[-1] for d in c.disparities)


def test_the_command_prints_intervals_flags_and_queue_overlap(store: MlflowRegistry) -> None:
    c = compare(store, NAME, 1, 2)
    result = runner.invoke(
        app, ["compare", "1", "2", "--model", NAME, "--tracking-uri", store.tracking_uri]
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "95% interval of the change" in out
    auc = next(m for m in c.metrics if m.key == "pooled_model_roc_auc")
    line = next(r for r in out.splitlines() if "pooled ROC AUC" in r)
    assert f"{auc.low:+.4f} to {auc.high:+.4f}" in line
    assert c.overlap is not None
    assert (
        f"queue overlap: {c.overlap.share:.1%} of the daily top {CAPACITY} places went to the "
        f"same incidents over {c.overlap.days} days"
    ) in out
    assert set(c.cleared) >= set(store.version(NAME, 1).tags["fairness.flags"].split(","))
    result = runner.invoke(
        app, ["compare", "2", "3", "--model", NAME, "--tracking-uri", store.tracking_uri]
    )
    assert result.exit_code == 0, result.output
    assert "queue overlap: not computed: the versions were validated on different" in (
        " ".join(result.output.split())
    )
    assert np.isfinite(auc.delta)
