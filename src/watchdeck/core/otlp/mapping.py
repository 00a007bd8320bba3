"""How OTLP maps onto watchdeck's models, shared by the protobuf decoders
(:mod:`~watchdeck.core.otlp.decode_pb`) and the OTLP/JSON ones
(:mod:`~watchdeck.core.otlp.decode_json`): pure functions, safe in a worker thread. Only a
body that is not a request at all raises :class:`OTLPDecodeError` (the receiver answers
400); odd values inside one are kept as text or skipped.

Mapping of a log record: time from ``time_unix_nano``, else ``observed_time_unix_nano``,
else when it arrived; level from ``severity_number``, else ``severity_text``; message from
the body (strings as they came, other values as compact JSON, bytes as hex); the record's
attributes (plus ``otel.scope.name`` and ``event.name`` when set) become ``fields``, the
resource's attributes (``service.name``...) its ``labels``, one dict per resource.

An item keeps at most :data:`MAX_ATTRIBUTES` attributes (and as many events and links);
how many more it had is kept as ``otel.dropped_attributes_count`` (``..._events_...``,
``..._links_...``), added to what the sender says it dropped itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from sys import intern
from typing import Generic, TypeVar

from watchdeck.core.logs.model import (
    MAX_LINE_CHARS,
    Level,
    cut,
    level_from_otlp,
    parse_level,
)
from watchdeck.core.otlp.spans import Span, SpanKind, StatusCode

T = TypeVar("T")

MAX_KEY_CHARS = 1024
MAX_NAME_CHARS = 4096
MAX_ATTRIBUTES = 1024
# Arrays and maps nested deeper than this are shown as a marker, not walked.
MAX_VALUE_DEPTH = 32
_MAX_TIME_NS = 2**63 - 1
DROPPED_ATTRIBUTES = "otel.dropped_attributes_count"
DROPPED_EVENTS = "otel.dropped_events_count"
DROPPED_LINKS = "otel.dropped_links_count"


class OTLPDecodeError(ValueError):
    """The body is not an OTLP export request of the kind expected."""


@dataclass(slots=True)
class Decoded(Generic[T]):
    """What one request held: the items kept, how many were rejected (with why), and how
    many valid ones were skipped because more than ``limit`` came at once."""

    items: list[T] = field(default_factory=list)
    rejected: int = 0
    reason: str = ""
    skipped: int = 0


class Skip:
    """Passes over the first items of a request holding more than ``limit``: the store
    would drop them at once, so they are never turned into objects (16 MiB of tiny log
    records would otherwise be a few hundred MB for a moment)."""

    def __init__(self, total: int, limit: int | None) -> None:
        self.left = max(0, total - limit) if limit is not None else 0
        self.skipped = self.left

    def rest(self, items: Sequence[T]) -> Sequence[T]:
        if not self.left:
            return items
        count = min(self.left, len(items))
        self.left -= count
        return items[count:]


# --- shared -------------------------------------------------------------------------------

# Resource attributes repeat in every request of a sender: the receiver passes one cache
# so that all its records share one dict per resource.
ResourceCache = dict[tuple[tuple[str, str], ...], dict[str, str]]
_RESOURCE_CACHE_SIZE = 1024


def shared_resource(attributes: dict[str, str] | None, cache: ResourceCache | None
            ) -> dict[str, str] | None:
    if attributes is None or cache is None:
        return attributes
    key = tuple(attributes.items())
    found = cache.get(key)
    if found is not None:
        return found
    if len(cache) >= _RESOURCE_CACHE_SIZE:
        cache.clear()
    cache[key] = attributes
    return attributes


def render(value: object) -> str:
    if isinstance(value, str):
        return value if len(value) <= MAX_LINE_CHARS else cut(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if value is None:
        return ""
    return cut(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


# Attribute keys, span names and short values repeat in every span a service sends: one
# string object each (sys.intern frees them again once no span holds them) instead of a
# copy per span, about 40 % of a stored span's memory.
SHARE_MAX_CHARS = 64


def share(text: str) -> str:
    return intern(text) if len(text) <= SHARE_MAX_CHARS else text


def valid_time(*candidates: int) -> int | None:
    for value in candidates:
        if 0 < value <= _MAX_TIME_NS:
            return value
    return None


def hex_id(raw: bytes, size: int) -> str | None:
    if len(raw) != size or not any(raw):
        return None
    return raw.hex()


_LEVELS = tuple(level_from_otlp(number) for number in range(25))


def level_of(number: int, text: str) -> Level:
    level = _LEVELS[number] if 0 <= number < 25 else level_from_otlp(number)
    if level is Level.UNKNOWN and text:
        level = parse_level(text)
    return level


def note_dropped(attributes: dict[str, str] | None, key: str, count: int
                  ) -> dict[str, str] | None:
    if count <= 0:
        return attributes
    attributes = {} if attributes is None else attributes
    attributes[key] = str(count)
    return attributes


def with_extras(fields: dict[str, str] | None, scope: str, event: str
                 ) -> dict[str, str] | None:
    """``fields`` (a dict of its own) with the scope's and the event's names added."""
    if not scope and not event:
        return fields
    if fields is None:
        fields = {}
    if scope:
        fields.setdefault("otel.scope.name", scope)
    if event:
        fields.setdefault("event.name", event)
    return fields


def span_kind(number: int) -> SpanKind:
    try:
        return SpanKind(number)
    except ValueError:
        return SpanKind.UNSPECIFIED


def span_status(number: int) -> StatusCode:
    try:
        return StatusCode(number)
    except ValueError:
        return StatusCode.UNSET


def reject_span(out: Decoded[Span]) -> None:
    out.rejected += 1
    out.reason = "spans without a valid trace id or span id were rejected"
