"""OTLP protobuf bodies (``application/x-protobuf``, what every OpenTelemetry SDK's HTTP
exporter sends) → :class:`LogRecord` and :class:`Span` lists, with ``opentelemetry-proto``'s
messages. The mapping itself is :mod:`watchdeck.core.otlp.mapping`'s.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

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
from watchdeck.core.otlp.spans import Span, SpanEvent, SpanLink


def _pb_value(value: Any, depth: int = 0) -> object:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind is None:
        return None
    if kind == "int_value":
        return value.int_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "double_value":
        return value.double_value
    if kind == "bytes_value":
        return value.bytes_value.hex()
    if depth >= MAX_VALUE_DEPTH:
        return "[nested too deep]"
    if kind == "array_value":
        return [_pb_value(item, depth + 1)
                for item in value.array_value.values[:MAX_ATTRIBUTES]]
    if kind == "kvlist_value":
        return {item.key: _pb_value(item.value, depth + 1)
                for item in value.kvlist_value.values[:MAX_ATTRIBUTES]}
    return None


def _pb_attributes(pairs: Any, dropped: int = 0) -> dict[str, str] | None:
    if not pairs:
        return note_dropped(None, DROPPED_ATTRIBUTES, dropped)
    out: dict[str, str] = {}
    if len(pairs) > MAX_ATTRIBUTES:
        dropped += len(pairs) - MAX_ATTRIBUTES
        pairs = pairs[:MAX_ATTRIBUTES]
    for pair in pairs:
        key = pair.key
        key = share(key) if len(key) <= MAX_KEY_CHARS else cut(key, MAX_KEY_CHARS)
        value = pair.value
        if value.WhichOneof("value") == "string_value":  # the usual case, made quick
            text = value.string_value
            out[key] = share(text) if len(text) <= MAX_LINE_CHARS else cut(text)
        else:
            out[key] = share(render(_pb_value(value)))
    return note_dropped(out, DROPPED_ATTRIBUTES, dropped)


def _parse(message: Any, body: bytes) -> None:
    try:
        message.ParseFromString(body)
    except (DecodeError, RecursionError) as error:
        name = type(message).__name__
        raise OTLPDecodeError(f"invalid protobuf {name}: {error}") from None


def logs_from_protobuf(body: bytes, *, source: str = "", received_ns: int = 0,
                       resources: ResourceCache | None = None, limit: int | None = None
                       ) -> Decoded[LogRecord]:
    request = ExportLogsServiceRequest()
    _parse(request, body)
    out: Decoded[LogRecord] = Decoded()
    append = out.items.append
    skip = Skip(sum(len(scope_logs.log_records) for resource_logs in request.resource_logs
                     for scope_logs in resource_logs.scope_logs), limit)
    out.skipped = skip.skipped
    for resource_logs in request.resource_logs:
        labels = shared_resource(_pb_attributes(resource_logs.resource.attributes), resources)
        for scope_logs in resource_logs.scope_logs:
            scope = cut(scope_logs.scope.name, MAX_NAME_CHARS)
            for entry in skip.rest(scope_logs.log_records):
                body_value = _pb_value(entry.body) if entry.HasField("body") else None
                fields = _pb_attributes(entry.attributes, entry.dropped_attributes_count)
                append(LogRecord(
                    time_ns=valid_time(entry.time_unix_nano, entry.observed_time_unix_nano)
                    or received_ns,
                    message=render(body_value),
                    level=level_of(entry.severity_number, entry.severity_text),
                    fields=with_extras(fields, scope,
                                        cut(getattr(entry, "event_name", ""), MAX_NAME_CHARS)),
                    labels=labels,
                    trace_id=hex_id(entry.trace_id, 16),
                    span_id=hex_id(entry.span_id, 8),
                    source=source,
                ))
    return out


def spans_from_protobuf(body: bytes, *, received_ns: int = 0,
                        resources: ResourceCache | None = None, limit: int | None = None
                        ) -> Decoded[Span]:
    request = ExportTraceServiceRequest()
    _parse(request, body)
    out: Decoded[Span] = Decoded()
    append = out.items.append
    skip = Skip(sum(len(scope_spans.spans) for resource_spans in request.resource_spans
                     for scope_spans in resource_spans.scope_spans), limit)
    out.skipped = skip.skipped
    for resource_spans in request.resource_spans:
        resource = shared_resource(_pb_attributes(resource_spans.resource.attributes), resources)
        service = (resource or {}).get("service.name", "")
        for scope_spans in resource_spans.scope_spans:
            scope = cut(scope_spans.scope.name, MAX_NAME_CHARS)
            for entry in skip.rest(scope_spans.spans):
                trace_id = hex_id(entry.trace_id, 16)
                span_id = hex_id(entry.span_id, 8)
                if trace_id is None or span_id is None:
                    reject_span(out)
                    continue
                start = valid_time(entry.start_time_unix_nano) or received_ns
                attributes = _pb_attributes(entry.attributes, entry.dropped_attributes_count)
                events = links = None
                if entry.events:
                    events = [SpanEvent(valid_time(event.time_unix_nano) or start,
                                        cut(event.name, MAX_NAME_CHARS),
                                        _pb_attributes(event.attributes))
                              for event in entry.events[:MAX_ATTRIBUTES]]
                attributes = note_dropped(
                    attributes, DROPPED_EVENTS,
                    entry.dropped_events_count + max(0, len(entry.events) - MAX_ATTRIBUTES))
                if entry.links:
                    links = [SpanLink(link_trace, link_span, _pb_attributes(link.attributes))
                             for link in entry.links[:MAX_ATTRIBUTES]
                             if (link_trace := hex_id(link.trace_id, 16))
                             and (link_span := hex_id(link.span_id, 8))] or None
                attributes = note_dropped(
                    attributes, DROPPED_LINKS,
                    entry.dropped_links_count + max(0, len(entry.links) - MAX_ATTRIBUTES))
                append(Span(
                    trace_id=trace_id, span_id=span_id,
                    parent_span_id=hex_id(entry.parent_span_id, 8),
                    name=share(cut(entry.name, MAX_NAME_CHARS)),
                    start_ns=start, end_ns=valid_time(entry.end_time_unix_nano) or start,
                    service=service, kind=span_kind(entry.kind),
                    status=span_status(entry.status.code),
                    status_message=cut(entry.status.message),
                    attributes=attributes, events=events, links=links,
                    resource=resource, scope=scope,
                ))
    return out
