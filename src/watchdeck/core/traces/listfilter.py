"""What a user types in the trace list's filter box, as a :class:`TraceQuery`.

Words, all of which must hold: ``service=vllm``, ``op=llm_request`` (also ``operation=``,
``name=``), ``status=error`` (or ``ok``, ``any``), ``>500ms`` / ``<2s`` (the trace's
duration; ``>=`` and ``<=`` too), and any other ``key=value`` as a span attribute
(``http.route=/v1/chat/completions``, ``resource.k8s.pod.name=vllm-0``). Values with
spaces go in quotes. Text that starts with ``{`` is plain TraceQL, read by
:func:`watchdeck.core.traces.traceql.parse` (and sent as it is to Tempo).
"""

from __future__ import annotations

import re
import shlex

from watchdeck.core.traces.source import TraceQuery
from watchdeck.core.traces.traceql import TraceQLError, go_duration, parse

_DURATION = re.compile(r"(>=|<=|>|<)\s*(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
          "h": 3600 * 10**9}
_SERVICE = ("service", "service.name", "resource.service.name")
_OPERATION = ("op", "operation", "name")


class TraceFilterError(ValueError):
    """The filter text cannot be read; the message says where."""


def parse_trace_filter(text: str) -> TraceQuery:
    """``text`` as a query (no window, default limit); empty text is the empty query."""
    text = text.strip()
    if not text:
        return TraceQuery()
    if text.startswith("{"):
        try:
            parsed = parse(text)
        except TraceQLError as error:
            raise TraceFilterError(f"TraceQL: {error}") from None
        return TraceQuery(service=parsed.service, operation=parsed.operation,
                          min_duration_ns=parsed.min_duration_ns,
                          max_duration_ns=parsed.max_duration_ns, status=parsed.status,
                          attributes=parsed.attributes, query=text)
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise TraceFilterError(f"cannot read the filter: {error}") from None
    fields: dict[str, object] = {}
    attributes: dict[str, str] = {}
    for word in words:
        duration = _DURATION.fullmatch(word)
        if duration is not None:
            op, number, unit = duration.groups()
            ns = round(float(number) * _UNITS[unit])
            if op.startswith(">"):
                fields["min_duration_ns"] = ns + (op == ">")
            else:
                fields["max_duration_ns"] = max(0, ns - (op == "<"))
            continue
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise TraceFilterError(
                f"{word!r}: expected key=value, status=error or a duration like >500ms")
        lowered = key.lower()
        if lowered in _SERVICE:
            fields["service"] = value
        elif lowered in _OPERATION:
            fields["operation"] = value
        elif lowered == "status":
            if value.lower() not in ("error", "ok", "any"):
                raise TraceFilterError(f"status={value}: expected error, ok or any")
            fields["status"] = value.lower()
        else:
            attributes[key] = value
    try:
        return TraceQuery(attributes=attributes, **fields)  # type: ignore[arg-type]
    except ValueError as error:
        raise TraceFilterError(str(error)) from None


def describe_trace_filter(query: TraceQuery) -> str:
    """The words that :func:`parse_trace_filter` reads back as ``query``."""
    if query.query and query.query.startswith("{"):
        return query.query
    words: list[str] = []
    if query.service is not None:
        words.append(f"service={query.service}")
    if query.operation is not None:
        words.append(f"op={query.operation}")
    if query.status != "any":
        words.append(f"status={query.status}")
    if query.min_duration_ns is not None:
        words.append(f">={go_duration(query.min_duration_ns)}")
    if query.max_duration_ns is not None:
        words.append(f"<={go_duration(query.max_duration_ns)}")
    words.extend(f"{key}={value}" for key, value in query.attributes.items())
    return " ".join(shlex.quote(word) for word in words)
