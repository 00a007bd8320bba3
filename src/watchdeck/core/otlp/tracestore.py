"""The bounded store of recent traces the OTLP receiver is sent, searchable.

:class:`SpanStore` keeps whole traces: past ``max_items`` spans (or about ``max_chars``
characters of their text) the trace that has gone longest without a new span is dropped
with all its spans, so a trace is never shown half-evicted. A trace bigger than the whole
store keeps its first spans. Traces are indexed by service, operation (per service and by
name), span status and attribute values, and :meth:`SpanStore.search` answers slowest
first.

Built so that CPython's cycle collector has almost nothing to walk (a full collection over
a store of 200,000 spans held as objects and sets took about 300 ms on the event loop; as
kept here, about 40 ms, a third of it the rest of the process): spans are kept as flat
tuples (:mod:`watchdeck.core.otlp.rows`), read back as :class:`Span` objects, and each
index entry is an ``array`` of trace numbers (no object references at all). An evicted
trace's numbers are left in the arrays and skipped (numbers are never reused); an array
is compacted once half of it is stale.

The attribute index is bounded: a key with more than :data:`MAX_INDEXED_VALUES` distinct
values (request ids, URLs) stops being indexed and a search on it reads the spans of the
candidates instead; so does one on a key that came after :data:`MAX_INDEXED_KEYS` others.
"""

from __future__ import annotations

import heapq
from array import array
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from itertools import islice
from typing import Any, Generic, TypeVar

from watchdeck.core.otlp.rows import (
    ATTRIBUTES,
    END,
    EVENTS,
    NAME,
    PARENT,
    RESOURCE,
    SEQ,
    SERVICE,
    START,
    STATUS,
    Flat,
    Resources,
    Row,
    attribute,
    row_of,
    span_of,
    split_scope,
)
from watchdeck.core.otlp.spans import Span, StatusCode, TraceSummary
from watchdeck.core.otlp.stores import DEFAULT_MAX_CHARS, Listeners, check_bounds, span_chars

MAX_INDEXED_VALUES = 1000
MAX_INDEXED_KEYS = 1000

K = TypeVar("K", bound=Hashable)


class _Trace:
    """The kept spans of one trace (as rows), with what the summary needs: one object for
    the cycle collector per trace, none per span."""

    __slots__ = ("chars", "end_ns", "errors", "number", "resource", "root", "rows",
                 "start_ns", "trace_id")

    def __init__(self, trace_id: str, number: int) -> None:
        self.trace_id = trace_id
        self.number = number  # in the indexes; never reused
        # A tuple, replaced by a longer one once per batch: unlike a list, the collector
        # stops walking it (and the rows in it) once it has survived a collection.
        self.rows: tuple[Row, ...] = ()
        self.chars = 0
        self.start_ns = 0
        self.end_ns = 0
        self.errors = 0
        self.root: Row | None = None
        self.resource: Flat | None = None  # the last one indexed

    def summary(self) -> TraceSummary:
        root = self.root
        assert root is not None  # a kept trace has at least one span
        return TraceSummary(
            trace_id=self.trace_id, service=root[SERVICE], operation=root[NAME],
            start_ns=self.start_ns, duration_ns=max(0, self.end_ns - self.start_ns),
            span_count=len(self.rows), error_count=self.errors,
            services=tuple(sorted({row[SERVICE] for row in self.rows})),
            has_root=root[PARENT] is None)


def _root_rank(row: Row) -> tuple[bool, int, int]:
    # Prefer a span without a parent, then the earliest (then the first to arrive).
    return (row[PARENT] is not None, row[START], row[SEQ])


def _duration(trace: _Trace) -> tuple[int, int]:
    # Slowest first; among equals, the more recent start first.
    return (trace.end_ns - trace.start_ns, trace.start_ns)


