"""What a trace source answers (:class:`TraceSource`), the question a trace list asks it
(:class:`TraceQuery`), and the small pieces every trace client shares: trace id
normalisation, summaries of fetched traces, the client-side check of a query.

Jaeger and Tempo clients implement the protocol; the embedded OTLP receiver's source keeps
its traces itself. All of them hand over the one trace model of
:mod:`watchdeck.core.otlp.spans`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from watchdeck.core.errors import SourceError
from watchdeck.core.otlp.spans import Span, StatusCode, TraceSummary
from watchdeck.core.safe import sanitize

StatusFilter = Literal["any", "error", "ok"]
_STATUSES: dict[str, StatusCode | None] = {
    "any": None, "error": StatusCode.ERROR, "ok": StatusCode.OK}
# A search without a window looks this far back (both Jaeger APIs need explicit bounds).
DEFAULT_LOOKBACK = 3600.0
DEFAULT_LIMIT = 20


class TraceNotFoundError(SourceError):
    """The backend has no trace with this id (or the id is not a trace id)."""

    kind = "not found"

    def __init__(self, trace_id: str, message: str | None = None, *,
                 source: str | None = None) -> None:
        super().__init__(message or f"trace {sanitize(trace_id, 80)} not found", source=source)
        self.trace_id = trace_id


@dataclass(frozen=True, slots=True)
class TraceQuery:
    """Which traces a trace list wants.

    ``service``, ``operation``, ``status`` and ``attributes`` must all hold on one span of
    a trace (TraceQL's ``{ a && b }``). ``status`` is ``"error"``, ``"ok"`` (a span whose
    status is OK, as TraceQL's ``status = ok``) or ``"any"``. An attribute key is an
    attribute's name (``http.route``), looked up on the span and then its resource; a
    TraceQL scope in front (``span.``, ``resource.``, a lone ``.``) is understood.
    Durations bound the whole trace's duration (first start to last end), both bounds
    included. ``query`` is text in the backend's own terms, combined (AND) with the fields:
    TraceQL for Tempo, or Tempo/Jaeger logfmt tags (``http.status_code=500 error=true``);
    Jaeger also reads the plain TraceQL that :func:`~watchdeck.core.traces.traceql.parse`
    understands. ``start``/``end`` are Unix seconds; ``limit`` is how many traces to
    return at most.
    """

    service: str | None = None
    operation: str | None = None
    min_duration_ns: int | None = None
    max_duration_ns: int | None = None
    status: StatusFilter = "any"
    attributes: Mapping[str, str] = field(default_factory=dict)
    query: str | None = None
    start: float | None = None
    end: float | None = None
    limit: int = DEFAULT_LIMIT

    def __post_init__(self) -> None:
        status = str(self.status).strip().lower()
        if status not in _STATUSES:
            raise ValueError(f"status must be any, error or ok, not {self.status!r}")
        object.__setattr__(self, "status", status)
        if self.limit <= 0:
            raise ValueError("limit must be at least 1")
        low, high = self.min_duration_ns, self.max_duration_ns
        if (low is not None and low < 0) or (high is not None and high < 0):
            raise ValueError("durations cannot be negative")
        if low is not None and high is not None and low > high:
            raise ValueError("min_duration_ns is above max_duration_ns")
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError("start is after end")
        if self.query is not None and not self.query.strip():
            object.__setattr__(self, "query", None)

    @property
    def status_code(self) -> StatusCode | None:
        return _STATUSES[self.status]

    @property
    def has_span_conditions(self) -> bool:
        """Whether anything but the raw query, the window and the limit is asked."""
        return bool(self.service is not None or self.operation is not None
                    or self.status != "any" or self.attributes
                    or self.min_duration_ns is not None or self.max_duration_ns is not None)

    def window(self, now: float) -> tuple[float, float]:
        """(start, end) in Unix seconds: the query's, else the last
        :data:`DEFAULT_LOOKBACK` before ``end`` (or now)."""
        end = self.end if self.end is not None else now
        start = self.start if self.start is not None else end - DEFAULT_LOOKBACK
        return start, end


@runtime_checkable
class TraceSource(Protocol):
    """A backend that finds traces and fetches them whole."""

    name: str
    type: str

    async def services(self) -> list[str]: ...

    async def operations(self, service: str) -> list[str]: ...

    async def search(self, query: TraceQuery) -> list[TraceSummary]:
        """Matching traces, slowest first, at most ``query.limit``."""
        ...

    async def trace(self, trace_id: str) -> list[Span]:
        """Every span of one trace; :class:`TraceNotFoundError` when there is none."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class TraceTagSource(TraceSource, Protocol):
    """A trace source that can complete attribute names and values (Tempo)."""

    async def tag_names(self) -> list[str]: ...

    async def tag_values(self, tag: str) -> list[str]: ...


# --- ids ----------------------------------------------------------------------------------

_HEX = re.compile(r"[0-9a-fA-F]+")


def _normalize_id(value: object, size: int) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    raw: bytes | None = None
    if 0 < len(text) <= size * 2 and _HEX.fullmatch(text):
        hex_id = text.lower().rjust(size * 2, "0")
        return None if not hex_id.strip("0") else hex_id
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not 0 < len(raw) <= size or not any(raw):
        return None
    return raw.hex().rjust(size * 2, "0")


def normalize_trace_id(value: object) -> str | None:
    """A trace id as 32 lower-case hex digits, or None when ``value`` is not one.

    Hex of up to 32 digits is left-padded (Jaeger's 64-bit ids, Tempo's search results
    with the leading zeros stripped); base64 of 8 or 16 bytes is decoded (gogo-jsonpb).
    """
    return _normalize_id(value, 16)


def normalize_span_id(value: object) -> str | None:
    """A span id as 16 lower-case hex digits (see :func:`normalize_trace_id`)."""
    return _normalize_id(value, 8)


# --- summaries and the client-side check ------------------------------------------------

def no_parent(parent_id: str | None) -> bool:
    """Whether a span's parent id means "none": absent, or the "" or all-zero id some
    producers send."""
    return not parent_id or not parent_id.strip("0")


def summarize(trace_id: str, spans: Sequence[Span]) -> TraceSummary | None:
    """The summary of one fetched trace (None for no spans): its root is the earliest span
    without a parent, else the earliest span (then ``has_root`` is False)."""
    if not spans:
        return None
    root = min(spans, key=lambda span: (not no_parent(span.parent_span_id), span.start_ns,
                                        span.seq))
    start = min(span.start_ns for span in spans)
    end = max(span.end_ns for span in spans)
    return TraceSummary(
        trace_id=trace_id, service=root.service, operation=root.name, start_ns=start,
        duration_ns=max(0, end - start), span_count=len(spans),
        error_count=sum(1 for span in spans if span.status is StatusCode.ERROR),
        services=tuple(sorted({span.service for span in spans if span.service})),
        has_root=no_parent(root.parent_span_id))


def group_by_trace(spans: Iterable[Span]) -> dict[str, list[Span]]:
    """Spans by trace id, in the order the traces first appear."""
    traces: dict[str, list[Span]] = {}
    for span in spans:
        traces.setdefault(span.trace_id, []).append(span)
    return traces


def split_scope(key: str) -> tuple[str, str]:
    """(scope, name) of an attribute key: ``span.http.route`` → ("span", "http.route"),
    ``.http.route`` and ``http.route`` → ("", "http.route")."""
    for scope in ("span", "resource"):
        if key.startswith(scope + ".") and len(key) > len(scope) + 1:
            return scope, key[len(scope) + 1:]
    return "", key[1:] if key.startswith(".") and len(key) > 1 else key


def _attribute(span: Span, key: str) -> str | None:
    scope, name = split_scope(key)
    if scope == "span":
        return span.attributes.get(name) if span.attributes else None
    if scope == "resource":
        return span.resource.get(name) if span.resource else None
    found = span.attribute(name)
    if found is None and span.events:
        # Jaeger matches tags on a span's logs too; so does this check.
        for event in span.events:
            if event.attributes and name in event.attributes:
                return event.attributes[name]
    return found


def span_matches(span: Span, query: TraceQuery) -> bool:
    """Whether one span meets the query's service, operation, status and attributes."""
    if query.service is not None and span.service != query.service:
        return False
    if query.operation is not None and span.name != query.operation:
        return False
    wanted = query.status_code
    if wanted is not None and span.status is not wanted:
        return False
    return all(_attribute(span, key) == value for key, value in query.attributes.items())


def duration_fits(duration_ns: int, query: TraceQuery) -> bool:
    return ((query.min_duration_ns is None or duration_ns >= query.min_duration_ns)
            and (query.max_duration_ns is None or duration_ns <= query.max_duration_ns))


def slowest_first(summaries: Iterable[TraceSummary], limit: int) -> list[TraceSummary]:
    """The ``limit`` slowest, the more recent first among equals; one per trace id."""
    seen: set[str] = set()
    unique = []
    for summary in summaries:
        if summary.trace_id not in seen:
            seen.add(summary.trace_id)
            unique.append(summary)
    unique.sort(key=lambda item: (item.duration_ns, item.start_ns), reverse=True)
    return unique[:limit]
