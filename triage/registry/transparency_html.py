"""The transparency record (``registry/transparency.py``) written as JSON and as a
readable HTML page: figures as a reader reads them (shares in percent, intervals
beside them), fields the force has not filled in marked, never a raw metric key."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from triage.evaluation.report import write_atomic
from triage.registry.compare import disparity_title
from triage.registry.transparency import NOT_PROVIDED, record_json

__all__ = ["FORCE_FIELD_TITLES", "RECORD_HTML", "RECORD_JSON", "render_html", "write_record"]

RECORD_JSON = "transparency.json"
RECORD_HTML = "transparency.html"
#: the force's fields as a reader names them
FORCE_FIELD_TITLES: dict[str, str] = {
    "organisation": "organisation",
    "team": "team",
    "senior_responsible_owner": "senior responsible owner",
    "contact": "contact",
    "phase": "phase",
    "purpose": "purpose",
    "human_oversight": "human oversight",
    "dpia_reference": "data protection impact assessment",
    "equality_impact_assessment": "equality impact assessment",
}
_SHARES = ("recall_at_k", "precision_at_k", "npe")


def _value(key: str, x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    if key.endswith(_SHARES):
        return f"{x:.1%}"
    return f"{x:.4f}" if key.endswith(("brier", "ece")) else f"{x:.3f}"


def _row(figure: dict[str, Any]) -> dict[str, str]:
    key, low, high = figure["key"], figure["low"], figure["high"]
    interval = "–" if low is None or high is None else f"{_value(key, low)} to {_value(key, high)}"
    return {
        "title": figure["title"],
        "value": _value(key, figure["value"]),
        "interval": interval,
    }


def _readable(text: str, keys: list[str]) -> str:
    """``text`` with each disparity key (``victim_sex:male:fnr``) in words."""
    for key in sorted(keys, key=len, reverse=True):
        text = text.replace(key, disparity_title(key))
    return text


def _ratio(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def render_html(record: dict[str, Any]) -> str:
    """The record as a self-contained HTML page."""
    env = Environment(
        loader=PackageLoader("triage.registry", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    tier_2 = record["tier_2"]
    perf = tier_2["performance"]
    fairness_rows = [
        {
            "title": d["title"],
            "ratio": _ratio(d["ratio"]),
            "interval": "–"
            if d["low"] is None or d["high"] is None
            else f"{d['low']:.2f} to {d['high']:.2f}",
            "status": d["status"],
        }
        for d in tier_2["fairness"]["disparities"]
        if d["status"] != "reference"
    ]
    fairness = tier_2["fairness"]
    keys = [*fairness.get("flags", []), *(d["key"] for d in fairness["disparities"])]
    gates = [
        {**g, "detail": _readable(g["detail"], keys)}
        for g in tier_2["decision_process_and_human_oversight"]["gates"]
    ]
    return env.get_template("transparency.html.j2").render(
        gates=gates,
        r=record,
        not_provided=NOT_PROVIDED,
        missing_titles=[FORCE_FIELD_TITLES.get(f, f) for f in record["missing_force_fields"]],
        perf=perf,
        model_rows=[_row(f) for f in perf["model"]],
        baseline_rows=[_row(f) for f in perf["baselines"]],
        fairness_rows=fairness_rows,
    )


def write_record(record: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``transparency.json`` and ``transparency.html`` to ``out_dir``. Both are
    rendered before either is written, and each is written atomically."""
    folder = Path(out_dir)
    js, html = record_json(record), render_html(record)
    folder.mkdir(parents=True, exist_ok=True)
    json_path, html_path = folder / RECORD_JSON, folder / RECORD_HTML
    write_atomic(json_path, js)
    write_atomic(html_path, html)
    return json_path, html_path
