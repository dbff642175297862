"""`triage audit` and `compare`: an auditor's view of registered versions, from what
the registry holds (docs/architecture.md §8, §10)."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from triage.cli._app import app, console, fail
from triage.cli._models import _registry
from triage.cli._options import DEFAULT_MODEL_NAME, ModelOpt, TrackingOpt
from triage.exceptions import TriageError

#: statuses that say nothing about a difference, left out of the comparison
_SILENT = {"reference", "too small to judge", "undefined", "absent"}


def flags_table(report: Any) -> Table:
    """Every flagged disparity with its ratio and interval."""
    table = Table(title="Flagged disparities", header_style="bold")
    for col in ("disparity", "primary", "ratio", "interval"):
        table.add_column(col, justify="right" if col in ("ratio", "interval") else "left")
    for d in report.iter_disparities():
        if d.flagged:
            table.add_row(
                Text(d.name),
                "yes" if d.primary else "no",
                f"{d.ratio:.2f}",
                f"{d.low:.2f}-{d.high:.2f}",
            )
    return table


@app.command("audit")
def audit_command(
    version: Annotated[str, typer.Argument(help="Version number or alias (e.g. champion).")],
    model: ModelOpt = DEFAULT_MODEL_NAME,
    out: Annotated[Path, typer.Option(help="Folder for the regenerated reports.")] = Path(
        "evaluation/reports"
    ),
    tracking_uri: TrackingOpt = None,
) -> None:
    """Re-run a version's fairness audit from its logged predictions, and write the
    fairness report (HTML, JSON) and the model card."""
    from triage.evaluation.fairness_report import plain_summary, write_fairness_report
    from triage.registry.audit import FAIRNESS_JSON, reaudit
    from triage.registry.card import CARD_FILE, model_card, write_model_card
    from triage.registry.tracking import REPORTS_PATH

    try:
        registry = _registry(tracking_uri)
        info = registry.version(model, version)
        folder = out / f"{model}-v{info.version}"
        with tempfile.TemporaryDirectory(prefix="triage-audit-") as tmp:
            report = reaudit(registry, model, info.version, Path(tmp) / "audit")
            logged = registry.download_artifact(
                model, info.version, f"{REPORTS_PATH}/{FAIRNESS_JSON}", Path(tmp) / "logged"
            ).read_bytes()
        html, js = write_fairness_report(report, folder, extra={"label": model})
        card = write_model_card(
            model_card(registry, model, info.version, fairness=report), folder / CARD_FILE
        )
    except TriageError as exc:
        raise fail(exc) from None
    console.rule(f"[bold]Fairness audit of {model} v{info.version}")
    for sentence in plain_summary(report):
        console.print(Text(f"- {sentence}"))
    if report.flags:
        console.print(flags_table(report))
    same = js.read_bytes() == logged
    console.print(
        "regenerated audit matches the report logged with the version"
        if same
        else "[yellow]regenerated audit differs from the report logged with the version[/]"
    )
    console.print(f"fairness report  {html}")
    console.print(f"fairness JSON    {js}")
    console.print(f"model card       {card}")


def _number(x: float, percent: bool) -> str:
    if math.isnan(x):
        return "-"
    return f"{x:.1%}" if percent else f"{x:.4f}"


def _delta(x: float, percent: bool) -> str:
    if math.isnan(x):
        return "-"
    return f"{100 * x:+.1f} pts" if percent else f"{x:+.4f}"


def _span(low: float, high: float, percent: bool) -> str:
    if math.isnan(low) or math.isnan(high):
        return "-"
    if percent:
        return f"{100 * low:+.1f} to {100 * high:+.1f} pts"
    return f"{low:+.4f} to {high:+.4f}"


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False)


@app.command("compare")
def compare_command(
    before: Annotated[str, typer.Argument(help="The earlier version (number or alias).")],
    after: Annotated[str, typer.Argument(help="The later version (number or alias).")],
    model: ModelOpt = DEFAULT_MODEL_NAME,
    tracking_uri: TrackingOpt = None,
) -> None:
    """What changed between two versions: whether they were trained on the same data,
    pooled metrics with 95% intervals of each change, disparities newly flagged,
    cleared (judged both times, flagged only before) or no longer judged (flagged
    before, too small to judge now), and how far their daily queues agree."""
    from triage.registry.compare import compare

    try:
        c = compare(_registry(tracking_uri), model, before, after)
    except TriageError as exc:
        raise fail(exc) from None
    a, b = f"v{c.before.version}", f"v{c.after.version}"
    digest_a, digest_b = (d[:12] if d else "not recorded" for d in c.digests)
    if c.same_data is False:
        console.print(
            f"[yellow]{a} and {b} were trained on different data[/] (dataset digests "
            f"{digest_a} and {digest_b}): metrics and disparities compare different data, "
            "not only different models.",
            highlight=False,
        )
    elif c.same_data:
        console.print(f"{a} and {b} were trained on the same data (digest {digest_a}).")
    else:
        console.print(
            f"Whether {a} and {b} were trained on the same data is unknown (digests "
            f"{digest_a} and {digest_b}).",
            highlight=False,
        )
    metrics = Table(title=f"{model}: {a} -> {b}", header_style="bold")
    interval = f"{c.confidence:.0%} interval of the change"
    for col in ("metric", a, b, "change", interval):
        metrics.add_column(col, justify="left" if col == "metric" else "right")
    for m in c.metrics:
        metrics.add_row(
            m.title,
            _number(m.before, m.percent),
            _number(m.after, m.percent),
            _delta(m.delta, m.percent),
            _span(m.low, m.high, m.percent),
        )
    console.print(metrics)
    _say(
        "Intervals resample victims, "
        + ("both versions together (same incidents)." if c.paired else "each version alone.")
    )
    shown = [
        d for d in c.disparities if not (d.status_before in _SILENT and d.status_after in _SILENT)
    ]
    table = Table(title="Disparities (primary test, or flagged in either)", header_style="bold")
    for col in ("disparity", f"ratio {a}", f"ratio {b}", f"verdict {a}", f"verdict {b}", "change"):
        table.add_column(col, justify="right" if col.startswith("ratio") else "left")
    for d in shown:
        table.add_row(
            Text(d.key),
            "-" if math.isnan(d.ratio_before) else f"{d.ratio_before:.2f}",
            "-" if math.isnan(d.ratio_after) else f"{d.ratio_after:.2f}",
            d.status_before,
            d.status_after,
            d.change,
        )
    console.print(table)
    _say("newly flagged: " + (", ".join(c.raised) or "none"))
    _say("cleared: " + (", ".join(c.cleared) or "none"))
    _say(
        "no longer judged (flagged before, too small to judge now; not cleared): "
        + (", ".join(c.no_longer_judged) or "none")
    )
    o = c.overlap
    if o is None:
        _say(f"queue overlap: {c.overlap_note}")
    else:
        _say(
            f"queue overlap: {o.share:.1%} of the daily top {o.capacity} places went to the "
            f"same incidents over {o.days} days (lowest day {o.lowest:.1%})"
        )
