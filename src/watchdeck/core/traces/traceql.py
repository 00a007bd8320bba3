"""The text forms a trace query comes in: TraceQL (built from a :class:`TraceQuery` for
Tempo, and its plain ``{ a = "x" && b > 1s }`` form read back for backends without it),
logfmt tags (Tempo's ``tags=`` and Jaeger's Tags field), and Go durations.

Strings are written the way TraceQL's lexer reads them (Go's quoting: ``\\"``, ``\\\\``,
``\\n``, ``\\xNN``...). Attribute values are text in the trace model, but TraceQL compares
typed values: a value that reads as a number or a boolean matches either form
(``(.code = 500 || .code = "500")``).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from watchdeck.core.traces.source import TraceQuery, split_scope

SERVICE_ATTRIBUTE = "resource.service.name"
_GO_UNITS = (("h", 3600 * 10**9), ("m", 60 * 10**9), ("s", 10**9), ("ms", 10**6),
             ("us", 10**3))
_DURATION_UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9,
                   "m": 60 * 10**9, "h": 3600 * 10**9}
_ESCAPES = {ord('"'): '\\"', ord("\\"): "\\\\", ord("\n"): "\\n", ord("\r"): "\\r",
            ord("\t"): "\\t"}
_ESCAPES.update({code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F]
                 if code not in _ESCAPES})
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-/]*")
_INT = re.compile(r"-?\d+")
_FLOAT = re.compile(r"-?\d+\.\d+")


class TraceQLError(ValueError):
    """Text outside the TraceQL this module reads."""


def go_duration(ns: int) -> str:
    """``ns`` as a Go duration string (``1500ms``, ``2s``, ``250us``) in its largest exact
    unit; Jaeger, Tempo and TraceQL all read these."""
    if ns <= 0:
        return "0s"
    for unit, size in _GO_UNITS:
        if ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"


def traceql_string(text: str) -> str:
    """``text`` as a TraceQL double-quoted string."""
    return '"' + text.translate(_ESCAPES) + '"'


def traceql_attribute(key: str) -> str:
    """A TraceQL attribute reference: ``http.route`` → ``.http.route``,
    ``span.a b`` → ``span."a b"``."""
    scope, name = split_scope(key)
    if _PLAIN_NAME.fullmatch(name):
        return f"{scope}.{name}"
    return f"{scope}.{traceql_string(name)}"


def _value_condition(attribute: str, value: str) -> str:
    text = f"{attribute} = {traceql_string(value)}"
    if _INT.fullmatch(value) or _FLOAT.fullmatch(value) or value in ("true", "false"):
        return f"({attribute} = {value} || {text})"
    return text


def conditions(query: TraceQuery) -> list[str]:
    """The query's fields as TraceQL conditions on one span (trace-level durations)."""
    found: list[str] = []
    if query.service is not None:
        found.append(f"{SERVICE_ATTRIBUTE} = {traceql_string(query.service)}")
    if query.operation is not None:
        found.append(f"name = {traceql_string(query.operation)}")
    if query.status != "any":
        found.append(f"status = {query.status}")
    for key, value in query.attributes.items():
        found.append(_value_condition(traceql_attribute(key), value))
    if query.min_duration_ns is not None:
        found.append(f"traceDuration >= {go_duration(query.min_duration_ns)}")
    if query.max_duration_ns is not None:
        found.append(f"traceDuration <= {go_duration(query.max_duration_ns)}")
    return found


def to_traceql(query: TraceQuery) -> str:
    """The TraceQL for ``query``: its raw ``query`` as written when nothing else is asked;
    else one spanset with every condition, the raw query's too when it is plain
    (:func:`parse`), or ``(raw) && { ... }`` when it is not."""
    raw = query.query
    if raw is not None and not query.has_span_conditions:
        return raw
    if raw is not None:
        try:
            parsed = parse(raw)
        except TraceQLError:
            return f"({raw}) && {{ {' && '.join(conditions(query))} }}"
        wanted = [*conditions(parsed), *conditions(replace(query, query=None))]
        unique = list(dict.fromkeys(wanted))
        return "{ " + " && ".join(unique) + " }"
    found = conditions(query)
    return "{ " + " && ".join(found) + " }" if found else "{}"


