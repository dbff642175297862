"""`triage demo`: the main job end to end on the embedded default county."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from triage.cli._app import app, console, fail
from triage.cli._render import validation_summary
from triage.exceptions import SchemaError, TriageError
from triage.synth import SynthConfig

_DEMO_OVERRIDE = (
    "Demonstration on a synthetic county, not a deployment decision: the fairness gate "
    "answered '{answer}', which is shown, not explained, and the model is promoted only "
    "to demonstrate that overriding the fairness gate needs a recorded reason. On real "
    "data, promote only once each flag has been investigated and each group too small "
    "to judge has been looked at another way."
)
_AGE_NOTE = (
    " Age changes the risk in the synthetic world (abuse is most frequent with "
    "perpetrators in their twenties, serious harm peaks in their thirties, and frail "
    "elderly victims of family members are hurt more), so error rates can differ by "
    "age band; a flag there still needs investigating."
)


def _promote(registry: Any, version: Any, gates: list[Any], flags: tuple[str, ...]) -> None:
    """Promote through the gates; if only the fairness gate fails, promote with the
    demo's recorded override reason (the model card shows it)."""
    from triage.exceptions import PromotionRefused
    from triage.registry.gates import FAIRNESS_GATE

    try:
        registry.promote(version.name, version.version, gates)
    except PromotionRefused as exc:
        console.print(Text(f"refused: {exc}", style="yellow"))
        if [g.name for g in gates if not g.passed] != [FAIRNESS_GATE]:
            return
        (fairness,) = [g for g in gates if g.name == FAIRNESS_GATE]
        reason = _DEMO_OVERRIDE.format(answer=fairness.detail)
        if flags and all(f.startswith("victim_age_band:") for f in flags):
            reason += _AGE_NOTE
        registry.promote(version.name, version.version, gates, reason)
        console.print(Text(f"promoted with a recorded override reason: {reason}"))
    console.print(f"@champion is now {version.name} v{version.version}")


def _demo_labels(spec: Any) -> list[str]:
    """Every label the spec defines, its own ``label`` (the reference model) first."""
    return [spec.label, *(lab.name for lab in spec.labels if lab.name != spec.label)]


def _train_and_promote(
    prepared: Any,
    registry: Any,
    truth: Any,
    reports: Path,
    *,
    first_step: int,
    card: Path | None,
) -> Any:
    """Train, evaluate, audit and register the model of ``prepared``'s label, then
    promote it through its own gates; its card is logged (and written to ``card``)."""
    from triage.cli._models import comparison_table, gates_table, versions_table
    from triage.evaluation.fairness_report import plain_summary
    from triage.pipeline import train_and_register
    from triage.registry.card import log_model_card
    from triage.registry.gates import promotion_gates

    label = prepared.model_spec.target
    console.rule(
        f"[bold]{first_step}. {label.name}: train, evaluate against DASH and the baselines"
    )
    console.print(Text(f"{label.name}: {label.description}"))
    with console.status("training, evaluating and auditing...") as status:
        trained = train_and_register(
            prepared,
            registry,
            truth=truth,
            report_dir=reports,
            step=lambda text: status.update(f"{label.name}: {text}..."),
        )
    console.print(comparison_table(trained.evaluation.headline()))
    version = trained.version
    assert version is not None
    console.print(f"registered {version.name} v{version.version}")
    console.rule(f"[bold]{first_step + 1}. {label.name}: fairness audit at the daily capacity")
    for sentence in plain_summary(trained.fairness)[2:]:
        if not sentence.startswith("Too small"):  # listed in the report
            console.print(Text(f"- {sentence}"))
    console.rule(f"[bold]{first_step + 2}. {label.name}: promote through its own gates")
    gates = promotion_gates(version)
    console.print(gates_table(gates))
    _promote(registry, version, gates, trained.fairness.primary_flags)
    log_model_card(registry, version.name, version.version, reports, also=[card] if card else [])
    console.print(versions_table(registry.versions(version.name)))
    return trained


def _prepared_table(prepared: object) -> Table:
    from triage.features.labels import label_summary

    labels = prepared.labels  # type: ignore[attr-defined]
    matrix = prepared.matrix  # type: ignore[attr-defined]
    plan = prepared.plan  # type: ignore[attr-defined]
    table = Table(title="Labels and point-in-time features", header_style="bold")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("incidents (rows)", f"{len(matrix.X):,}")
    table.add_row("features", f"{matrix.X.shape[1]:,}")
    for spec in prepared.model_spec.labels:  # type: ignore[attr-defined]
        s = label_summary(labels, spec.name)
        table.add_row(f"{spec.name}: rate among labelled", f"{s['rate']:.1%}")
        table.add_row(f"{spec.name}: censored (window passes the end)", f"{s['censored']:,}")
    table.add_row("temporal splits", str(len(plan.splits)))
    return table


