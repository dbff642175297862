"""mash-triage: point-in-time features, escalation models, audits and a ranked daily
queue for Multi-Agency Safeguarding Hubs.

The model supports professional judgement; it never replaces it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mash-triage")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]