# --- reading plain TraceQL back -----------------------------------------------------------

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<op>&&|>=|<=|!=|=~|!~|\|\||[{}()=<>!|])
    | (?P<duration>\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))(?![\w.])
    | (?P<number>-?\d+(?:\.\d+)?)(?![\w.])
    | (?P<name>[A-Za-z_]*[.:]?(?:"(?:[^"\\]|\\.)*"|[^\s{}()=<>!&|~,"]+))
    )""", re.VERBOSE)
_UNESCAPE = re.compile(r'\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)', re.DOTALL)
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "a": "\a", "b": "\b", "f": "\f",
                   "v": "\v", "\\": "\\", '"': '"', "'": "'"}
_SERVICE_NAMES = {"resource.service.name", ".service.name"}
_NAME_NAMES = {"name", "span:name"}
_STATUS_NAMES = {"status", "span:status"}
_DURATION_NAMES = {"duration", "span:duration", "traceDuration", "trace:duration"}
_SCOPES = ("resource.", "span.", ".")


def _unquote(text: str) -> str:
    def one(found: re.Match[str]) -> str:
        code = found[1]
        if code[0] in "xuU" and len(code) > 1:
            return chr(int(code[1:], 16))
        if code in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[code]
        raise TraceQLError(f"unknown escape \\{code} in a string")
    return _UNESCAPE.sub(one, text[1:-1])


def _tokens(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    position = 0
    stripped = text.rstrip()
    while position < len(stripped):
        match = _TOKEN.match(stripped, position)
        if match is None or match.end() == position:
            raise TraceQLError(f"cannot read {stripped[position:position + 20]!r}")
        kind = match.lastgroup
        assert kind is not None
        found.append((kind, match[kind]))
        position = match.end()
    return found


def _attribute_name(token: str) -> str | None:
    """The attribute key a name token refers to (scope kept), None if it is none."""
    for scope in _SCOPES:
        if token.startswith(scope) and len(token) > len(scope):
            rest = token[len(scope):]
            name = _unquote(rest) if rest.startswith('"') else rest
            return ("" if scope == "." else scope) + name
    return None


def _duration(text: str) -> int:
    number = re.match(r"\d+(?:\.\d+)?", text)
    assert number is not None
    return round(float(number[0]) * _DURATION_UNITS[text[number.end():]])


def parse(text: str) -> TraceQuery:
    """Plain TraceQL as a :class:`TraceQuery`: one spanset of ``&&``-joined conditions,
    each ``service = "x"`` (``resource.service.name``), ``name = "op"``, ``status =
    error|ok``, a duration compared with ``>``, ``>=``, ``<``, ``<=`` or an attribute
    ``= value``. Anything else (``||``, ``!=``, regexes, pipelines, structure) raises
    :class:`TraceQLError`; so does a field given twice with different values."""
    tokens = _tokens(text)
    if len(tokens) < 2 or tokens[0] != ("op", "{") or tokens[-1] != ("op", "}"):
        raise TraceQLError("not a single { ... } spanset")
    body = tokens[1:-1]
    fields: dict[str, Any] = {}
    attributes: dict[str, str] = {}
    index = 0
    while index < len(body):
        if len(body) - index < 3:
            raise TraceQLError("a condition is cut short")
        (kind, name), (op_kind, op), (value_kind, value) = body[index:index + 3]
        if kind != "name" or op_kind != "op":
            raise TraceQLError(f"expected a condition, found {name!r}")
        _condition(name, op, value_kind, value, fields, attributes)
        index += 3
        if index < len(body):
            if body[index] != ("op", "&&"):
                raise TraceQLError(f"only && joins conditions here, not {body[index][1]!r}")
            index += 1
            if index == len(body):
                raise TraceQLError("&& at the end")
    return TraceQuery(attributes=attributes, **fields)  # type: ignore[arg-type]


def _set(fields: dict[str, Any], key: str, value: object) -> None:
    if key in fields and fields[key] != value:
        raise TraceQLError(f"{key} is given twice")
    fields[key] = value


def _condition(name: str, op: str, value_kind: str, value: str, fields: dict[str, Any],
               attributes: dict[str, str]) -> None:
    if name in _DURATION_NAMES:
        if value_kind != "duration" or op not in (">", ">=", "<", "<="):
            raise TraceQLError(f"{name} takes >, >=, < or <= and a duration like 500ms")
        ns = _duration(value)
        if op.startswith(">"):
            low = ns + (op == ">")
            fields["min_duration_ns"] = max(low, int(fields.get("min_duration_ns", 0)))
        else:
            high = max(0, ns - (op == "<"))
            current = fields.get("max_duration_ns")
            fields["max_duration_ns"] = high if current is None else min(high, int(current))
        return
    if op != "=":
        raise TraceQLError(f"only = is understood for {name}, not {op}")
    if name in _STATUS_NAMES:
        if value_kind != "name" or value not in ("error", "ok"):
            raise TraceQLError("status takes error or ok")
        _set(fields, "status", value)
        return
    if value_kind == "string":
        text = _unquote(value)
    elif value_kind == "number" or (value_kind == "name" and value in ("true", "false")):
        text = value
    else:
        raise TraceQLError(f"{name} = {value}: expected a string, number or boolean")
    if name in _SERVICE_NAMES:
        _set(fields, "service", text)
    elif name in _NAME_NAMES:
        _set(fields, "operation", text)
    else:
        key = _attribute_name(name)
        if key is None:
            raise TraceQLError(f"{name} is not understood here")
        if key in attributes and attributes[key] != text:
            raise TraceQLError(f"{key} is given twice")
        attributes[key] = text


def combine(first: TraceQuery, second: TraceQuery) -> TraceQuery | None:
    """Both queries at once (the fields of both must hold; raw ``query`` and window from
    ``second``); None when they contradict each other, so nothing can match."""
    merged: dict[str, Any] = {}
    for key in ("service", "operation"):
        a, b = getattr(first, key), getattr(second, key)
        if a is not None and b is not None and a != b:
            return None
        merged[key] = a if a is not None else b
    if "any" not in (first.status, second.status) and first.status != second.status:
        return None
    merged["status"] = first.status if second.status == "any" else second.status
    attributes = dict(first.attributes)
    for key, value in second.attributes.items():
        if attributes.get(key, value) != value:
            return None
        attributes[key] = value
    lows = [v for v in (first.min_duration_ns, second.min_duration_ns) if v is not None]
    highs = [v for v in (first.max_duration_ns, second.max_duration_ns) if v is not None]
    low, high = (max(lows) if lows else None), (min(highs) if highs else None)
    if low is not None and high is not None and low > high:
        return None
    return replace(second, attributes=attributes, min_duration_ns=low, max_duration_ns=high,
                   **merged)  # type: ignore[arg-type]


# --- logfmt tags --------------------------------------------------------------------------

_LOGFMT = re.compile(r'\s*([^\s="]+)(?:=("(?:[^"\\]|\\.)*"|[^\s"]*))?')


def parse_logfmt(text: str) -> dict[str, str]:
    """``key=value key2="a b"`` as a dict (a bare ``key`` is ``key=""``); ValueError on
    text that is not logfmt (an unclosed quote)."""
    found: dict[str, str] = {}
    position = 0
    stripped = text.strip()
    while position < len(stripped):
        match = _LOGFMT.match(stripped, position)
        if match is None or match.end() == position:
            raise ValueError(f"not logfmt at {stripped[position:position + 20]!r}")
        value = match[2] or ""
        if value.startswith('"'):
            try:
                value = json.loads(value)
            except ValueError:
                value = _unquote(value)
        found[match[1]] = value
        position = match.end()
    return found


def logfmt(pairs: dict[str, str]) -> str:
    """``pairs`` as logfmt, quoting values that need it."""
    parts = []
    for key, value in pairs.items():
        if value == "" or re.search(r'[\s"=\\]', value) or not value.isprintable():
            value = json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}={value}")
    return " ".join(parts)
