"""The evaluation report: one HTML page a non-programmer can read (plain-language
summary first, then figures and tables) and the same content as JSON.

Templates live in ``triage/evaluation/templates`` and extend ``_base.html.j2``;
other reports (fairness, model card) add their own templates and reuse
:func:`render_template` and :func:`~triage.evaluation.plots.figure_png_base64`.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from triage import __version__
from triage.evaluation import plots
from triage.evaluation.metrics import POOLED, Evaluation

__all__ = [
    "evaluation_html",
    "evaluation_json",
    "render_template",
    "write_atomic",
    "write_evaluation_report",
]

#: the metric columns of the report's tables: (key, title, format)
_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("n", "incidents", "num"),
    ("base_rate", "escalation rate", "pct"),
    ("mean_score", "mean score", "pct"),
    ("roc_auc", "ROC AUC", "f3"),
    ("average_precision", "AP", "f3"),
    ("brier", "Brier", "f4"),
    ("ece", "ECE", "f3"),
    ("log_loss", "log loss", "f3"),
    ("recall_at_k", "recall@k", "pct"),
    ("precision_at_k", "precision@k", "pct"),
)


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _num(x: Any) -> str:
    return "–" if _missing(x) else f"{float(x):,.0f}"


def _pct(x: Any) -> str:
    return "–" if _missing(x) else f"{100 * float(x):.1f}%"


def _f3(x: Any) -> str:
    return "–" if _missing(x) else f"{float(x):.3f}"


def _f2(x: Any) -> str:
    return "–" if _missing(x) else f"{float(x):.2f}"


def _f4(x: Any) -> str:
    return "–" if _missing(x) else f"{float(x):.4f}"


def _md_cell(x: Any) -> str:
    """Text for a Markdown table cell: no pipes or line breaks."""
    return " ".join(str(x).split()).replace("|", "\\|")


def _pct_change(x: Any) -> str:
    if _missing(x):
        return "a number of"
    word = "more" if x >= 0 else "fewer"
    return f"{100 * abs(float(x)):.0f}% {word}"


_FORMATS: dict[str, Callable[[Any], str]] = {
    "num": _num,
    "pct": _pct,
    "f2": _f2,
    "f3": _f3,
    "f4": _f4,
}


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("triage.evaluation", "templates"),
        # HTML templates are escaped; Markdown ones (``*.md.j2``) are plain text
        autoescape=select_autoescape(
            enabled_extensions=("html.j2",), disabled_extensions=("md.j2",), default=True
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        num=_num,
        pct=_pct,
        f2=_f2,
        f3=_f3,
        f4=_f4,
        pct_change=_pct_change,
        md_cell=_md_cell,
        fmt=lambda x, kind: _FORMATS[kind](x),
    )
    return env


def render_template(name: str, **context: Any) -> str:
    """Render one of the package's report templates (HTML ones autoescaped)."""
    return _environment().get_template(name).render(**context)


def _figures(ev: Evaluation) -> dict[str, str]:
    makers = {
        "baselines": plots.baselines_figure,
        "capacity": plots.capacity_figure,
        "roc": plots.roc_figure,
        "pr": plots.pr_figure,
        "calibration": plots.calibration_figure,
        "splits": plots.splits_figure,
    }
    return {name: plots.figure_png_base64(make(ev)) for name, make in makers.items()}


def evaluation_html(
    ev: Evaluation,
    *,
    title: str | None = None,
    label_description: str = "",
    prior_formula: str = "",
) -> str:
    """The report as one self-contained HTML page (images embedded)."""
    data = evaluation_json(ev)
    metrics = data["metrics"]
    return render_template(
        "evaluation.html.j2",
        ev=ev,
        title=title or f"Evaluation of the {ev.label} model",
        label_description=label_description,
        prior_formula=prior_formula,
        version=__version__,
        h=data["headline"],
        names=plots.DISPLAY_NAMES,
        short_names={s: plots.SHORT_NAMES.get(s, s) for s in ev.scorers},
        baselines=[s for s in ev.scorers if s != "model"],
        metric_columns=[{"key": k, "title": t, "kind": f} for k, t, f in _COLUMNS],
        pooled_rows=[r for r in metrics if r["split"] == POOLED],
        split_rows=[r for r in metrics if r["split"] != POOLED],
        flag_rows=data["flags"],
        oracle_rows=data.get("oracle", []),
        alert_rows=data.get("alerts", []),
        oracle_row=next((r for r in data.get("oracle", []) if r["split"] == POOLED), None),
        figures=_figures(ev),
    )


def evaluation_json(ev: Evaluation) -> dict[str, Any]:
    """The report's content as JSON-ready data (the same numbers as the HTML)."""
    return ev.to_dict()


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_evaluation_report(
    ev: Evaluation,
    out_dir: str | Path,
    *,
    stem: str = "evaluation",
    title: str | None = None,
    label_description: str = "",
    prior_formula: str = "",
    extra: Mapping[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write ``<stem>.html`` and ``<stem>.json`` to ``out_dir``; returns both paths.

    ``extra`` is merged into the JSON (e.g. training metadata). Both files are
    rendered before either is written, and each is replaced atomically.
    """
    folder = Path(out_dir)
    html = evaluation_html(
        ev, title=title, label_description=label_description, prior_formula=prior_formula
    )
    payload = {**evaluation_json(ev), **dict(extra or {})}
    text = json.dumps(payload, indent=2, sort_keys=False, allow_nan=False) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    html_path, json_path = folder / f"{stem}.html", folder / f"{stem}.json"
    write_atomic(html_path, html)
    write_atomic(json_path, text)
    return html_path, json_path
