"""Keys never reach the access log. A browser or a script may put a key in a URL
(``?api_key=...``): the access log shows no query string of a protected route at
all, and on the open routes (``/health``, sign-in) any key-like parameter's value
is replaced."""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlencode

__all__ = ["ACCESS_LOGGER", "RedactQuery", "install_access_log_filter", "redact_path"]

ACCESS_LOGGER = "uvicorn.access"
#: routes that need no key: their query strings are logged, keys redacted
_OPEN_PATHS = frozenset({"/", "/health", "/login"})
_KEY_LIKE = re.compile(r"key|token|secret|pass|auth|session|csrf|cred", re.IGNORECASE)
HIDDEN = "[hidden]"


def redact_path(full_path: str) -> str:
    """A request path as the access log may show it."""
    path, sep, query = full_path.partition("?")
    if not sep:
        return full_path
    if path not in _OPEN_PATHS:
        return f"{path}?{HIDDEN}"
    pairs = parse_qsl(query, keep_blank_values=True)
    shown = [(k, HIDDEN if _KEY_LIKE.search(k) else v) for k, v in pairs]
    return f"{path}?{urlencode(shown, safe='/[]')}"


class RedactQuery(logging.Filter):
    """Rewrites uvicorn's access-log record (client, method, path, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], redact_path(args[2]), args[3], args[4])
        return True


def install_access_log_filter() -> None:
    """Put :class:`RedactQuery` on uvicorn's access logger, once (logging configured
    later by uvicorn keeps a logger's filters)."""
    log = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactQuery) for f in log.filters):
        log.addFilter(RedactQuery())
