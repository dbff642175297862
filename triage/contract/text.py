"""Characters a person cannot see. An id holding a zero-width space or a bidirectional
override looks identical to another id on every screen, so two people could be merged
or told apart by what nobody can read; a note of only such characters says nothing.

Python's ``re`` has no ``\\p{Cf}``, so the class is spelled out: control characters
(Cc), format characters (Cf: zero-width, bidirectional controls, the byte-order
mark, tag characters), line and paragraph separators and lone surrogates. A test
checks it against :mod:`unicodedata`.
"""

from __future__ import annotations

import re

__all__ = ["BAD_ID_PATTERN", "INVISIBLE", "has_visible_text", "shown"]

#: the body of a regex character class matching every invisible character
INVISIBLE = (
    "\\x00-\\x1f\\x7f-\\x9f\\xad\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u0890\\u0891\\u08e2"
    "\\u180e\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\ud800-\\udfff"
    "\\ufeff\\ufff9-\\ufffb\\U000110bd\\U000110cd\\U00013430-\\U0001343f"
    "\\U0001bca0-\\U0001bca3\\U0001d173-\\U0001d17a\\U000e0001\\U000e0020-\\U000e007f"
)
#: an id: 1-64 characters, no '/' and nothing invisible, and not '.' or '..' (which a
#: URL path or a folder name would read as a step, not a name)
BAD_ID_PATTERN = f"(?!\\.{{1,2}}\\Z)[^/{INVISIBLE}]{{1,64}}\\Z"
_INVISIBLE = re.compile(f"[{INVISIBLE}]")
_VISIBLE = re.compile(f"[^\\s{INVISIBLE}]")


def has_visible_text(text: str | None) -> bool:
    """True when ``text`` holds a character that is neither blank nor invisible."""
    return text is not None and _VISIBLE.search(text) is not None


def shown(text: str) -> str:
    """``text`` with each invisible character written as its escape (``\\u200b``), so a
    report shows what is there."""
    return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
