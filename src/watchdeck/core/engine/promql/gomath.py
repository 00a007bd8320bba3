"""Float arithmetic and formatting with Go's semantics.

Prometheus is written in Go; Python's float operations differ at the edges (``x / 0``
raises, ``math.fmod(inf, 1)`` raises, ``math.floor`` returns an int and loses ``-0``,
``min``/``max`` ignore NaN depending on argument order). Every operation whose result the
engine reports goes through these helpers so that edge cases give Prometheus's answers.
"""

from __future__ import annotations

import math
from decimal import Decimal

INF = math.inf
NAN = math.nan


def go_div(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0:
            return NAN
        return math.copysign(INF, a) * math.copysign(1.0, b)


def go_mod(a: float, b: float) -> float:
    """Go's math.Mod (C's fmod): NaN for infinite ``a``, zero or NaN ``b``."""
    if a != a or b != b or b == 0 or math.isinf(a):
        return NAN
    if math.isinf(b):
        return a
    return math.fmod(a, b)


def _is_odd_integer(y: float) -> bool:
    return math.isfinite(y) and y == math.floor(y) and abs(y) < 2**53 and int(y) % 2 == 1


def go_pow(x: float, y: float) -> float:
    """Go's math.Pow, which follows C99's special cases without raising."""
    try:
        return math.pow(x, y)
    except OverflowError:
        if x < 0 and _is_odd_integer(y):
            return -INF
        return INF
    except ValueError:
        if x == 0:  # 0 ** negative
            if _is_odd_integer(y):
                return math.copysign(INF, x)
            return INF
        return NAN  # negative base, non-integer exponent


def go_floor(x: float) -> float:
    if not math.isfinite(x):
        return x
    r = float(math.floor(x))
    return math.copysign(0.0, x) if r == 0 else r


def go_ceil(x: float) -> float:
    if not math.isfinite(x):
        return x
    r = float(math.ceil(x))
    return math.copysign(0.0, x) if r == 0 else r


def go_max(x: float, y: float) -> float:
    """Go's math.Max: +Inf wins, then NaN, and +0 beats -0."""
    if x == INF or y == INF:
        return INF
    if x != x or y != y:
        return NAN
    if x == 0 and x == y:
        return y if math.copysign(1.0, x) < 0 else x
    return x if x > y else y


def go_min(x: float, y: float) -> float:
    """Go's math.Min: -Inf wins, then NaN, and -0 beats +0."""
    if x == -INF or y == -INF:
        return -INF
    if x != x or y != y:
        return NAN
    if x == 0 and x == y:
        return x if math.copysign(1.0, x) < 0 else y
    return x if x < y else y


def _fixed(value: float) -> str:
    """Shortest round-trip digits in plain decimal notation (Go's 'f' with -1)."""
    text = repr(value)
    if "e" in text:  # repr switched to exponent form: spell the digits out
        text = format(Decimal(text), "f")
    return text[:-2] if text.endswith(".0") else text


def _special(value: float) -> str | None:
    if value != value:
        return "NaN"
    if value == INF:
        return "+Inf"
    if value == -INF:
        return "-Inf"
    return None


def format_scalar(value: float) -> str:
    """strconv.FormatFloat(v, 'f', -1, 64): how Prometheus writes a scalar's value."""
    return _special(value) or _fixed(value)


def format_value(value: float) -> str:
    """How Prometheus's API writes a vector or matrix sample's value: like
    :func:`format_scalar`, but in exponent form below 1e-6 and from 1e21 on."""
    special = _special(value)
    if special is not None:
        return special
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        return _exponent(value)
    return _fixed(value)


def _exponent(value: float) -> str:
    """Go's 'e' format with the shortest digits: ``1.5e-07``, ``1e+21``."""
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    power = len(digits) + int(exponent) - 1
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"


def format_go_v(value: float) -> str:
    """Go's ``%v`` of a float64 (used in error messages): shortest digits, in exponent
    form below 1e-4 and from 1e6 on (``%g`` with the shortest precision)."""
    special = _special(value)
    if special is not None:
        return special
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-4 or magnitude >= 1e6):
        return _exponent(value)
    return _fixed(value)


_SPECIAL_FLOATS = {"inf": INF, "+inf": INF, "-inf": -INF, "infinity": INF,
                   "+infinity": INF, "-infinity": -INF, "nan": NAN}


def parse_go_float(text: str) -> float:
    """strconv.ParseFloat(text, 64): raises ValueError where Go returns an error
    (including out-of-range values, which Go answers with ±Inf *and* an error)."""
    lowered = text.lower()
    special = _SPECIAL_FLOATS.get(lowered)
    if special is not None:
        return special
    if not text or text != text.strip() or "_" in text:
        # Python accepts surrounding blanks and digit separators; Go does not.
        raise ValueError(text)
    body = lowered.lstrip("+-")
    if body.startswith("0x"):
        if "p" not in body:  # Go requires the binary exponent of a hex float
            raise ValueError(text)
        value = float.fromhex(lowered)
    else:
        if not body or not (body[0].isdigit() or body[0] == "."):
            raise ValueError(text)
        value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text}: value out of range")
    return value


def go_parse_int0(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64) for what the PromQL lexer produces: decimal, hex
    (``0x``) and octal (a leading ``0``). None where Go would fail."""
    body = text
    try:
        if body[:2] in ("0x", "0X"):
            value = int(body[2:], 16) if body[2:] else None
        elif len(body) > 1 and body[0] == "0":
            value = int(body[1:], 8)
        else:
            value = int(body, 10)
    except ValueError:
        return None
    if value is None or not -(2**63) <= value < 2**63:
        return None
    return value


def go_quote(text: str) -> str:
    """strconv.Quote: double-quoted with Go's escapes (for error messages)."""
    out = ['"']
    for char in text:
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        else:
            code = ord(char)
            if code < 0x80:
                out.append(f"\\x{code:02x}")
            elif code <= 0xFFFF:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
               "\t": "\\t", "\v": "\\v"}


def labels_string(labels: dict[str, str]) -> str:
    """labels.Labels.String(): ``{a="1", b="2"}`` sorted by name."""
    return "{" + ", ".join(f"{k}={go_quote(v)}" for k, v in sorted(labels.items())) + "}"