class _Postings(Generic[K]):
    """key -> the numbers of the traces holding it, as ``array('q')`` whose first item
    counts the stale numbers in the rest."""

    __slots__ = ("lists",)

    def __init__(self) -> None:
        self.lists: dict[K, array[int]] = {}

    def __len__(self) -> int:
        return len(self.lists)

    def add(self, key: K, number: int) -> None:
        found = self.lists.get(key)
        if found is None:
            self.lists[key] = array("q", (0, number))
        elif found[-1] != number:  # the same trace again, most often: nothing to add
            found.append(number)

    def stale(self, key: K, alive: Mapping[int, object]) -> None:
        """One trace holding ``key`` went away (already gone from ``alive``)."""
        found = self.lists.get(key)
        if found is None:
            return
        found[0] += 1
        if found[0] * 2 >= len(found) - 1:
            kept = [number for number in islice(found, 1, None) if number in alive]
            if kept:
                self.lists[key] = array("q", [0, *kept])
            else:
                del self.lists[key]

    def numbers(self, key: K) -> Iterable[int] | None:
        found = self.lists.get(key)
        return islice(found, 1, None) if found is not None else None

    def size(self, key: K) -> int:
        found = self.lists.get(key)
        return len(found) - 1 - found[0] if found is not None else 0


