"""The ``triage`` command. Each subcommand group lives in its own module and
registers itself on the one typer app; the library underneath returns values and
raises ``TriageError``, and only this package renders."""

from __future__ import annotations

from triage.cli import (  # noqa: F401 (each registers its commands)
    _audit,
    _demo,
    _features,
    _models,
    _queue,
    _service,
    _synth,
    _transparency,
    _validate,
)
from triage.cli._app import app, main

__all__ = ["app", "main"]
