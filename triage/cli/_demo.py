"""`triage demo`: the main job end to end on the embedded default county."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from triage.calibration import calibration_report
from triage.cli._app import app, console, fail
from triage.cli._render import validation_summary
from triage.cli._synth import _generate, calibration_table
from triage.exceptions import SchemaError, TriageError
from triage.schema import validate_extract
from triage.synth import SynthConfig, write_world


@app.command("demo")
def demo(
    workdir: Annotated[
        Path, typer.Option(help="Working folder (created; regenerated files are replaced).")
    ] = Path("work/demo"),
    seed: Annotated[int, typer.Option(help="Seed of the synthetic county.")] = SynthConfig().seed,
) -> None:
    """Run the main job on a synthetic county: synthesise, validate, report."""
    extract_dir = workdir / "extract"
    try:
        console.rule("[bold]1. Synthetic county")
        config = SynthConfig(seed=seed)
        world = _generate(config)
        write_world(world, extract_dir, overwrite=True)
        n = len(world.extract.incidents)
        console.print(f"{n:,} incidents over {config.years:g} years in [bold]{extract_dir}[/]")
        console.rule("[bold]2. Validate against the data contract")
        report = validate_extract(extract_dir)
        if not report.ok:
            raise SchemaError(report.problems)
        console.print(validation_summary(report))
        console.rule("[bold]3. Calibration against published figures")
        console.print(
            calibration_table(calibration_report(report.extract or world.extract, world.truth))
        )
    except TriageError as exc:
        raise fail(exc) from None
