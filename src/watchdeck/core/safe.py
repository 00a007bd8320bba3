"""Neutralise untrusted text before it reaches the terminal.

Everything a backend sends (label values, error messages, annotations) may carry terminal
escape sequences, C0/C1 control characters, bidirectional overrides or invalid UTF-8. The
functions here make such text printable and inert: each dangerous character is replaced by
a visible escape (``\\x1b``, ``\\u202e``) so the user still sees that it was there.
Markup is a separate concern: the UI builds ``rich.text.Text`` objects from these strings
and never parses them as markup.
"""

from __future__ import annotations

import re

# C0 controls (tab kept out too: it breaks cell alignment), DEL, C1 controls,
# bidi embedding/override/isolate marks, line/paragraph separators, BOM/zero-width no-break.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def sanitize(text: object, max_length: int | None = None) -> str:
    """Return ``text`` as a single printable line with control characters escaped."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="backslashreplace")
    elif not isinstance(text, str):
        text = str(text)
    if max_length is not None and len(text) > max_length:
        text = text[:max_length] + "…"
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escape, text)


def sanitize_multiline(text: object, max_length: int | None = None) -> str:
    """Like :func:`sanitize` but keeps line breaks (for error bodies shown in a pane)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="backslashreplace")
    elif not isinstance(text, str):
        text = str(text)
    suffix = ""
    if max_length is not None and len(text) > max_length:
        text, suffix = text[:max_length], "…"
    return "\n".join(sanitize(line) for line in text.splitlines()) + suffix
