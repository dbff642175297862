"""As-of dates and temporal splits (docs/architecture.md §6), in timechop's vocabulary: the
*knowledge date* of a record is its ``reported_at``; a label's *label timespan* is
its window; a split's *as-of date* is the instant the model would have been trained.
This module owns the rule that no training label may be read from the future.

Worked example. An extract's last record is reported at 2024-12-31 18:00 UTC (its
end). The label is ``serious_harm_365d`` (timespan 365 days) and the spec says
``n_splits: 3, step_days: 182, test_span_days: 182``.

* The latest as-of date is the end minus the label timespan minus the test span,
  floored to midnight: 2024-12-31 18:00 - 547 days -> **2023-07-03**. Its test rows
  are the incidents reported in [2023-07-03, 2024-01-01); each one's label window
  closes by 2024-12-31, so all are observed. Its training rows are the incidents
  whose label window closes by the as-of date, ``reported_at + 365 days <=
  2023-07-03``: those reported by 2022-07-03 00:00.
* The earlier splits step back 182 days each: **2023-01-02** (test [2023-01-02,
  2023-07-03), train reported by 2022-01-02) and **2022-07-04** (test [2022-07-04,
  2023-01-02), train reported by 2021-07-04).
* The final model trains on every incident with an observed label: reported by
  2024-01-01 18:00, i.e. ``reported_at + 365 days <= end``.

Between an as-of date and the newest training row lies a full label timespan: that
gap is the price of never training on an outcome that was unknown at the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.figure import Figure

from triage.config import LabelSpec, SplitSpec
from triage.exceptions import ConfigError, LeakageError
from triage.features.windows import to_ns

__all__ = ["Split", "TemporalPlan", "check_no_leakage", "make_splits", "plot_plan"]

Rows = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Split:
    """One validation split; ``train``/``test`` are row positions in the labels frame."""

    number: int  # 1 = oldest
    as_of: pd.Timestamp
    test_end: pd.Timestamp  # test rows are reported in [as_of, test_end)
    train: Rows
    test: Rows


@dataclass(frozen=True)
class TemporalPlan:
    """The splits of one label (oldest first) and the final model's training rows."""

    label: str
    window_days: int
    end: pd.Timestamp
    splits: tuple[Split, ...]
    final: Rows

    def summary(self, labels: pd.DataFrame) -> pd.DataFrame:
        """One row per split plus the final model: rows, periods and label rates."""
        reported = labels["reported_at"]
        values = labels[self.label]

        def describe(rows: Rows) -> tuple[int, Any, Any, float]:
            if not len(rows):
                return 0, pd.NaT, pd.NaT, float("nan")
            taken = reported.iloc[rows]
            return len(rows), taken.min(), taken.max(), float(values.iloc[rows].mean())

        records = []
        for split in (*self.splits, None):
            train = self.final if split is None else split.train
            n_train, train_from, train_to, train_rate = describe(train)
            n_test, _, _, test_rate = describe(
                np.empty(0, np.int64) if split is None else split.test
            )
            records.append(
                {
                    "split": "final" if split is None else str(split.number),
                    "as_of": self.end if split is None else split.as_of,
                    "train_rows": n_train,
                    "train_from": train_from,
                    "train_to": train_to,
                    "train_rate": train_rate,
                    "test_rows": n_test,
                    "test_from": pd.NaT if split is None else split.as_of,
                    "test_to": pd.NaT if split is None else split.test_end,
                    "test_rate": test_rate,
                }
            )
        return pd.DataFrame(records)


def _days(n: int) -> pd.Timedelta:
    return pd.Timedelta(days=n)


