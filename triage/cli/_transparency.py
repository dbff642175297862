"""`triage transparency`: a version's transparency record (ATRS shape) as JSON and
HTML, from the registry and the force's own fields (docs/architecture.md §10)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from triage.cli._app import app, console, fail
from triage.cli._models import _registry
from triage.cli._options import DEFAULT_MODEL_NAME, ModelOpt, TrackingOpt
from triage.exceptions import ConfigError, TriageError


@app.command("transparency")
def transparency_command(
    version: Annotated[str, typer.Argument(help="Version number or alias (e.g. champion).")],
    out: Annotated[
        Path, typer.Option(help="Folder; the record goes to MODEL-vN/transparency.json and .html.")
    ],
    model: ModelOpt = DEFAULT_MODEL_NAME,
    force_info: Annotated[
        Path | None,
        typer.Option(
            help="YAML of what only the force knows (owner, contact, purpose, DPIA).",
            show_default="evaluation/transparency.yaml",
        ),
    ] = None,
    resamples: Annotated[
        int, typer.Option(min=20, max=100_000, help="Bootstrap resamples for the intervals.")
    ] = 200,
    tracking_uri: TrackingOpt = None,
) -> None:
    """Write a version's transparency record in the shape of the UK Algorithmic
    Transparency Recording Standard: what the software knows from the registry, what
    only the force knows from its YAML (fields it has not filled in are marked as
    missing, never invented)."""
    from triage.registry.transparency import load_force_info, transparency_record
    from triage.registry.transparency_html import FORCE_FIELD_TITLES, write_record

    try:
        if out.exists() and not out.is_dir():
            raise ConfigError(f"--out {out}: exists and is not a folder")
        force = load_force_info(force_info)
        record = transparency_record(
            _registry(tracking_uri), model, version, force, resamples=resamples
        )
        try:
            js, html = write_record(record, out / f"{model}-v{record['model']['version']}")
        except OSError as exc:
            raise ConfigError(f"--out {out}: cannot write there ({exc.strerror})") from None
    except TriageError as exc:
        raise fail(exc) from None
    console.print(f"Transparency record of {model} v{record['model']['version']}", highlight=False)
    missing = record["missing_force_fields"]
    if missing:
        names = ", ".join(FORCE_FIELD_TITLES.get(m, m) for m in missing)
        console.print(
            Text(f"not provided by the force (marked in the record): {names}", style="yellow")
        )
    console.print(f"record JSON  {js}", highlight=False)
    console.print(f"record HTML  {html}", highlight=False)
