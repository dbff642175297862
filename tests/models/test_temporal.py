"""Temporal splits: no training label window crosses its as-of date, test rows sit in
their span, and the docstring's worked example holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.config import LabelSpec, SplitSpec
from triage.exceptions import ConfigError, LeakageError
from triage.models.temporal import Split, TemporalPlan, check_no_leakage, make_splits, plot_plan

LABEL = LabelSpec(name="y", window_days=365, match=("victim",), types="serious")
EXAMPLE_END = pd.Timestamp("2024-12-31 18:00", tz="UTC")


def _labels(
    times: pd.DatetimeIndex, end: pd.Timestamp, seed: int = 0, window: int = 365
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    observed = times + pd.Timedelta(days=window) <= end
    values = pd.array(np.where(observed, rng.random(len(times)) < 0.2, False), dtype="boolean")
    values[~observed] = pd.NA
    return pd.DataFrame(
        {"incident_id": [f"i{k}" for k in range(len(times))], "reported_at": times, "y": values}
    )


def _daily(start: str, end: pd.Timestamp) -> pd.DatetimeIndex:
    return pd.date_range(pd.Timestamp(start, tz="UTC"), end, freq="13h")


def test_worked_example_of_the_module_docstring() -> None:
    labels = _labels(_daily("2019-01-01", EXAMPLE_END), EXAMPLE_END)
    plan = make_splits(labels, LABEL, SplitSpec(n_splits=3, step_days=182, test_span_days=182))
    as_ofs = [s.as_of.strftime("%Y-%m-%d") for s in plan.splits]
    assert as_ofs == ["2022-07-04", "2023-01-02", "2023-07-03"]
    latest = plan.splits[-1]
    assert latest.test_end == pd.Timestamp("2024-01-01", tz="UTC")
    assert labels["reported_at"].iloc[latest.train].max() <= pd.Timestamp("2022-07-03", tz="UTC")
    final_times = labels["reported_at"].iloc[plan.final]
    assert final_times.max() <= pd.Timestamp("2024-01-01 18:00", tz="UTC")
    assert len(plan.final) == int(labels["y"].notna().sum())


@settings(max_examples=50, deadline=None)
@given(
    n_splits=st.integers(1, 4),
    step=st.integers(30, 200),
    span=st.integers(30, 200),
    window=st.sampled_from([30, 90, 365]),
    seed=st.integers(0, 10),
)
def test_no_training_label_window_crosses_its_split(
    n_splits: int, step: int, span: int, window: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    end = pd.Timestamp("2024-06-30 12:34", tz="UTC")
    offsets = rng.integers(0, 6 * 365 * 86400, 4000)
    times = pd.DatetimeIndex(end - pd.to_timedelta(np.sort(offsets)[::-1], unit="s"))
    label = LABEL.model_copy(update={"window_days": window})
    labels = _labels(times, end, seed, window)
    observed = times + pd.Timedelta(days=window) <= end
    plan = make_splits(
        labels, label, SplitSpec(n_splits=n_splits, step_days=step, test_span_days=span)
    )
    reported = labels["reported_at"]
    assert [s.number for s in plan.splits] == list(range(1, n_splits + 1))
    assert all(a.as_of < b.as_of for a, b in zip(plan.splits, plan.splits[1:], strict=False))
    for split in plan.splits:
        assert (reported.iloc[split.train] + pd.Timedelta(days=window) <= split.as_of).all()
        test = reported.iloc[split.test]
        assert ((test >= split.as_of) & (test < split.as_of + pd.Timedelta(days=span))).all()
        assert labels["y"].iloc[split.test].notna().all()
        # every eligible row is used: nothing silently dropped
        eligible = observed & (reported + pd.Timedelta(days=window) <= split.as_of)
        assert len(split.train) == int(eligible.sum())
    assert len(plan.final) == int(observed.sum())


def test_a_split_without_training_rows_is_refused_with_advice() -> None:
    end = pd.Timestamp("2021-06-01", tz="UTC")
    labels = _labels(_daily("2020-01-01", end), end, window=30)
    short = LABEL.model_copy(update={"window_days": 30})
    with pytest.raises(ConfigError, match=r"split 1 .* no training rows.*fewer splits"):
        make_splits(labels, short, SplitSpec(n_splits=3, step_days=300, test_span_days=30))


def test_leakage_check_catches_a_training_row_from_the_future() -> None:
    end = EXAMPLE_END
    labels = _labels(_daily("2019-01-01", end), end)
    plan = make_splits(labels, LABEL, SplitSpec(n_splits=1))
    split = plan.splits[0]
    leaky = Split(
        split.number,
        split.as_of,
        split.test_end,
        np.append(split.train, split.test[:1]),
        split.test,
    )
    with pytest.raises(LeakageError, match="closing after the as-of date"):
        check_no_leakage(
            TemporalPlan(plan.label, plan.window_days, plan.end, (leaky,), plan.final), labels
        )
    censored = np.flatnonzero(labels["y"].isna().to_numpy())[:1]
    with pytest.raises(LeakageError, match="censored"):
        check_no_leakage(
            TemporalPlan(
                plan.label, plan.window_days, plan.end, plan.splits, np.append(plan.final, censored)
            ),
            labels,
        )


def test_summary_and_timeline_picture(tmp_path: Path) -> None:
    labels = _labels(_daily("2019-01-01", EXAMPLE_END), EXAMPLE_END)
    plan = make_splits(labels, LABEL, SplitSpec())
    summary = plan.summary(labels)
    assert summary["split"].tolist() == ["1", "2", "3", "final"]
    assert (summary["train_rows"].iloc[:3].diff().dropna() > 0).all()
    assert summary["train_rate"].between(0, 1).all()
    fig = plot_plan(plan, labels)
    out = tmp_path / "splits.png"
    fig.savefig(out)
    assert out.read_bytes()[:4] == b"\x89PNG"
