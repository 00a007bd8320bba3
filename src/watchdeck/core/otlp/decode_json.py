"""OTLP/JSON bodies (``application/json``) → :class:`LogRecord` and :class:`Span` lists.

Read by hand, not with ``json_format``: OTLP/JSON's ids are hex (not base64) and its
64-bit integers are strings, and senders get the spelling wrong often enough to be lenient
about: snake_case keys as well as lowerCamelCase, enum names as well as numbers, numbers
as well as strings, base64 ids as gogo-jsonpb writes them (the spec asks receivers to
ignore unknown fields). Invalid UTF-8 is kept visible as ``\\xff`` text. The mapping itself
is :mod:`watchdeck.core.otlp.mapping`'s.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import re
from typing import Any

from watchdeck.core.logs.model import MAX_LINE_CHARS, LogRecord, cut
from watchdeck.core.otlp.mapping import (
    DROPPED_ATTRIBUTES,
    DROPPED_EVENTS,
    DROPPED_LINKS,
    MAX_ATTRIBUTES,
    MAX_KEY_CHARS,
    MAX_NAME_CHARS,
    MAX_VALUE_DEPTH,
    Decoded,
    OTLPDecodeError,
    ResourceCache,
    Skip,
    hex_id,
    level_of,
    note_dropped,
    reject_span,
    render,
    share,
    shared_resource,
    span_kind,
    span_status,
    valid_time,
    with_extras,
)
from watchdeck.core.otlp.spans import Span, SpanEvent, SpanKind, SpanLink, StatusCode


def _json_backslash(error: UnicodeError) -> tuple[str, int]:
    # Invalid bytes become the *text* "\xff" (an escaped backslash, so still valid inside a
    # JSON string): kept visible, as parse.decode() does for plain log lines.
    assert isinstance(error, UnicodeDecodeError)
    bad = error.object[error.start:error.end]
    return "".join(f"\\\\x{byte:02x}" for byte in bad), error.end


codecs.register_error("watchdeck-json-backslash", _json_backslash)

_SNAKE: dict[str, str] = {}
_UPPER = re.compile(r"([A-Z])")


def _get(obj: dict[str, Any], key: str) -> Any:
    """``obj[key]`` under its lowerCamelCase name (the spec's) or its snake_case one."""
    value = obj.get(key)
    if value is None:
        snake = _SNAKE.get(key)
        if snake is None:
            snake = _SNAKE[key] = _UPPER.sub(lambda found: "_" + found[1].lower(), key)
        value = obj.get(snake)
    return value


def _load_json(body: bytes, top_key: str) -> list[Any]:
    text = body.decode("utf-8", errors="watchdeck-json-backslash")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise OTLPDecodeError(f"invalid JSON: {error}") from None
    if not isinstance(data, dict):
        raise OTLPDecodeError(f"expected a JSON object with {top_key!r}")
    found = _get(data, top_key)
    if found is None:
        return []
    if not isinstance(found, list):
        raise OTLPDecodeError(f"{top_key!r} must be an array")
    return found


def _items(parent: object, *keys: str) -> list[dict[str, Any]]:
    """The objects in ``parent[key]`` (the first key present), skipping whatever is not
    an object."""
    if not isinstance(parent, dict):
        return []
    found = None
    for key in keys:
        found = _get(parent, key)
        if found is not None:
            break
    if not isinstance(found, list):
        return []
    return [item for item in found if isinstance(item, dict)]


def json_int(value: object) -> int:
    """int64 as OTLP/JSON writes it (a decimal string), or as a number; else 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, (str, float)):
        try:
            return int(value)
        except (ValueError, OverflowError):
            return 0
    return 0


_VALUE_KINDS = {
    "stringValue": "string", "string_value": "string", "intValue": "int",
    "int_value": "int", "boolValue": "bool", "bool_value": "bool", "doubleValue": "double",
    "double_value": "double", "bytesValue": "bytes", "bytes_value": "bytes",
    "arrayValue": "array", "array_value": "array", "kvlistValue": "kvlist",
    "kvlist_value": "kvlist",
}


def _json_value(value: object, depth: int = 0) -> object:
    if not isinstance(value, dict):
        # A bare value where an AnyValue belongs: taken as it is.
        return value if isinstance(value, (str, int, float, bool)) else None
    for key, inner in value.items():  # noqa: B007 (inner is read after the loop)
        kind = _VALUE_KINDS.get(key)
        if kind is not None:
            break
    else:
        return None
    if kind == "string":
        return inner if isinstance(inner, str) else render(inner)
    if kind == "int":
        if isinstance(inner, int) and not isinstance(inner, bool):
            return inner
        try:
            return int(inner) if isinstance(inner, str) else render(inner)
        except ValueError:
            return inner
    if kind == "bool":
        return inner if isinstance(inner, bool) else render(inner)
    if kind == "double":
        try:  # proto3 JSON also allows "NaN", "Infinity" and numbers as strings
            return float(inner) if isinstance(inner, (int, float, str)) and not isinstance(
                inner, bool) else render(inner)
        except ValueError:
            return inner
    if kind == "bytes":
        try:
            return base64.b64decode(str(inner), validate=True).hex()
        except (binascii.Error, ValueError):
            return render(inner)
    if depth >= MAX_VALUE_DEPTH:
        return "[nested too deep]"
    if kind == "array":
        values = inner.get("values") if isinstance(inner, dict) else inner
        if not isinstance(values, list):
            return None
        return [_json_value(item, depth + 1) for item in values[:MAX_ATTRIBUTES]]
    return {_key(pair): _json_value(pair.get("value"), depth + 1)
            for pair in _items(inner, "values")[:MAX_ATTRIBUTES]}


def _key(pair: dict[str, Any]) -> str:
    key = pair.get("key", "")
    return share(cut(key if isinstance(key, str) else str(key), MAX_KEY_CHARS))


def _json_attributes(parent: object, key: str = "attributes") -> dict[str, str] | None:
    pairs = _items(parent, key)
    dropped = json_int(_get(parent, "droppedAttributesCount")) if isinstance(
        parent, dict) else 0
    if len(pairs) > MAX_ATTRIBUTES:
        dropped += len(pairs) - MAX_ATTRIBUTES
        pairs = pairs[:MAX_ATTRIBUTES]
    found = {_key(pair): share(render(_json_value(pair.get("value"))))
             for pair in pairs} or None
    return note_dropped(found, DROPPED_ATTRIBUTES, dropped)


def _json_text(value: object, limit: int = MAX_NAME_CHARS) -> str:
    if value is None:
        return ""
    return cut(value if isinstance(value, str) else str(value), limit)


def _json_enum(value: object, names: dict[str, int], prefix: str) -> int:
    """An enum as a number, a numeric string or a name (``SPAN_KIND_SERVER``, ``server``);
    0 when it is none of them."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return 0
    text = value.strip().upper()
    if text.lstrip("-").isdigit():
        return int(text)
    return names.get(text, names.get(prefix + text, 0))


_SEVERITIES = {name: number for number, name in enumerate(
    ["SEVERITY_NUMBER_UNSPECIFIED"] + [f"SEVERITY_NUMBER_{level}{suffix}"
                                       for level in ("TRACE", "DEBUG", "INFO", "WARN",
                                                     "ERROR", "FATAL")
                                       for suffix in ("", "2", "3", "4")])}
_KINDS = {f"SPAN_KIND_{kind.name}": int(kind) for kind in SpanKind}
_STATUSES = {f"STATUS_CODE_{code.name}": int(code) for code in StatusCode}


def _json_id(text: object, size: int) -> str | None:
    """A hex id (any case), or a base64 one as gogo-jsonpb senders write it; None when
    empty, all zeros or not an id."""
    if not isinstance(text, str) or not text:
        return None
    raw: bytes | None = None
    if len(text) == size * 2:
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = None
    if raw is None:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return None
    return hex_id(raw, size)


def _scope_name(scoped: dict[str, Any]) -> str:
    info = _get(scoped, "scope")
    if info is None:
        info = _get(scoped, "instrumentationLibrary")  # OTLP before 0.15
    return _json_text(info.get("name")) if isinstance(info, dict) else ""


def logs_from_json(body: bytes, *, source: str = "", received_ns: int = 0,
                   resources: ResourceCache | None = None, limit: int | None = None
                   ) -> Decoded[LogRecord]:
    out: Decoded[LogRecord] = Decoded()
    groups = [(resource_logs, scope_logs, _items(scope_logs, "logRecords"))
              for resource_logs in _load_json(body, "resourceLogs")
              if isinstance(resource_logs, dict)
              for scope_logs in _items(resource_logs, "scopeLogs", "instrumentationLibraryLogs")]
    skip = Skip(sum(len(entries) for _, _, entries in groups), limit)
    out.skipped = skip.skipped
    labels: dict[str, str] | None = None
    last_resource: object = None
    for resource_logs, scope_logs, entries in groups:
        if resource_logs is not last_resource:
            last_resource = resource_logs
            labels = shared_resource(_json_attributes(_get(resource_logs, "resource")), resources)
        scope = _scope_name(scope_logs)
        for entry in skip.rest(entries):
            text = _json_text(_get(entry, "severityText"), MAX_KEY_CHARS)
            number = _json_enum(_get(entry, "severityNumber"), _SEVERITIES,
                                "SEVERITY_NUMBER_")
            out.items.append(LogRecord(
                time_ns=valid_time(json_int(_get(entry, "timeUnixNano")),
                              json_int(_get(entry, "observedTimeUnixNano")))
                or received_ns,
                message=render(_json_value(_get(entry, "body"))),
                level=level_of(number, text),
                fields=with_extras(_json_attributes(entry), scope,
                                    _json_text(_get(entry, "eventName"))),
                labels=labels,
                trace_id=_json_id(_get(entry, "traceId"), 16),
                span_id=_json_id(_get(entry, "spanId"), 8),
                source=source,
            ))
    return out


def _json_span(entry: dict[str, Any], trace_id: str, span_id: str, received_ns: int,
               service: str, resource: dict[str, str] | None, scope: str) -> Span:
    start = valid_time(json_int(_get(entry, "startTimeUnixNano"))) or received_ns
    attributes = _json_attributes(entry)
    events_in = _items(entry, "events")
    events = [SpanEvent(valid_time(json_int(_get(event, "timeUnixNano"))) or start,
                        _json_text(event.get("name")), _json_attributes(event))
              for event in events_in[:MAX_ATTRIBUTES]] or None
    attributes = note_dropped(
        attributes, DROPPED_EVENTS, json_int(_get(entry, "droppedEventsCount"))
        + max(0, len(events_in) - MAX_ATTRIBUTES))
    links_in = _items(entry, "links")
    links = [SpanLink(link_trace, link_span, _json_attributes(link))
             for link in links_in[:MAX_ATTRIBUTES]
             if (link_trace := _json_id(_get(link, "traceId"), 16))
             and (link_span := _json_id(_get(link, "spanId"), 8))] or None
    attributes = note_dropped(
        attributes, DROPPED_LINKS, json_int(_get(entry, "droppedLinksCount"))
        + max(0, len(links_in) - MAX_ATTRIBUTES))
    status = _get(entry, "status")
    status = status if isinstance(status, dict) else {}
    return Span(
        trace_id=trace_id, span_id=span_id,
        parent_span_id=_json_id(_get(entry, "parentSpanId"), 8),
        name=share(_json_text(entry.get("name"))),
        start_ns=start,
        end_ns=valid_time(json_int(_get(entry, "endTimeUnixNano"))) or start,
        service=service,
        kind=span_kind(_json_enum(entry.get("kind"), _KINDS, "SPAN_KIND_")),
        status=span_status(_json_enum(status.get("code"), _STATUSES, "STATUS_CODE_")),
        status_message=_json_text(status.get("message"), MAX_LINE_CHARS),
        attributes=attributes, events=events, links=links,
        resource=resource, scope=scope,
    )


def spans_from_json(body: bytes, *, received_ns: int = 0,
                    resources: ResourceCache | None = None, limit: int | None = None
                    ) -> Decoded[Span]:
    return spans_from_resource_spans(_load_json(body, "resourceSpans"),
                                     received_ns=received_ns, resources=resources,
                                     limit=limit)


def spans_from_resource_spans(resource_spans_list: list[Any], *, received_ns: int = 0,
                              resources: ResourceCache | None = None,
                              limit: int | None = None) -> Decoded[Span]:
    """The spans of an already parsed ``resourceSpans`` list (what Jaeger's and Tempo's
    JSON answers hold), read as :func:`spans_from_json` reads a request body."""
    out: Decoded[Span] = Decoded()
    groups = [(resource_spans, scope_spans, _items(scope_spans, "spans"))
              for resource_spans in resource_spans_list
              if isinstance(resource_spans, dict)
              for scope_spans in _items(resource_spans, "scopeSpans",
                                        "instrumentationLibrarySpans")]
    skip = Skip(sum(len(entries) for _, _, entries in groups), limit)
    out.skipped = skip.skipped
    resource: dict[str, str] | None = None
    last_resource: object = None
    for resource_spans, scope_spans, entries in groups:
        if resource_spans is not last_resource:
            last_resource = resource_spans
            resource = shared_resource(_json_attributes(_get(resource_spans, "resource")),
                                       resources)
        service = (resource or {}).get("service.name", "")
        scope = _scope_name(scope_spans)
        for entry in skip.rest(entries):
            trace_id = _json_id(_get(entry, "traceId"), 16)
            span_id = _json_id(_get(entry, "spanId"), 8)
            if trace_id is None or span_id is None:
                reject_span(out)
                continue
            out.items.append(_json_span(entry, trace_id, span_id, received_ns, service,
                                        resource, scope))
    return out
