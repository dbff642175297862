"""Options that several commands share, each defined once so its flags, help and
default read the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from triage.config import DEFAULT_FEATURE_SPEC, DEFAULT_MODEL_NAME, DEFAULT_MODEL_SPEC

__all__ = [
    "DEFAULT_FEATURE_SPEC",
    "DEFAULT_MODEL_NAME",
    "DEFAULT_MODEL_SPEC",
    "FeatureSpecOpt",
    "MappingOpt",
    "ModelOpt",
    "ModelSpecOpt",
    "TrackingOpt",
]

MappingOpt = Annotated[
    Path | None,
    typer.Option(
        "--mapping",
        "-m",
        help=(
            "Column-mapping YAML that renames and recodes a force's export onto the "
            "contract (see examples/mapping.example.yaml)."
        ),
        show_default=False,
    ),
]
TrackingOpt = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        help="MLflow tracking store of the registry.",
        show_default="TRIAGE_TRACKING_URI, else sqlite:///models/mlflow.db",
    ),
]
ModelOpt = Annotated[
    str,
    typer.Option(
        "--model", "--name", "--model-name", help="Registered model (named after its label)."
    ),
]
ModelSpecOpt = Annotated[Path, typer.Option("--spec", help="Model spec (labels, splits, model).")]
FeatureSpecOpt = Annotated[Path, typer.Option("--spec", help="Feature-set spec.")]