class SpanStore(Listeners[Span]):
    """The newest traces the receiver was sent, whole, searchable."""

    def __init__(self, max_items: int, max_chars: int = DEFAULT_MAX_CHARS) -> None:
        super().__init__()
        check_bounds(max_items, max_chars)
        self.max_items = max_items
        self.max_chars = max_chars
        # Least recently extended first: eviction takes from the front.
        self._traces: OrderedDict[str, _Trace] = OrderedDict()
        self._numbered: dict[int, _Trace] = {}
        self._next_number = 0
        self._spans = 0
        self._chars = 0
        self._next_seq = 1
        self.received = 0
        self.evicted = 0        # spans dropped with their (old) traces
        self.dropped = 0        # spans refused because their trace alone fills the store
        self._resources = Resources()
        self._by_service: _Postings[str] = _Postings()
        self._by_operation: _Postings[tuple[str, str]] = _Postings()
        self._by_name: _Postings[str] = _Postings()
        self._by_status: _Postings[int] = _Postings()
        # key -> its values' postings; None once the key has too many values to index.
        self._by_attribute: dict[str, _Postings[str] | None] = {}
        self._attribute_keys_full = False

    def __len__(self) -> int:
        """Spans kept."""
        return self._spans

    @property
    def chars(self) -> int:
        return self._chars

    @property
    def trace_count(self) -> int:
        return len(self._traces)

    # --- adding --------------------------------------------------------------------------

    def add(self, spans: Sequence[Span]) -> None:
        """Keep ``spans`` (numbering them), drop the least recently extended traces beyond
        the bounds, tell listeners (with these very objects; the store keeps rows)."""
        if not spans:
            return
        traces = self._traces
        kept: list[Span] = []
        added: dict[_Trace, list[Row]] = {}
        # A parent's id as its children name it: one string, as for trace ids.
        span_ids: dict[str, str] = {}
        seq = self._next_seq
        for span in spans:
            size = span_chars(span)
            trace = traces.get(span.trace_id)
            held = len(trace.rows) + len(added.get(trace, ())) if trace is not None else 0
            chars = trace.chars if trace is not None else 0
            if held >= self.max_items or chars + size > self.max_chars:
                self.dropped += 1  # keep the start of a trace bigger than the whole store
                continue
            if trace is None:
                trace = traces[span.trace_id] = _Trace(span.trace_id, self._next_number)
                self._numbered[self._next_number] = trace
                self._next_number += 1
            else:
                traces.move_to_end(span.trace_id)
            span.trace_id = trace.trace_id  # one string per trace, not one per span
            span.span_id = span_ids.setdefault(span.span_id, span.span_id)
            if span.parent_span_id is not None:
                span.parent_span_id = span_ids.setdefault(span.parent_span_id,
                                                          span.parent_span_id)
            span.seq = seq
            seq += 1
            row = row_of(span, self._resources)
            self._keep(trace, row, size)
            added.setdefault(trace, []).append(row)
            kept.append(span)
        for trace, rows in added.items():
            trace.rows += tuple(rows)
        self._next_seq = seq
        self.received += len(spans)
        if self._spans > self.max_items or self._chars > self.max_chars:
            self._evict()
        if kept:
            self._tell(kept)

    def skip(self, count: int) -> None:
        """``count`` spans arrived and were dropped at once (one request held more than
        the store: the decoder passed over its first)."""
        self.received += count
        self.evicted += count

    def _keep(self, trace: _Trace, row: Row, size: int) -> None:
        number = trace.number
        if trace.root is not None:
            trace.start_ns = min(trace.start_ns, row[START])
            trace.end_ns = max(trace.end_ns, row[END])
        else:
            trace.start_ns, trace.end_ns = row[START], row[END]
        trace.chars += size
        self._spans += 1
        self._chars += size
        if trace.root is None or _root_rank(row) < _root_rank(trace.root):
            trace.root = row
        status = row[STATUS]
        if status == StatusCode.ERROR:
            trace.errors += 1
        self._by_status.add(status, number)
        service, name = row[SERVICE], row[NAME]
        self._by_service.add(service, number)
        self._by_operation.add((service, name), number)
        self._by_name.add(name, number)
        if row[ATTRIBUTES] is not None:
            self._index_attributes(row[ATTRIBUTES], number)
        for event in row[EVENTS] or ():
            if event[2] is not None:
                self._index_attributes(event[2], number)
        resource = row[RESOURCE]
        if resource is not None and resource is not trace.resource:
            trace.resource = resource
            self._index_attributes(resource, number)

    def _index_attributes(self, attributes: Flat, number: int) -> None:
        index = self._by_attribute
        for position in range(0, len(attributes), 2):
            key = attributes[position]
            if key in index:
                values = index[key]
                if values is None:
                    continue  # too many values to index
            else:
                # Once a key was refused, no new key is indexed (even when room comes
                # back): a key missing from the index may then be on kept spans.
                if self._attribute_keys_full or len(index) >= MAX_INDEXED_KEYS:
                    self._attribute_keys_full = True
                    continue
                values = index[key] = _Postings()
            value = attributes[position + 1]
            if len(values) >= MAX_INDEXED_VALUES and value not in values.lists:
                index[key] = None
                continue
            values.add(value, number)

    def _evict(self) -> None:
        traces = self._traces
        # The trace just extended is the last one: it goes only when it is alone over.
        while len(traces) > 1 and (self._spans > self.max_items
                                   or self._chars > self.max_chars):
            _, trace = traces.popitem(last=False)
            self._forget(trace)

    def _forget(self, trace: _Trace) -> None:
        rows = trace.rows
        alive = self._numbered
        del alive[trace.number]
        self._spans -= len(rows)
        self._chars -= trace.chars
        self.evicted += len(rows)
        for status in {row[STATUS] for row in rows}:
            self._by_status.stale(status, alive)
        for service in {row[SERVICE] for row in rows}:
            self._by_service.stale(service, alive)
        for operation in {(row[SERVICE], row[NAME]) for row in rows}:
            self._by_operation.stale(operation, alive)
        for name in {row[NAME] for row in rows}:
            self._by_name.stale(name, alive)
        pairs: set[tuple[str, str]] = set()
        for row in rows:
            events = row[EVENTS] or ()
            for attributes in (row[ATTRIBUTES], row[RESOURCE], *(e[2] for e in events)):
                if attributes is not None:
                    pairs.update(zip(attributes[::2], attributes[1::2]))
        index = self._by_attribute
        for key, value in pairs:
            values = index.get(key)
            if values is not None:
                values.stale(value, alive)
                if not values:
                    del index[key]

    # --- reading -------------------------------------------------------------------------

    def trace(self, trace_id: str) -> list[Span]:
        """The kept spans of one trace (any case of hex), by start time; [] when unknown."""
        trace = self._traces.get(trace_id.strip().lower())
        if trace is None:
            return []
        rows = sorted(trace.rows, key=lambda row: (row[START], row[SEQ]))
        return [span_of(row, self._resources) for row in rows]

    def summary(self, trace_id: str) -> TraceSummary | None:
        trace = self._traces.get(trace_id.strip().lower())
        return trace.summary() if trace is not None else None

    def trace_ids(self) -> list[str]:
        """Every trace kept, most recently extended first."""
        return list(reversed(self._traces))

    def services(self) -> list[str]:
        """Service names with kept spans, sorted."""
        return sorted(key for key in self._by_service.lists if self._by_service.size(key))

    def operations(self, service: str | None = None) -> list[str]:
        """Span names with kept spans (of ``service`` when given), sorted."""
        if service is None:
            return sorted(key for key in self._by_name.lists if self._by_name.size(key))
        return sorted({key[1] for key in self._by_operation.lists
                       if key[0] == service and self._by_operation.size(key)})

    def search(self, *, service: str | None = None, operation: str | None = None,
               min_duration_ns: int | None = None, max_duration_ns: int | None = None,
               status: StatusCode | int | str | None = None,
               attributes: Mapping[str, str] | None = None,
               start_ns: int | None = None, end_ns: int | None = None,
               limit: int = 20) -> list[TraceSummary]:
        """Summaries of the kept traces that match, slowest first, at most ``limit``.

        ``service``, ``operation``, ``status`` and ``attributes`` must all hold on one span
        of the trace (like TraceQL's ``{ a && b }``). An attribute key may carry a scope
        (``span.``, ``resource.``); without one it is looked up on the span, then its
        resource, then its events (:func:`~watchdeck.core.otlp.rows.attribute`); values
        are compared as text. The durations bound the whole trace's (first start to last
        end); ``start_ns``/``end_ns`` keep traces overlapping that window. An unknown
        ``status`` raises ValueError.
        """
        if limit <= 0:
            return []
        wanted = StatusCode.parse(status) if status is not None else None
        indexed: list[tuple[_Postings[Any], Any]] = []
        if service is not None and operation is not None:
            indexed.append((self._by_operation, (service, operation)))
        elif service is not None:
            indexed.append((self._by_service, service))
        elif operation is not None:
            indexed.append((self._by_name, operation))
        if wanted is not None:
            indexed.append((self._by_status, int(wanted)))
        # The attribute index holds every (name, value) a trace has anywhere (span,
        # resource, events): it narrows, the spans then decide.
        wanted_attributes = [(*split_scope(key), value)
                             for key, value in (attributes or {}).items()]
        for _, name, value in wanted_attributes:
            if name not in self._by_attribute:
                if not self._attribute_keys_full:
                    return []  # no kept span has that name
                continue  # not indexed: the spans will tell
            values = self._by_attribute[name]
            if values is not None:
                indexed.append((values, value))
        candidates = self._candidates(indexed)
        low = min_duration_ns if min_duration_ns is not None else 0
        high = max_duration_ns if max_duration_ns is not None else 2**63
        window_start = start_ns if start_ns is not None else -(2**63)
        window_end = end_ns if end_ns is not None else 2**63
        fitting = [trace for trace in candidates
                   if low <= trace.end_ns - trace.start_ns <= high
                   and trace.end_ns >= window_start and trace.start_ns <= window_end]
        # The indexes answer exactly when at most one of service/operation and status was
        # asked; otherwise one span must meet them all: check, slowest first, until there
        # are enough.
        asked = (service is not None or operation is not None) + (wanted is not None)
        if not wanted_attributes and asked <= 1:
            chosen = heapq.nlargest(limit, fitting, key=_duration)
            return [trace.summary() for trace in chosen]
        fitting.sort(key=_duration, reverse=True)
        found: list[TraceSummary] = []
        for trace in fitting:
            if _any_row_matches(trace.rows, service, operation, wanted, wanted_attributes):
                found.append(trace.summary())
                if len(found) >= limit:
                    break
        return found

    def _candidates(self, indexed: list[tuple[_Postings[Any], Any]]) -> Iterable[_Trace]:
        """The kept traces in every one of these postings (all of them when none)."""
        if not indexed:
            return self._traces.values()
        indexed.sort(key=lambda entry: entry[0].size(entry[1]))
        alive = self._numbered
        postings, key = indexed[0]
        numbers = {number for number in postings.numbers(key) or () if number in alive}
        for postings, key in indexed[1:]:
            if not numbers:
                break
            numbers.intersection_update(postings.numbers(key) or ())
        return [alive[number] for number in numbers]


def _any_row_matches(rows: Sequence[Row], service: str | None, operation: str | None,
                     status: StatusCode | None, attributes: list[tuple[str, str, str]]
                     ) -> bool:
    for row in rows:
        if service is not None and row[SERVICE] != service:
            continue
        if operation is not None and row[NAME] != operation:
            continue
        if status is not None and row[STATUS] != status:
            continue
        if all(attribute(row, scope, name) == value for scope, name, value in attributes):
            return True
    return False
