"""`triage train`, `evaluate`, `promote`, `rollback` and `models`: the data
scientist's loop around the MLflow registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from triage.cli._app import app, console, fail, progress_display
from triage.cli._options import (
    DEFAULT_FEATURE_SPEC,
    DEFAULT_MODEL_NAME,
    DEFAULT_MODEL_SPEC,
    MappingOpt,
    ModelOpt,
    ModelSpecOpt,
    TrackingOpt,
)
from triage.exceptions import TriageError


def _registry(tracking_uri: str | None, *, create: bool = False) -> Any:
    """The registry, said on stderr; a SQLite registry that does not exist is refused
    unless ``create`` (train and demo make it)."""
    from triage.cli._stores import check_registry
    from triage.registry.tracking import MlflowRegistry, ensure_local_store
    from triage.settings import Settings

    settings = Settings.from_env(tracking_uri=tracking_uri)
    ensure_local_store(settings)
    check_registry(settings.tracking_uri, create=create)
    return MlflowRegistry(settings.tracking_uri)


def _pct(x: float) -> str:
    return f"{x:.1%}"


def comparison_table(headline: dict[str, Any]) -> Table:
    """Model vs baselines vs the oracle, pooled over the temporal splits."""
    table = Table(title="Out-of-time validation, pooled over the splits", header_style="bold")
    for col in ("scorer", "ROC AUC", "recall@k per day"):
        table.add_column(col, justify="left" if col == "scorer" else "right")
    for name, key in (
        ("model", "model"),
        ("logistic (elastic net)", "logistic"),
        ("DASH grade", "dash"),
        ("prior incidents", "prior"),
    ):
        table.add_row(name, f"{headline[f'auc_{key}']:.3f}", _pct(headline[f"recall_at_k_{key}"]))
    if "auc_oracle" in headline:
        table.add_row("[dim]truth (ceiling)[/]", f"{headline['auc_oracle']:.3f}", "")
    table.caption = (
        f"At DASH's flag rate ({_pct(headline['flag_rate'])}), unflagged incidents that escalate: "
        f"DASH {_pct(headline['dash_npe'])} ({headline['dash_missed']:,.0f} missed), "
        f"model {_pct(headline['model_npe'])} ({headline['model_missed']:,.0f} missed). "
        f"ECE {headline['ece_model']:.4f}; daily capacity k = {headline['capacity']}."
    )
    return table


def gates_table(gates: Any) -> Table:
    table = Table(title="Promotion gates", header_style="bold")
    table.add_column("gate")
    table.add_column("result", justify="center")
    table.add_column("detail")
    for g in gates:
        table.add_row(g.name, "[green]pass[/]" if g.passed else "[red]FAIL[/]", g.detail)
    return table


@app.command("train")
def train_command(
    directory: Annotated[Path, typer.Argument(help="Extract folder (validated first).")],
    spec: ModelSpecOpt = Path(DEFAULT_MODEL_SPEC),
    label: Annotated[
        str | None,
        typer.Option(
            help="Label to predict, one of the spec's `labels`; registered under its name.",
            show_default="the spec's `label`",
        ),
    ] = None,
    features: Annotated[Path, typer.Option(help="Feature-set spec.")] = Path(DEFAULT_FEATURE_SPEC),
    mapping: MappingOpt = None,
    seed: Annotated[
        int, typer.Option(help="Training seed (same data, specs, seed: same booster).")
    ] = 0,
    capacity: Annotated[
        int | None, typer.Option(help="Daily review capacity k (TRIAGE_CAPACITY).")
    ] = None,
    reports: Annotated[Path, typer.Option(help="Where to write the evaluation report.")] = Path(
        "evaluation/reports"
    ),
    register: Annotated[
        bool, typer.Option("--register/--no-register", help="Record the run in MLflow.")
    ] = True,
    tracking_uri: TrackingOpt = None,
) -> None:
    """Train with temporal validation, compare with DASH, the baselines and (on a
    synthetic world) the truth, write the evaluation report, register a version of
    the model named after the label (any label the spec defines, with --label)."""

    from triage.contract.truth import check_truth_covers, read_truth
    from triage.contract.validation import load_extract
    from triage.pipeline import prepare, spec_for_label, train_and_register
    from triage.registry.tracking import NullTracker
    from triage.settings import Settings

    try:
        cap = Settings.from_env(capacity=capacity).capacity
        model_spec = spec_for_label(spec, label)  # an unknown label: before any work
        truth = read_truth(directory, [model_spec[0].label])  # checked before any work
        tracker = _registry(tracking_uri, create=True) if register else NullTracker()
        with progress_display() as progress:
            task = progress.add_task("validating the extract", total=None)

            def step(text: str) -> None:
                progress.update(task, description=text)

            extract = load_extract(directory, mapping=mapping)
            if truth is not None:
                check_truth_covers(truth, extract.incidents["incident_id"])
            prepared = prepare(extract, model_spec, features, step=step)
            out = train_and_register(
                prepared,
                tracker,
                truth=truth,
                capacity=cap,
                seed=seed,
                report_dir=reports,
                step=step,
            )
    except TriageError as exc:
        raise fail(exc) from None
    console.print(comparison_table(out.evaluation.headline()))
    flags = ", ".join(out.fairness.primary_flags) or "none"
    console.print(f"evaluation report: [bold]{out.report_html}[/]")
    console.print(f"fairness report: [bold]{out.fairness_html}[/] (primary flags: {flags})")
    if out.model_card is not None:
        console.print(f"model card: [bold]{out.model_card}[/]")
    if out.version is not None:
        console.print(
            f"registered [bold]{out.version.name}[/] version [bold]{out.version.version}[/]"
        )


@app.command("evaluate")
def evaluate_command(
    version: Annotated[str, typer.Argument(help="Version number or alias (e.g. champion).")],
    model: ModelOpt = DEFAULT_MODEL_NAME,
    out: Annotated[Path, typer.Option(help="Folder for the version's reports.")] = Path(
        "evaluation/reports"
    ),
    tracking_uri: TrackingOpt = None,
) -> None:
    """Fetch a version's evaluation report from the registry and show its headline."""
    try:
        registry = _registry(tracking_uri)
        info = registry.version(model, version)
        folder = registry.download_reports(model, info.version, out / f"{model}-v{info.version}")
    except TriageError as exc:
        raise fail(exc) from None
    data = json.loads((folder / "evaluation.json").read_text())
    console.print(comparison_table(data["headline"]))
    console.print(f"report: [bold]{folder / 'evaluation.html'}[/]")