@app.command("demo")
def demo(
    workdir: Annotated[
        Path, typer.Option(help="Working folder for the extract and reports.")
    ] = Path("work/demo"),
    seed: Annotated[int, typer.Option(help="Seed of the synthetic county.")] = SynthConfig().seed,
    years: Annotated[float, typer.Option(help="Years in the county's extract.")] = 5.0,
    incidents_per_year: Annotated[
        int, typer.Option(help="About this many incidents a year.")
    ] = SynthConfig().incidents_per_year,
    tracking_uri: Annotated[
        str | None,
        typer.Option(help="MLflow tracking URI (default: TRIAGE_TRACKING_URI or models/)."),
    ] = None,
    card: Annotated[Path, typer.Option(help="Where to write the reference model's card.")] = Path(
        "MODEL_CARD.md"
    ),
    reset: Annotated[
        bool,
        typer.Option("--reset", help="Rebuild the demo's store even if it holds keys or reviews."),
    ] = False,
) -> None:
    """Run the main job on a synthetic county: synthesise, validate, calibrate, build
    labels and features, then for each label of the model spec (the reference model
    first) train and evaluate against DASH, audit fairness, register and promote
    through its own gates; write the reference model's card."""
    from triage.cli._models import _registry
    from triage.cli._stores import check_demo_store
    from triage.cli._synth import _generate, calibration_table
    from triage.contract.validation import validate_extract
    from triage.pipeline import for_label, prepare
    from triage.synth import write_world
    from triage.synth.facts import calibration_report

    extract_dir = workdir / "extract"
    try:
        check_demo_store(workdir / "triage.db", reset=reset)
        console.rule("[bold]1. Synthetic county")
        config = SynthConfig(seed=seed, years=years, incidents_per_year=incidents_per_year)
        world = _generate(config)
        write_world(world, extract_dir, overwrite=True)
        n = len(world.extract.incidents)
        console.print(f"{n:,} incidents over {config.years:g} years in [bold]{extract_dir}[/]")
        console.rule("[bold]2. Validate against the data contract")
        report = validate_extract(extract_dir)
        if not report.ok or report.extract is None:
            raise SchemaError(report.problems)
        extract = report.extract
        console.print(validation_summary(report))
        console.rule("[bold]3. Calibration against published figures")
        console.print(calibration_table(calibration_report(extract, world.truth)))
        console.rule("[bold]4. Labels, features, temporal splits")
        prepared = prepare(extract)
        console.print(_prepared_table(prepared))
        registry = _registry(tracking_uri, create=True)
        models: list[Any] = []
        for label in _demo_labels(prepared.model_spec):
            this = prepared if label == prepared.model_spec.label else for_label(prepared, label)
            models.append(
                _train_and_promote(
                    this,
                    registry,
                    world.truth,
                    workdir / "reports" / label,
                    first_step=5 + 3 * len(models),
                    card=card if not models else None,
                )
            )
        trained = models[0]  # the reference model: the card in MODEL_CARD.md, the MASH queue
        version = trained.version
        if registry.champion(version.name) is not None:
            from triage.cli._service_demo import demo_queue

            console.rule(
                f"[bold]{5 + 3 * len(models)}. The last complete day's queue in the service"
            )
            store = (workdir / "triage.db").resolve()
            store.unlink(missing_ok=True)  # the demo's own store, rebuilt with its extract
            demo_queue(
                extract,
                database_url=f"sqlite:///{store}",
                tracking_uri=registry.tracking_uri,
                model_name=version.name,
            )
    except TriageError as exc:
        raise fail(exc) from None
    console.rule("[bold]Where to look")
    for each in models:
        name, number = each.version.name, each.version.version
        champion = registry.champion(name)
        state = "no champion" if champion is None else f"@champion v{champion.version}"
        console.print(f"[bold]{name}[/] v{number} ({state})")
        console.print(f"  evaluation report   {each.report_html}")
        console.print(f"  fairness report     {each.fairness_html}")
        also = f"{card}, " if each is trained else ""
        console.print(f"  model card          {also}{each.model_card} (logged with v{number})")
        console.print(f"  versions            triage models --model {name}")
    console.print(f"registry            mlflow ui --backend-store-uri {registry.tracking_uri}")
