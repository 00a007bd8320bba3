"""Series selectors (``name{label="value", other=~"re"}``) as used by ``match[]``."""

from __future__ import annotations

import re

from watchdeck.core.engine.matchers import Matcher

_NAME = re.compile(r"\s*([A-Za-z_:][A-Za-z0-9_:]*)")
_LABEL = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*")
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "a": "\a", "b": "\b",
            "f": "\f", "r": "\r", "v": "\v"}


class SelectorError(ValueError):
    pass


def _string(text: str, pos: int) -> tuple[str, int]:
    quote = text[pos] if pos < len(text) else ""
    if quote not in ('"', "'", "`"):
        raise SelectorError(f"expected a quoted string at position {pos}")
    pos += 1
    out = []
    while pos < len(text):
        char = text[pos]
        if char == quote:
            return "".join(out), pos + 1
        if char == "\\" and quote != "`":
            pos += 1
            if pos >= len(text):
                break
            escaped = text[pos]
            if escaped not in _ESCAPES:
                raise SelectorError(f"unknown escape sequence \\{escaped}")
            out.append(_ESCAPES[escaped])
        else:
            out.append(char)
        pos += 1
    raise SelectorError("unterminated quoted string")


def parse_selector(text: str) -> list[Matcher]:
    """Matchers of a series selector; at least one must not match the empty string."""
    pos = 0
    matchers: list[Matcher] = []
    name = _NAME.match(text, pos)
    if name:
        matchers.append(Matcher("__name__", "=", name.group(1)))
        pos = name.end()
    rest = text[pos:].strip()
    if rest:
        pos = text.index("{", pos) if rest.startswith("{") else -1
        if pos < 0:
            raise SelectorError(f"unexpected {rest[:20]!r} in selector")
        pos += 1
        while True:
            while pos < len(text) and text[pos] in " \t\n,":
                pos += 1
            if pos < len(text) and text[pos] == "}":
                pos += 1
                break
            label = _LABEL.match(text, pos)
            if not label:
                raise SelectorError(f"bad label matcher at position {pos} in {text!r}")
            value, pos = _string(text, label.end())
            try:
                matchers.append(Matcher(label.group(1), label.group(2), value))
            except ValueError as error:
                raise SelectorError(str(error)) from None
        if text[pos:].strip():
            raise SelectorError(f"unexpected {text[pos:].strip()[:20]!r} after selector")
    if not matchers or all(m.matches_empty() for m in matchers):
        raise SelectorError(
            "a selector needs at least one matcher that does not match the empty string")
    return matchers
