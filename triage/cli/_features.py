"""`triage features`, `triage labels` and `triage splits`."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.progress import Progress
from rich.table import Table

from triage.cli._app import app, console, fail, progress_display
from triage.cli._options import (
    DEFAULT_FEATURE_SPEC,
    DEFAULT_MODEL_SPEC,
    FeatureSpecOpt,
    MappingOpt,
    ModelSpecOpt,
)
from triage.contract.harm import HarmWeights, load_harm_weights
from triage.contract.names import Extract
from triage.exceptions import TriageError

DirectoryArg = Annotated[
    Path,
    typer.Argument(help="Extract folder (incidents, people, optional orders).", show_default=False),
]
HarmOpt = Annotated[
    Path | None,
    typer.Option(
        "--harm-weights", help="Harm-weight table.", show_default="features/harm_weights.yaml"
    ),
]
EndOpt = Annotated[
    str | None,
    typer.Option(
        "--end",
        help="Extract end for censoring (date or timestamp, UTC); default: the latest reported_at.",
        show_default=False,
    ),
]


def _progress() -> Progress:
    return progress_display(bar=True)


def _load(directory: Path, mapping: Path | None, harm: HarmWeights) -> Extract:
    from triage.contract.validation import load_extract

    with _progress() as progress:
        progress.add_task(f"validating {directory}", total=None)
        return load_extract(directory, mapping=mapping, harm_weights=harm)


def _end(end: str | None) -> pd.Timestamp | None:
    if end is None:
        return None
    try:
        ts = pd.Timestamp(end)
    except ValueError:
        raise typer.BadParameter(f"not a date or timestamp: {end!r}", param_hint="--end") from None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


@contextmanager
def _atomic(out: Path) -> Iterator[Path]:
    """A temporary file beside ``out`` that replaces it only once fully written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


def _summary(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for key, value in rows:
        table.add_row(key, value)
    return table


@app.command("features")
def features(
    directory: DirectoryArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Parquet file to write.")],
    spec: FeatureSpecOpt = Path(DEFAULT_FEATURE_SPEC),
    audit: Annotated[
        Path | None,
        typer.Option("--audit", help="Also write the audit-only attributes to this Parquet file."),
    ] = None,
    mapping: MappingOpt = None,
    harm_weights: HarmOpt = None,
) -> None:
    """Build point-in-time features for every incident of an extract.

    Each incident's features read only records reported strictly before it.
    """
    from triage.config import load_feature_spec
    from triage.features.build import build_features

    try:
        feature_spec = load_feature_spec(spec)
        harm = load_harm_weights(harm_weights)
        extract = _load(directory, mapping, harm)
        with _progress() as progress:
            task = progress.add_task("building features", total=None)

            def step(name: str, done: int, total: int) -> None:
                progress.update(task, description=f"features: {name}", completed=done, total=total)

            matrix = build_features(extract, spec=feature_spec, harm_weights=harm, progress=step)
        with _atomic(out) as tmp:
            matrix.to_frame().to_parquet(tmp, index=False)
        if audit is not None:
            with _atomic(audit) as tmp:
                matrix.audit.to_parquet(tmp, index=False)
    except TriageError as exc:
        raise fail(exc) from None
    rows = [
        ("incidents", f"{len(matrix.X):,}"),
        ("features", f"{matrix.X.shape[1]:,}"),
        ("spec", f"{feature_spec.name} ({matrix.spec_fingerprint[:12]})"),
        ("written", str(out)),
    ]
    if audit is not None:
        rows.append(("audit", str(audit)))
    console.print(_summary("features", rows))


@app.command("labels")
def labels(
    directory: DirectoryArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Parquet file to write.")],
    spec: ModelSpecOpt = Path(DEFAULT_MODEL_SPEC),
    end: EndOpt = None,
    mapping: MappingOpt = None,
    harm_weights: HarmOpt = None,
) -> None:
    """Build every label the model spec defines; censored labels are missing."""
    from triage.config import load_model_spec
    from triage.features.labels import build_labels, label_summary

    end_ts = _end(end)
    try:
        model = load_model_spec(spec)
        harm = load_harm_weights(harm_weights)
        extract = _load(directory, mapping, harm)
        with _progress() as progress:
            progress.add_task("building labels", total=None)
            frame = build_labels(extract, model.labels, end=end_ts, harm_weights=harm)
        with _atomic(out) as tmp:
            frame.to_parquet(tmp, index=False)
    except TriageError as exc:
        raise fail(exc) from None
    table = Table(
        title=f"labels of {len(frame):,} incidents; the model predicts {model.label}",
        title_justify="left",
    )
    for column in ("label", "window", "observed", "positives", "label rate", "censored"):
        table.add_column(column, justify="left" if column == "label" else "right")
    for lab in model.labels:
        s = label_summary(frame, lab.name)
        table.add_row(
            lab.name,
            f"{lab.window_days} d",
            f"{s['observed']:,}",
            f"{s['positives']:,}",
            f"{s['rate']:.1%}",
            f"{s['censored']:,}",
        )
    console.print(table)
    console.print(f"written to {out}")


@app.command("splits")
def splits(
    directory: DirectoryArg,
    spec: ModelSpecOpt = Path(DEFAULT_MODEL_SPEC),
    png: Annotated[
        Path | None, typer.Option("--png", help="Also save the splits as a timeline picture.")
    ] = None,
    end: EndOpt = None,
    mapping: MappingOpt = None,
    harm_weights: HarmOpt = None,
) -> None:
    """Show the temporal splits of the model's label: training and test periods."""
    from triage.config import load_model_spec
    from triage.features.labels import build_labels
    from triage.models.temporal import make_splits, plot_plan

    end_ts = _end(end)
    try:
        model = load_model_spec(spec)
        harm = load_harm_weights(harm_weights)
        extract = _load(directory, mapping, harm)
        frame = build_labels(extract, model.target, end=end_ts, harm_weights=harm)
        plan = make_splits(frame, model.target, model.splits, end=end_ts or extract.end)
    except TriageError as exc:
        raise fail(exc) from None
    summary = plan.summary(frame)

    def last_day(exclusive_end: pd.Timestamp) -> pd.Timestamp:
        return exclusive_end - pd.Timedelta(days=1)

    table = Table(
        title=f"temporal splits of {plan.label} (label window {plan.window_days} d, "
        f"end {plan.end:%Y-%m-%d})",
        title_justify="left",
    )
    for column in (
        "split",
        "as of",
        "train rows",
        "train period",
        "test rows",
        "test period",
        "label rate (train / test)",
    ):
        table.add_column(column, justify="right" if "rows" in column else "left")
    for row in summary.to_dict("records"):
        final = row["split"] == "final"
        table.add_row(
            str(row["split"]),
            f"{row['as_of']:%Y-%m-%d}",
            f"{row['train_rows']:,}",
            f"{row['train_from']:%Y-%m-%d} – {row['train_to']:%Y-%m-%d}",
            "" if final else f"{row['test_rows']:,}",
            "" if final else f"{row['test_from']:%Y-%m-%d} – {last_day(row['test_to']):%Y-%m-%d}",
            f"{row['train_rate']:.1%}" + ("" if final else f" / {row['test_rate']:.1%}"),
        )
    console.print(table)
    if png is not None:
        with _atomic(png) as tmp:
            plot_plan(plan, frame).savefig(tmp, format="png", dpi=120)
        console.print(f"timeline written to {png}")
