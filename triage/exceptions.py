"""Every error the library raises on purpose derives from one base::

    TriageError
    ├── ConfigError           a spec or setting is missing, malformed or unsafe
    ├── SchemaError           an extract breaks the data contract (carries every problem)
    ├── LeakageError          a computation would read records from its own future
    ├── ModelNotFoundError    no such model, version or alias in the registry
    ├── BundleIntegrityError  a saved model bundle is incomplete, altered or unreadable
    ├── PromotionRefused      a promotion or rollback the gates (or the registry) refuse
    ├── AuthError             a missing, unknown or revoked API key
    │   └── Forbidden         a valid key whose role does not grant the route
    ├── ModelUnavailable      the service has no model loaded, so nothing can be scored
    ├── ConflictError         a re-sent incident or order differs from the stored one
    ├── NotFoundError         no such incident (or other record) in the store
    ├── StoreBusy             other writers held the store past the busy timeout
    └── PageProblem           a web page that cannot be shown (rendered as HTML)

Callers (the CLI, the service) catch ``TriageError`` and render it; anything else
is a bug.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from triage.contract.checks import Problem

__all__ = [
    "AuthError",
    "BundleIntegrityError",
    "ConfigError",
    "ConflictError",
    "Forbidden",
    "LeakageError",
    "ModelNotFoundError",
    "ModelUnavailable",
    "NotFoundError",
    "PageProblem",
    "PromotionRefused",
    "SchemaError",
    "StoreBusy",
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


class PromotionRefused(TriageError):
    """A promotion or rollback was refused (a gate failed, or there is nothing to do)."""


class AuthError(TriageError):
    """An API key is missing, unknown, revoked or lacks the role a route needs."""


class Forbidden(AuthError):
    """An authenticated key whose role does not grant the route."""


class ModelUnavailable(TriageError):
    """No model is loaded, so nothing can be scored."""


class ConflictError(TriageError):
    """Re-sent incidents or orders differ from what the store holds under the same ids
    (people change by versions instead). ``conflicts`` names them for the command line;
    the service answers without them, so its answer is no oracle."""

    def __init__(self, conflicts: dict[str, list[str]]) -> None:
        self.conflicts = conflicts
        named = "; ".join(f"{t}: {', '.join(ids)}" for t, ids in conflicts.items())
        super().__init__(f"already stored with different content ({named})")


class NotFoundError(TriageError):
    """No such incident (or other record) in the store."""


class StoreBusy(TriageError):
    """Other writers held the store for longer than the busy timeout; nothing was
    written, and the same request may simply be sent again."""

    retry_after = 1  # seconds


class PageProblem(TriageError):
    """A page that cannot be shown: rendered as an HTML page with ``status``, or a
    redirect to the sign-in page when ``status`` is 401."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
