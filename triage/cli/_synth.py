"""`triage synth` (make a synthetic county) and `triage demo` (the whole chain)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import pandas as pd
import typer
from pydantic import ValidationError
from rich.table import Table

from triage.cli._app import app, console, fail, progress_display
from triage.contract.names import Extract
from triage.contract.validation import load_extract
from triage.exceptions import ConfigError, TriageError
from triage.synth import (
    DownRecording,
    GradingBias,
    RecordingBias,
    SynthConfig,
    World,
    generate_world,
    write_world,
)

if TYPE_CHECKING:
    from triage.synth.facts import Fact

__all__ = [
    "calibration_table",
    "parse_down_recording",
    "parse_grading_bias",
    "parse_recording_bias",
]

_KNOB_HELP = "ATTRIBUTE=GROUP:{} with ATTRIBUTE one of ethnicity, deprivation_quintile, sex"


def parse_recording_bias(text: str) -> RecordingBias:
    """``ethnicity=black:0.4[:non_serious]`` -> RecordingBias."""
    try:
        attribute, rest = text.split("=", 1)
        group, factor, *scope = rest.split(":")
        return RecordingBias(
            attribute=attribute.strip(),  # type: ignore[arg-type]
            group=group.strip(),
            factor=float(factor),
            applies_to=(scope[0].strip() if scope else "all"),  # type: ignore[arg-type]
        )
    except (ValueError, ValidationError) as exc:
        raise ConfigError(
            f"--record-bias {text!r}: expected "
            f"{_KNOB_HELP.format('FACTOR[:all|non_serious|serious]')} ({_first_error(exc)})"
        ) from None


def parse_down_recording(text: str) -> DownRecording:
    """``ethnicity=asian:0.8[:0.8]`` -> DownRecording(rate=0.8, unnamed=0.8)."""
    try:
        attribute, rest = text.split("=", 1)
        group, rate, *unnamed = rest.split(":")
        if len(unnamed) > 1:
            raise ValueError("too many ':' parts")
        return DownRecording(
            attribute=attribute.strip(),  # type: ignore[arg-type]
            group=group.strip(),
            rate=float(rate),
            unnamed=float(unnamed[0]) if unnamed else 0.0,
        )
    except (ValueError, ValidationError) as exc:
        raise ConfigError(
            f"--down-record {text!r}: expected "
            f"{_KNOB_HELP.format('RATE[:UNNAMED]')} ({_first_error(exc)})"
        ) from None


def parse_grading_bias(text: str) -> GradingBias:
    """``ethnicity=black:+2`` -> GradingBias."""
    try:
        attribute, rest = text.split("=", 1)
        group, shift = rest.split(":")
        return GradingBias(attribute=attribute.strip(), group=group.strip(), shift=float(shift))  # type: ignore[arg-type]
    except (ValueError, ValidationError) as exc:
        raise ConfigError(
            f"--grading-bias {text!r}: expected {_KNOB_HELP.format('+N')} ({_first_error(exc)})"
        ) from None


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return str(exc)


def calibration_table(facts: list[Fact]) -> Table:
    table = Table(title="Calibration: the world beside the published bands", header_style="bold")
    table.add_column("fact")
    table.add_column("value", justify="right")
    table.add_column("band", justify="right")
    table.add_column("", justify="center")
    table.add_column("source", style="dim")
    for f in facts:
        spec = ".3f" if f.key.startswith("auc") else ".1%"
        low = "" if f.low is None else format(f.low, spec)
        high = "" if f.high is None else format(f.high, spec)
        verdict = "[green]ok[/]" if f.ok else "[red]OUT[/]"
        table.add_row(f.label, format(f.value, spec), f"{low} – {high}", verdict, f.source)
    from triage.synth.facts import BANDS

    if len(facts) < len(BANDS):
        table.caption = "facts this world is too small or too short to show are left out"
    return table


def _generate(config: SynthConfig) -> World:
    with progress_display() as progress:
        task = progress.add_task("synthesising", total=None)
        return generate_world(
            config,
            progress=lambda stage: progress.update(task, description=f"synthesising: {stage}"),
        )


def _read_truth(folder: Path, extract: Extract) -> pd.DataFrame | None:
    """The world's truth table, checked against its extract (None if it has none)."""
    from triage.config import DEFAULT_MODEL_NAME
    from triage.contract.truth import check_truth_covers, read_truth

    truth = read_truth(folder, [DEFAULT_MODEL_NAME])
    if truth is not None:
        check_truth_covers(truth, extract.incidents["incident_id"])
    return truth


