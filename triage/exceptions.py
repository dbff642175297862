"""Every error the library raises on purpose derives from one base::

    TriageError
    ├── ConfigError          a spec or setting is missing, malformed or unsafe
    ├── SchemaError          an extract breaks the data contract (carries every problem)
    ├── LeakageError         a computation would read records from its own future
    ├── ModelNotFoundError   no such model, version or alias in the registry
    ├── BundleIntegrityError a saved model bundle is incomplete, altered or unreadable
    └── AuthError            a missing, unknown or under-privileged API key

Callers (the CLI, the service) catch ``TriageError`` and render it; anything else
is a bug.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from triage.schema import Problem

__all__ = [
    "AuthError",
    "BundleIntegrityError",
    "ConfigError",
    "LeakageError",
    "ModelNotFoundError",
    "SchemaError",
    "TriageError",
]


class TriageError(Exception):
    """Base of every deliberate error in mash-triage."""


class ConfigError(TriageError):
    """A spec file or runtime setting is missing, malformed or unsafe."""


class SchemaError(TriageError):
    """An extract breaks the data contract; ``problems`` lists every breach found."""

    def __init__(self, problems: Sequence[Problem], message: str | None = None) -> None:
        self.problems = list(problems)
        n = len(self.problems)
        super().__init__(message or f"the extract breaks the data contract ({n} problem(s))")


class LeakageError(TriageError):
    """A computation would use records reported at or after its own knowledge time."""


class ModelNotFoundError(TriageError):
    """The registry holds no such model, version or alias."""


class BundleIntegrityError(TriageError):
    """A model bundle's file is missing, does not match its recorded sha256, or cannot
    be read; the message names the file. Nothing from such a bundle is used."""


class AuthError(TriageError):
    """An API key is missing, unknown, revoked or lacks the role a route needs."""
