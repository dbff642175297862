"""Where shipped specs live.

Specs (``features/*.yaml``, ``models/*.yaml``, ``evaluation/*.yaml``) sit at the top of a
checkout so people can read and edit them; a wheel carries copies under
``triage/_specs``. A relative spec path is looked up in the working directory first,
then in the checkout this package came from, then in the wheel's copies.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["spec_path"]

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