@app.command("synth")
def synth(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Folder to write the extract and truth into.", show_default=False
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Random seed: the same seed gives byte-identical tables.")
    ] = SynthConfig().seed,
    years: Annotated[
        float, typer.Option(help="Years covered by the extract.")
    ] = SynthConfig().years,
    incidents_per_year: Annotated[
        int, typer.Option(help="About this many recorded incidents a year.")
    ] = SynthConfig().incidents_per_year,
    start: Annotated[
        str, typer.Option(help="First day of the extract (UTC).")
    ] = SynthConfig().start,
    fmt: Annotated[
        Literal["parquet", "csv"], typer.Option("--format", help="File format of the tables.")
    ] = "parquet",
    truth: Annotated[
        bool, typer.Option("--truth/--no-truth", help="Also write the ground-truth table.")
    ] = True,
    record_bias: Annotated[
        list[str] | None,
        typer.Option(
            "--record-bias",
            help="Recording bias, e.g. ethnicity=black:0.4:non_serious (repeatable).",
            show_default=False,
        ),
    ] = None,
    grading_bias: Annotated[
        list[str] | None,
        typer.Option(
            "--grading-bias",
            help="DASH grading shift of +N (or -N) ticks, e.g. deprivation_quintile=1:+2 "
            "(repeatable).",
            show_default=False,
        ),
    ] = None,
    down_record: Annotated[
        list[str] | None,
        typer.Option(
            "--down-record",
            help="Down-recording of a victim group, e.g. ethnicity=asian:0.8:0.8 (chance a "
            "minor crime, marker or DASH risk is recorded lower; chance the suspect is "
            "left unnamed) (repeatable).",
            show_default=False,
        ),
    ] = None,
    group_risk: Annotated[
        bool,
        typer.Option(
            "--group-risk/--no-group-risk",
            help="Victims' sex and age go with their risk as in life; --no-group-risk "
            "shuffles them among the victims, so no victim group differs in risk.",
        ),
    ] = True,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Print the calibration report of an existing world folder instead of making one.",
            show_default=False,
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace tables already in --out.")] = False,
) -> None:
    """Synthesise a county's domestic-abuse extract with known ground truth.

    Writes incidents, people and orders as the data contract says, plus a separate
    truth table (the exact probability of each label given the hidden state), then
    prints the calibration report. With --report DIR, only reports on DIR.
    """
    # scikit-learn is imported only by the commands that use it, not by every command
    from triage.synth.facts import calibration_report

    try:
        if report is not None:
            extract = load_extract(report)
            console.print(
                calibration_table(calibration_report(extract, _read_truth(report, extract)))
            )
            return
        if out is None:
            raise ConfigError("give --out DIR to write a world, or --report DIR to report on one")
        config = SynthConfig(
            seed=seed,
            years=years,
            incidents_per_year=incidents_per_year,
            start=start,
            truth=truth,
            recording_bias=tuple(parse_recording_bias(t) for t in record_bias or ()),
            grading_bias=tuple(parse_grading_bias(t) for t in grading_bias or ()),
            down_recording=tuple(parse_down_recording(t) for t in down_record or ()),
            group_risk=group_risk,
        )
        world = _generate(config)
        if world.extract.incidents.empty:
            raise ConfigError(
                f"a county of {incidents_per_year} incidents a year over {years:g} years "
                "recorded no incident: raise --years or --incidents-per-year (nothing written)"
            )
        written = write_world(world, out, fmt=fmt, overwrite=overwrite)
    except ValidationError as exc:
        raise fail(ConfigError(_first_error(exc))) from None
    except TriageError as exc:
        raise fail(exc) from None
    rows = json.loads((out / "world.json").read_text())["rows"]
    console.print(
        f"wrote {len(written)} files to [bold]{out}[/]: "
        + ", ".join(f"{k} {v:,}" for k, v in rows.items())
    )
    console.print(calibration_table(calibration_report(world.extract, world.truth)))