@app.command("promote")
def promote_command(
    version: Annotated[
        str, typer.Argument(help="Version to make @champion: a number or an alias.")
    ],
    model: ModelOpt = DEFAULT_MODEL_NAME,
    override_reason: Annotated[
        str | None,
        typer.Option(help="Why to promote despite failed gates (recorded with the version)."),
    ] = None,
    tracking_uri: TrackingOpt = None,
) -> None:
    """Move @champion to VERSION through the promotion gates (docs/architecture.md §10). A failed
    gate (e.g. a flagged disparity) blocks it unless --override-reason is given; the
    reason is recorded with the version and shown in its model card, logged again."""
    from triage.registry.card import log_model_card
    from triage.registry.gates import promotion_gates

    try:
        registry = _registry(tracking_uri)
        info = registry.version(model, version)
        gates = promotion_gates(info)
        console.print(gates_table(gates))
        decision = registry.promote(model, info.version, gates, override_reason=override_reason)
        log_model_card(registry, model, decision.version)
    except TriageError as exc:
        raise fail(exc) from None
    was = "none" if decision.previous is None else f"v{decision.previous}"
    note = f" (override: {decision.override_reason})" if decision.override_reason else ""
    console.print(f"@champion is now {model} v{decision.version} (was {was}){note}")
    console.print(
        f"model card of v{decision.version} updated in the registry (reports/model_card.md)"
    )


@app.command("rollback")
def rollback_command(
    model: ModelOpt = DEFAULT_MODEL_NAME,
    reason: Annotated[str | None, typer.Option(help="Why (recorded).")] = None,
    tracking_uri: TrackingOpt = None,
) -> None:
    """Restore the previous @champion."""
    try:
        decision = _registry(tracking_uri).rollback(model, reason=reason)
    except TriageError as exc:
        raise fail(exc) from None
    console.print(f"@champion is back to {model} v{decision.version} (was v{decision.previous})")


def versions_table(versions: Any) -> Table:
    from triage.registry.gates import LOGISTIC_AUC, MODEL_AUC, MODEL_ECE

    table = Table(title="Registered versions", header_style="bold")
    columns = ("version", "created", "aliases", "AUC", "logistic", "DASH", "ECE", "NPE/DASH")
    for col in columns:
        table.add_column(col, justify="left" if col in ("created", "aliases") else "right")
    for v in versions:
        m = v.metrics

        def f(key: str, fmt: str = ".3f", m: Any = m) -> str:
            return format(m[key], fmt) if key in m else "-"

        ratio = "-"
        if m.get("headline_dash_npe"):
            ratio = f"{m['headline_model_npe'] / m['headline_dash_npe']:.2f}x"
        table.add_row(
            str(v.version),
            v.created.strftime("%Y-%m-%d"),
            ", ".join(v.aliases),
            f(MODEL_AUC),
            f(LOGISTIC_AUC),
            f("pooled_dash_roc_auc"),
            f(MODEL_ECE, ".4f"),
            ratio,
        )
    return table


@app.command("models")
def models_command(model: ModelOpt = DEFAULT_MODEL_NAME, tracking_uri: TrackingOpt = None) -> None:
    """List the registered versions with their key metrics and aliases."""
    try:
        versions = _registry(tracking_uri).versions(model)
    except TriageError as exc:
        raise fail(exc) from None
    if not versions:
        console.print(f"no versions of {model} yet: run [bold]triage train DIR[/]")
        return
    console.print(versions_table(versions))
