"""The trace model: spans as every trace source hands them over (the OTLP receiver, and
Jaeger and Tempo clients), and the one-line summary of a trace that a trace list shows.

Ids are lower-case hex (32 characters for a trace, 16 for a span). Times are Unix
nanoseconds. Attribute values are text, rendered the way log fields are (strings as they
came, numbers in decimal, booleans ``true``/``false``, arrays and maps as compact JSON,
bytes as hex). ``resource`` is one dict shared by every span of the same resource, like a
log stream's labels. Text is untrusted and kept as it came (only cut): the UI neutralises
it when it draws it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class SpanKind(IntEnum):
    """OTLP ``Span.SpanKind``."""

    UNSPECIFIED = 0
    INTERNAL = 1
    SERVER = 2
    CLIENT = 3
    PRODUCER = 4
    CONSUMER = 5

    @property
    def label(self) -> str:
        return "" if self is SpanKind.UNSPECIFIED else self.name.lower()


class StatusCode(IntEnum):
    """OTLP ``Status.StatusCode``."""

    UNSET = 0
    OK = 1
    ERROR = 2

    @classmethod
    def parse(cls, value: StatusCode | int | str) -> StatusCode:
        """A status from its number or its name in any usual spelling (``error``,
        ``STATUS_CODE_ERROR``, ``2``); ValueError otherwise."""
        if isinstance(value, str):
            text = value.strip().upper().removeprefix("STATUS_CODE_")
            if text.isdigit():
                return cls(int(text))
            try:
                return cls[text]
            except KeyError:
                raise ValueError(f"not a span status: {value!r}") from None
        return cls(value)


@dataclass(slots=True)
class SpanEvent:
    """Something that happened at one moment in a span (an exception, a retry)."""

    time_ns: int
    name: str
    attributes: dict[str, str] | None = None


@dataclass(slots=True)
class SpanLink:
    """A link from a span to a span of another (or the same) trace."""

    trace_id: str
    span_id: str
    attributes: dict[str, str] | None = None


@dataclass(slots=True)
class Span:
    """One span. ``parent_span_id`` is None for a root span. ``service`` is the resource's
    ``service.name`` ("" when it has none); ``scope`` the instrumentation scope's name.
    ``seq`` is the arrival order inside one store."""

    trace_id: str
    span_id: str
    name: str
    start_ns: int
    end_ns: int
    parent_span_id: str | None = None
    service: str = ""
    kind: SpanKind = SpanKind.UNSPECIFIED
    status: StatusCode = StatusCode.UNSET
    status_message: str = ""
    attributes: dict[str, str] | None = None
    events: list[SpanEvent] | None = None
    links: list[SpanLink] | None = None
    resource: dict[str, str] | None = None
    scope: str = ""
    seq: int = 0

    @property
    def duration_ns(self) -> int:
        return max(0, self.end_ns - self.start_ns)

    @property
    def is_root(self) -> bool:
        return self.parent_span_id is None

    @property
    def is_error(self) -> bool:
        return self.status is StatusCode.ERROR

    def attribute(self, key: str) -> str | None:
        """The span's attribute ``key``, else its resource's."""
        if self.attributes is not None:
            value = self.attributes.get(key)
            if value is not None:
                return value
        return self.resource.get(key) if self.resource is not None else None


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """One trace as a trace list shows it. ``service`` and ``operation`` are the root
    span's (the earliest span without a parent; when none is known, ``has_root`` is False
    and they are the earliest span's). ``duration_ns`` runs from the first span's start to
    the last span's end."""

    trace_id: str
    service: str
    operation: str
    start_ns: int
    duration_ns: int
    span_count: int
    error_count: int
    services: tuple[str, ...] = ()
    has_root: bool = True
