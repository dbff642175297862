"""Evaluation of escalation models (docs/architecture.md §7, §8): out-of-time metrics of the model
and its baselines (:mod:`~triage.evaluation.metrics`) and the HTML/JSON evaluation
report (:mod:`~triage.evaluation.report`). Explanations and the fairness audit live
in their own modules of this package.
"""

from triage.evaluation.metrics import (
    DEFAULT_BINS,
    Evaluation,
    capacity_weights,
    evaluate,
    expected_calibration_error,
    flag_comparison,
    reliability_table,
    top_n_weights,
)
from triage.evaluation.report import (
    evaluation_html,
    evaluation_json,
    render_template,
    write_evaluation_report,
)

__all__ = [
    "DEFAULT_BINS",
    "Evaluation",
    "capacity_weights",
    "evaluate",
    "evaluation_html",
    "evaluation_json",
    "expected_calibration_error",
    "flag_comparison",
    "reliability_table",
    "render_template",
    "top_n_weights",
    "write_evaluation_report",
]
