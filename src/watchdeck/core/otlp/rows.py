"""Spans as flat tuples, the way the span store keeps them.

Why: CPython's cycle collector walks every object that can hold references, and a full
collection over 200,000 :class:`Span` objects takes about 300 ms on the event loop, once
every few tens of thousands of new spans: a visible freeze of the whole console. A tuple
holding only strings, numbers and such tuples is dropped from the collector's lists after
the first collection it survives, so a store of rows costs it next to nothing. Rows are
turned back into :class:`Span` objects when a trace is read (:func:`span_of`).

A row: see the field numbers below. Attributes are flat ``(key, value, key, value...)``
tuples (smaller than a dict, and never walked); the kind and the status are plain ints
(enum members would keep the row tracked).
"""

from __future__ import annotations

from typing import Any

from watchdeck.core.otlp.spans import Span, SpanEvent, SpanKind, SpanLink, StatusCode

Row = tuple[Any, ...]
Flat = tuple[str, ...]

(TRACE_ID, SPAN_ID, NAME, START, END, PARENT, SERVICE, KIND, STATUS, MESSAGE, ATTRIBUTES,
 EVENTS, LINKS, RESOURCE, SCOPE, SEQ) = range(16)

_KINDS = tuple(SpanKind)
_STATUSES = tuple(StatusCode)
_CACHE_SIZE = 4096


def flat(values: dict[str, str] | None) -> Flat | None:
    if not values:
        return None
    out: list[str] = []
    for pair in values.items():
        out.extend(pair)
    return tuple(out)


def unflat(values: Flat | None) -> dict[str, str] | None:
    if values is None:
        return None
    return dict(zip(values[::2], values[1::2]))


def lookup(values: Flat | None, key: str) -> str | None:
    if values is not None:
        for index in range(0, len(values), 2):
            if values[index] == key:
                return values[index + 1]
    return None


class Resources:
    """Resource attributes are one dict shared by many spans: keep one flat tuple per
    dict, and hand one dict back per tuple, so sharing survives the trip through rows."""

    def __init__(self) -> None:
        # id -> (the object, kept so the id stays its own; its counterpart)
        self._flat: dict[int, tuple[dict[str, str], Flat | None]] = {}
        self._dicts: dict[int, tuple[Flat, dict[str, str] | None]] = {}

    def flat(self, resource: dict[str, str] | None) -> Flat | None:
        if resource is None:
            return None
        found = self._flat.get(id(resource))
        if found is not None:
            return found[1]
        if len(self._flat) >= _CACHE_SIZE:
            self._flat.clear()
        values = flat(resource)
        self._flat[id(resource)] = (resource, values)
        return values

    def dict(self, values: Flat | None) -> dict[str, str] | None:
        if values is None:
            return None
        found = self._dicts.get(id(values))
        if found is not None:
            return found[1]
        if len(self._dicts) >= _CACHE_SIZE:
            self._dicts.clear()
        resource = unflat(values)
        self._dicts[id(values)] = (values, resource)
        return resource


def row_of(span: Span, resources: Resources) -> Row:
    events = links = None
    if span.events:
        events = tuple((event.time_ns, event.name, flat(event.attributes))
                       for event in span.events)
    if span.links:
        links = tuple((link.trace_id, link.span_id, flat(link.attributes))
                      for link in span.links)
    return (span.trace_id, span.span_id, span.name, span.start_ns, span.end_ns,
            span.parent_span_id, span.service, int(span.kind), int(span.status),
            span.status_message, flat(span.attributes), events, links,
            resources.flat(span.resource), span.scope, span.seq)


def span_of(row: Row, resources: Resources) -> Span:
    events = links = None
    if row[EVENTS] is not None:
        events = [SpanEvent(time_ns, name, unflat(attributes))
                  for time_ns, name, attributes in row[EVENTS]]
    if row[LINKS] is not None:
        links = [SpanLink(trace_id, span_id, unflat(attributes))
                 for trace_id, span_id, attributes in row[LINKS]]
    return Span(trace_id=row[TRACE_ID], span_id=row[SPAN_ID], name=row[NAME],
                start_ns=row[START], end_ns=row[END], parent_span_id=row[PARENT],
                service=row[SERVICE], kind=_KINDS[row[KIND]], status=_STATUSES[row[STATUS]],
                status_message=row[MESSAGE], attributes=unflat(row[ATTRIBUTES]),
                events=events, links=links, resource=resources.dict(row[RESOURCE]),
                scope=row[SCOPE], seq=row[SEQ])


def split_scope(key: str) -> tuple[str, str]:
    """(scope, name) of an attribute key as a trace query writes it (TraceQL's scopes):
    ``span.http.route`` → ("span", "http.route"), ``resource.k8s.pod.name`` →
    ("resource", ...), ``.http.route`` and ``http.route`` → ("", "http.route")."""
    for scope in ("span", "resource"):
        if key.startswith(scope + ".") and len(key) > len(scope) + 1:
            return scope, key[len(scope) + 1:]
    return "", key[1:] if key.startswith(".") and len(key) > 1 else key


def attribute(row: Row, scope: str, name: str) -> str | None:
    """The attribute ``name`` in ``scope``: "span" or "resource" only there; no scope
    looks on the span, then its resource, then its events (Jaeger matches tags on a
    span's logs too), as trace sources do (``watchdeck.core.traces.source``)."""
    if scope == "span":
        return lookup(row[ATTRIBUTES], name)
    if scope == "resource":
        return lookup(row[RESOURCE], name)
    found = lookup(row[ATTRIBUTES], name)
    if found is None:
        found = lookup(row[RESOURCE], name)
    if found is None and row[EVENTS] is not None:
        for event in row[EVENTS]:
            found = lookup(event[2], name)
            if found is not None:
                break
    return found