def make_splits(
    labels: pd.DataFrame,
    label: LabelSpec,
    spec: SplitSpec,
    *,
    end: pd.Timestamp | None = None,
) -> TemporalPlan:
    """Temporal splits of ``labels`` (a frame from :func:`triage.features.labels.build_labels`).

    ``end`` is the extract end the labels were censored at (default: the latest
    ``reported_at``). Raises ``ConfigError`` when a split would have no training or
    no test rows, naming the split, so the spec can be shortened.
    """
    reported = labels["reported_at"]
    observed = labels[label.name].notna().to_numpy()
    if end is None:
        end = reported.max()
    window = _days(label.window_days)
    latest = (end - window - _days(spec.test_span_days)).floor("D")
    as_ofs = [latest - _days(spec.step_days * k) for k in range(spec.n_splits)][::-1]
    times = to_ns(reported)
    splits = []
    for number, as_of in enumerate(as_ofs, start=1):
        test_end = as_of + _days(spec.test_span_days)
        train = np.flatnonzero(observed & (times + window.value <= as_of.value))
        test = np.flatnonzero(observed & (times >= as_of.value) & (times < test_end.value))
        for rows, what in ((train, "training"), (test, "test")):
            if not len(rows):
                raise ConfigError(
                    f"split {number} (as of {as_of:%Y-%m-%d}) has no {what} rows: the "
                    f"labelled incidents run from {reported.min():%Y-%m-%d} to "
                    f"{end:%Y-%m-%d}; use fewer splits or a shorter step or test span"
                )
        splits.append(Split(number, as_of, test_end, train.astype(np.int64), test.astype(np.int64)))
    plan = TemporalPlan(
        label.name, label.window_days, end, tuple(splits), np.flatnonzero(observed).astype(np.int64)
    )
    check_no_leakage(plan, labels)
    return plan


def check_no_leakage(plan: TemporalPlan, labels: pd.DataFrame) -> None:
    """Raise ``LeakageError`` if a training label window closes after its as-of date,
    a test row lies outside its span, or a censored row is used anywhere."""
    reported = labels["reported_at"]
    observed = labels[plan.label].notna().to_numpy()
    window = _days(plan.window_days)
    for split in plan.splits:
        late = reported.iloc[split.train] + window > split.as_of
        if late.any():
            raise LeakageError(
                f"split {split.number}: {int(late.sum())} training rows have label windows "
                f"closing after the as-of date {split.as_of}"
            )
        test_times = reported.iloc[split.test]
        outside = (test_times < split.as_of) | (test_times >= split.test_end)
        if outside.any():
            raise LeakageError(f"split {split.number}: test rows outside its test span")
    for rows in (plan.final, *(s.train for s in plan.splits), *(s.test for s in plan.splits)):
        if not observed[rows].all():
            raise LeakageError("a censored (unlabelled) incident is used for training or testing")


def plot_plan(plan: TemporalPlan, labels: pd.DataFrame) -> Figure:
    """A timeline: per split the training rows' period, the label gap and the test span."""
    from matplotlib.patches import Patch

    train_colour, gap_colour, test_colour = "#4c78a8", "#d9d9d9", "#f58518"
    summary = plan.summary(labels)
    fig = Figure(figsize=(9, 0.6 * len(summary) + 1.8))
    ax = fig.add_subplot()
    for y, row in enumerate(summary.to_dict("records")):
        if pd.notna(row["train_from"]):
            start, stop = row["train_from"], row["train_to"]
            ax.barh(y, stop - start, left=start, color=train_colour)
        if row["split"] != "final":
            as_of = row["as_of"]
            gap_start = as_of - _days(plan.window_days)
            ax.barh(y, as_of - gap_start, left=gap_start, color=gap_colour, hatch="//")
            ax.barh(y, row["test_to"] - as_of, left=as_of, color=test_colour)
    names = [s if s == "final" else f"split {s}" for s in summary["split"]]
    ax.set_yticks(range(len(summary)), names)
    ax.invert_yaxis()
    ax.set_title(f"Temporal splits for {plan.label} (label window {plan.window_days} days)")
    handles = [
        Patch(color=train_colour, label="training incidents"),
        Patch(facecolor=gap_colour, hatch="//", label="label window before the as-of date"),
        Patch(color=test_colour, label="test span"),
    ]
    ax.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, fontsize="small"
    )
    fig.tight_layout()
    return fig
