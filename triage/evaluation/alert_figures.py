"""How each course-of-conduct alert bears on the label, on the out-of-time rows of the
evaluation (docs/architecture.md §7): an alert is only worth a reviewer's attention if
the incidents it fires on escalate more often than the rest.

Per rule, over the validation rows pooled across the splits (the rows the pooled
metrics use; an incident in two test periods counts twice, as there):

* ``fired``, ``fire_rate``: rows the alert fires on, and their share of all rows;
* ``rate_with``, ``rate_without``: the label's positive rate among the rows it fires
  on and among the others (empty groups: NaN);
* ``preceded``, ``preceded_share``: positives it fired on, and their share of all
  positives: escalations the alert flagged before they happened.

Alerts are built point-in-time from the whole extract
(:func:`triage.features.alerts.build_alerts`), so the figure of an incident uses only
records reported before it, as the reviewer would have seen them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from triage.contract.names import Extract
from triage.evaluation.metrics import Evaluation, _records
from triage.exceptions import ConfigError
from triage.features.alert_spec import AlertSpec, load_alert_spec
from triage.features.alerts import build_alerts

__all__ = [
    "ALERT_FIGURE_COLUMNS",
    "AlertEvaluation",
    "alert_figures",
    "alert_metrics",
    "with_alert_figures",
]

log = logging.getLogger(__name__)

ALERT_FIGURE_COLUMNS = (
    "rule",
    "title",
    "n",
    "fired",
    "fire_rate",
    "rate_with",
    "rate_without",
    "positives",
    "preceded",
    "preceded_share",
)
#: the figures logged as run metrics, ``alert_<rule>_<figure>``
_LOGGED = ("fire_rate", "rate_with", "rate_without", "preceded_share")


def _share(part: float, whole: float) -> float:
    return part / whole if whole else float("nan")


def alert_figures(validation: pd.DataFrame, alerts: pd.DataFrame, spec: AlertSpec) -> pd.DataFrame:
    """One row per rule of ``spec`` (in its order) with the figures of the module
    docstring, from validation rows (``incident_id``, ``y``) and
    :func:`~triage.features.alerts.build_alerts`' frame."""
    missing = [c for c in ("incident_id", "y") if c not in validation]
    if missing:
        raise ConfigError(f"the validation frame lacks the columns {missing}")
    ids = validation["incident_id"].astype(str).to_numpy()
    y = validation["y"].to_numpy(dtype=np.float64)
    rows = []
    for rule in spec.alerts:
        on = alerts.loc[alerts["rule"] == rule.name, "incident_id"].astype(str)
        fired = np.isin(ids, on.to_numpy())
        k, positives = int(fired.sum()), float(y.sum())
        rows.append(
            {
                "rule": rule.name,
                "title": rule.title,
                "n": len(y),
                "fired": k,
                "fire_rate": _share(k, len(y)),
                "rate_with": _share(float(y[fired].sum()), k),
                "rate_without": _share(float(y[~fired].sum()), len(y) - k),
                "positives": int(positives),
                "preceded": int(y[fired].sum()),
                "preceded_share": _share(float(y[fired].sum()), positives),
            }
        )
    return pd.DataFrame(rows, columns=list(ALERT_FIGURE_COLUMNS))


def alert_metrics(figures: pd.DataFrame) -> dict[str, float]:
    """Flat metric names, ``alert_<rule>_<figure>``, for the run's record (NaN left out)."""
    out: dict[str, float] = {}
    for row in figures.to_dict("records"):
        for name in _LOGGED:
            value = float(row[name])
            if not np.isnan(value):
                out[f"alert_{row['rule']}_{name}"] = value
    return out


@dataclass(frozen=True)
class AlertEvaluation(Evaluation):
    """An evaluation with the alert figures: the report shows them as a table, the
    JSON carries them as ``alerts``, and the headline (so the run's metrics) as
    ``alert_<rule>_<figure>``."""

    alerts: pd.DataFrame

    def headline(self) -> dict[str, Any]:
        return {**super().headline(), **alert_metrics(self.alerts)}

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "alerts": _records(self.alerts)}


def with_alert_figures(
    evaluation: Evaluation, extract: Extract, spec: AlertSpec | None = None
) -> AlertEvaluation:
    """``evaluation`` with the figures of ``spec``'s rules (default: the shipped
    ``features/alerts.yaml``) on its validation rows, alerts built from ``extract``."""
    spec = spec if spec is not None else load_alert_spec()
    figures = alert_figures(evaluation.validation, build_alerts(extract, spec=spec), spec)
    for row in figures.to_dict("records"):
        log.info(
            "alert %s: fires on %.1f%% of out-of-time rows; %s rate %.3f with it, %.3f without",
            row["rule"],
            100 * float(row["fire_rate"]),
            evaluation.label,
            float(row["rate_with"]),
            float(row["rate_without"]),
        )
    base = {f.name: getattr(evaluation, f.name) for f in fields(Evaluation)}
    return AlertEvaluation(**base, alerts=figures)
