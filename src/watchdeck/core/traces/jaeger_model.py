"""Jaeger's internal JSON model (the ``/api/traces`` answers its UI reads) as spans.

Times are µs; ``references`` say the parent (the first ``CHILD_OF`` in the same trace, else
the first ``FOLLOWS_FROM``; the deprecated ``parentSpanID`` when there are none) and the
rest become links marked with ``opentracing.ref_type``. Tags are typed (``string``,
``bool``, ``int64`` — a JSON string past 2^53 —, ``float64``, ``binary`` in base64) and
become text like every attribute of the trace model; ``span.kind``, ``otel.status_code``,
``otel.status_description`` and the scope name become the span's own fields, and
``error=true`` its status when no ``otel.status_code`` says otherwise. Logs are events
named by their ``event`` field; processes (or an embedded ``process``) are resources, one
dict per process; span warnings are kept as a ``jaeger.warnings`` attribute.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from watchdeck.core.errors import BadResponseError
from watchdeck.core.logs.model import MAX_LINE_CHARS, cut
from watchdeck.core.otlp.decode import json_int
from watchdeck.core.otlp.spans import Span, SpanEvent, SpanKind, SpanLink, StatusCode
from watchdeck.core.traces.source import normalize_span_id, normalize_trace_id

MAX_NAME_CHARS = 4096
# Tags that become a span's own fields (kind, status, scope) rather than attributes.
KIND_TAG = "span.kind"
STATUS_TAG = "otel.status_code"
STATUS_MESSAGE_TAG = "otel.status_description"
SCOPE_TAGS = ("otel.scope.name", "otel.library.name")
FIELD_TAGS = frozenset({KIND_TAG, STATUS_TAG, STATUS_MESSAGE_TAG, *SCOPE_TAGS})
_KINDS = {kind.label: kind for kind in SpanKind if kind.label}


def tag_text(tag: Mapping[str, Any]) -> str:
    """A typed Jaeger tag's value as the trace model's text."""
    kind = tag.get("type")
    value = tag.get("value")
    if kind == "binary" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True).hex()
        except (binascii.Error, ValueError):
            return cut(value)
    if kind == "bool" or isinstance(value, bool):
        return "true" if value is True or str(value).lower() == "true" else "false"
    if kind == "float64" and isinstance(value, (int, float)):
        return repr(float(value))
    if isinstance(value, str):
        return cut(value) if len(value) > MAX_LINE_CHARS else value
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    return cut(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def _tags(raw: object) -> dict[str, str]:
    found: dict[str, str] = {}
    if isinstance(raw, list):
        for tag in raw:
            if isinstance(tag, dict) and "key" in tag:
                found[cut(str(tag["key"]), 1024)] = tag_text(tag)
    return found


def _status(tags: dict[str, str]) -> StatusCode:
    code = tags.get(STATUS_TAG)
    if code:
        try:
            return StatusCode.parse(code)
        except ValueError:
            pass
    return StatusCode.ERROR if tags.get("error") == "true" else StatusCode.UNSET


def _references(span: Mapping[str, Any], trace_id: str
                ) -> tuple[str | None, list[SpanLink] | None]:
    """(parent span id, links) of an internal-model span."""
    refs = [ref for ref in span.get("references") or () if isinstance(ref, dict)]
    parent_at: int | None = None
    for wanted in ("CHILD_OF", "FOLLOWS_FROM"):
        for index, ref in enumerate(refs):
            if ref.get("refType", "CHILD_OF") == wanted and (
                    normalize_trace_id(ref.get("traceID")) in (trace_id, None)):
                parent_at = index
                break
        if parent_at is not None:
            break
    parent = normalize_span_id(refs[parent_at].get("spanID")) if parent_at is not None else None
    if parent is None and parent_at is None:
        parent = normalize_span_id(span.get("parentSpanID"))
    links = []
    for index, ref in enumerate(refs):
        if index == parent_at:
            continue
        link_trace = normalize_trace_id(ref.get("traceID")) or trace_id
        link_span = normalize_span_id(ref.get("spanID"))
        if link_span is not None:
            kind = str(ref.get("refType", "CHILD_OF")).lower()
            links.append(SpanLink(link_trace, link_span, {"opentracing.ref_type": kind}))
    return parent, links or None


def _events(span: Mapping[str, Any], start_ns: int) -> list[SpanEvent] | None:
    events = []
    for log in span.get("logs") or ():
        if not isinstance(log, dict):
            continue
        fields = _tags(log.get("fields"))
        name = fields.pop("event", "")
        stamp = json_int(log.get("timestamp"))
        events.append(SpanEvent(stamp * 1000 if stamp > 0 else start_ns,
                                cut(name, MAX_NAME_CHARS), fields or None))
    return events or None


def spans_from_jaeger(trace: Mapping[str, Any]) -> list[Span]:
    """The spans of one trace in Jaeger's internal (UI) model."""
    processes = trace.get("processes")
    processes = processes if isinstance(processes, dict) else {}
    resources: dict[str, tuple[str, dict[str, str]]] = {}

    def resource(key: str, process: object) -> tuple[str, dict[str, str]]:
        found = resources.get(key)
        if found is None:
            process = process if isinstance(process, dict) else {}
            service = cut(str(process.get("serviceName") or ""), MAX_NAME_CHARS)
            attributes = _tags(process.get("tags"))
            if service:
                attributes.setdefault("service.name", service)
            found = resources[key] = (service, attributes)
        return found

    spans: list[Span] = []
    raw_spans = trace.get("spans")
    if not isinstance(raw_spans, list):
        raise BadResponseError("Jaeger trace without a spans list")
    for entry in raw_spans:
        if not isinstance(entry, dict):
            continue
        trace_id = normalize_trace_id(entry.get("traceID") or trace.get("traceID"))
        span_id = normalize_span_id(entry.get("spanID"))
        if trace_id is None or span_id is None:
            continue
        process_id = entry.get("processID")
        if isinstance(entry.get("process"), dict):
            service, attributes_of_resource = resource(f"embedded:{id(entry)}",
                                                       entry["process"])
        else:
            service, attributes_of_resource = resource(
                str(process_id), processes.get(str(process_id)))
        tags = _tags(entry.get("tags"))
        start = max(0, json_int(entry.get("startTime"))) * 1000
        parent, links = _references(entry, trace_id)
        scope = next((tags[key] for key in SCOPE_TAGS if key in tags), "")
        kind = _KINDS.get(tags.get(KIND_TAG, "").lower(), SpanKind.UNSPECIFIED)
        status = _status(tags)
        message = tags.get(STATUS_MESSAGE_TAG, "")
        for key in FIELD_TAGS:
            tags.pop(key, None)
        warnings = entry.get("warnings")
        if isinstance(warnings, list) and warnings:
            tags["jaeger.warnings"] = cut("; ".join(str(item) for item in warnings))
        spans.append(Span(
            trace_id=trace_id, span_id=span_id, parent_span_id=parent,
            name=cut(str(entry.get("operationName") or ""), MAX_NAME_CHARS),
            start_ns=start, end_ns=start + max(0, json_int(entry.get("duration"))) * 1000,
            service=service, kind=kind, status=status, status_message=message,
            attributes=tags or None, events=_events(entry, start), links=links,
            resource=attributes_of_resource or None, scope=scope, seq=len(spans) + 1))
    return spans
