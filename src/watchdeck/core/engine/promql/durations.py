"""Durations and string literals as PromQL writes them (Prometheus's model.ParseDuration
and strutil.Unquote)."""

from __future__ import annotations

import re

_DURATION = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_UNITS_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)
_MAX_NS = 2**63 - 1


def parse_duration_ms(text: str) -> int:
    """Milliseconds of a duration like ``1h30m``; ValueError with Prometheus's message."""
    if text == "0":
        return 0
    if text == "":
        raise ValueError("empty duration string")
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f'not a valid duration string: "{text}"')
    total = 0
    for part, unit in zip(match.groups(), _UNITS_MS):
        if part is None:
            continue
        total += int(part) * unit
        # time.Duration counts nanoseconds in an int64.
        if total * 1_000_000 > _MAX_NS:
            raise ValueError("duration out of range")
    return total


_SIMPLE_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92,
                   "'": 39, '"': 34}


def unquote(token: str) -> str:
    """The value of a string token (quotes included), with Go's escapes. ``\\x`` and octal
    escapes stand for bytes, as in Go; the bytes are read back as UTF-8."""
    quote, body = token[0], token[1:-1]
    if quote == "`":
        return body
    if "\\" not in body:
        return body
    out = bytearray()
    i = 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out += char.encode("utf-8", "surrogatepass")
            i += 1
            continue
        kind = body[i + 1]
        i += 2
        if kind in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[kind])
        elif kind == "x":
            out.append(int(body[i:i + 2], 16))
            i += 2
        elif kind in "uU":
            width = 4 if kind == "u" else 8
            out += chr(int(body[i:i + width], 16)).encode("utf-8")
            i += width
        else:  # octal: three digits
            out.append(int(body[i - 1:i + 2], 8) & 0xFF)
            i += 2
    return out.decode("utf-8", "surrogateescape")
