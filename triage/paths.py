"""Where shipped specs live.

Specs (``features/*.yaml``, ``models/*.yaml``, ``evaluation/*.yaml``) sit at the top of a
checkout so people can read and edit them; a wheel carries copies under
``triage/_specs``. A relative spec path is looked up in the working directory first,
then in the checkout this package came from, then in the wheel's copies.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["create_private_file", "spec_path"]

_PACKAGE = Path(__file__).resolve().parent
_CANDIDATE_ROOTS = (_PACKAGE.parent, _PACKAGE / "_specs")


def spec_path(relative: str | Path) -> Path:
    """Resolve a shipped spec such as ``features/default.yaml``."""
    rel = Path(relative)
    if rel.is_absolute() or rel.exists():
        return rel
    for root in _CANDIDATE_ROOTS:
        candidate = root / rel
        if candidate.exists():
            return candidate
    return rel


def create_private_file(path: str | Path) -> None:
    """Create ``path`` (and its folder) readable by its owner alone, unless it exists:
    a database file made this way before SQLite opens it keeps mode 0600, and SQLite
    gives its journal files the same mode."""
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
