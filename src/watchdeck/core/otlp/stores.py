"""Bounded, in-memory stores for what the OTLP receiver is sent: :class:`LogStore` here,
:class:`~watchdeck.core.otlp.tracestore.SpanStore` beside it, and what they share.

:class:`LogStore` is a ring: past ``max_items`` records (or about ``max_chars`` characters
of their text) the oldest go. Stores live on the event loop: ``add`` numbers the new items
(``seq``), keeps them and hands them to every listener (the live tails), in arrival order.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

from watchdeck.core.logs.model import LogRecord
from watchdeck.core.otlp.spans import Span

log = logging.getLogger(__name__)

T = TypeVar("T", LogRecord, Span)
Listener = Callable[[Sequence[T]], None]

# What one stored item costs beyond its text, counted against max_chars (object headers,
# dict slots): keeps a flood of tiny records from being counted as free.
_ITEM_OVERHEAD = 200
DEFAULT_MAX_CHARS = 256 * 1024 * 1024


def _dict_chars(values: dict[str, str] | None) -> int:
    if not values:
        return 0
    return sum(map(len, values)) + sum(map(len, values.values()))


def log_chars(record: LogRecord) -> int:
    # Labels are shared by every record of a resource, so they are not counted per record.
    return _ITEM_OVERHEAD + len(record.message) + _dict_chars(record.fields)


def span_chars(span: Span) -> int:
    size = _ITEM_OVERHEAD + len(span.name) + len(span.status_message) + _dict_chars(
        span.attributes)
    for event in span.events or ():
        size += _ITEM_OVERHEAD + len(event.name) + _dict_chars(event.attributes)
    for link in span.links or ():
        size += _ITEM_OVERHEAD + _dict_chars(link.attributes)
    return size


class Listeners(Generic[T]):
    def __init__(self) -> None:
        self._listeners: list[Listener[T]] = []

    def subscribe(self, listener: Listener[T]) -> Callable[[], None]:
        """Call ``listener`` with every batch added from now on; returns the unsubscriber."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)
        return unsubscribe

    def _tell(self, items: Sequence[T]) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(items)
            except Exception:  # one broken listener must not fail the sender's request
                log.exception("OTLP store listener failed")


def check_bounds(max_items: int, max_chars: int) -> None:
    if max_items < 1 or max_chars < 1:
        raise ValueError("a store must hold at least one item and one character")


class LogStore(Listeners[LogRecord]):
    """The newest log records the receiver was sent."""

    def __init__(self, max_items: int, max_chars: int = DEFAULT_MAX_CHARS) -> None:
        super().__init__()
        check_bounds(max_items, max_chars)
        self.max_items = max_items
        self.max_chars = max_chars
        self._items: deque[LogRecord] = deque()
        self._sizes: deque[int] = deque()
        self._chars = 0
        self._next_seq = 1
        self.received = 0
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def chars(self) -> int:
        """The text kept, as counted against ``max_chars``."""
        return self._chars

    def add(self, items: Sequence[LogRecord]) -> None:
        """Keep ``items`` (numbering them), drop the oldest beyond the bounds, tell
        listeners."""
        if not items:
            return
        seq = self._next_seq
        for item in items:
            item.seq = seq
            seq += 1
        self._next_seq = seq
        sizes = list(map(log_chars, items))
        self._items.extend(items)
        self._sizes.extend(sizes)
        self._chars += sum(sizes)
        self.received += len(items)
        excess = len(self._items) - self.max_items
        if excess > 0 or self._chars > self.max_chars:
            self._evict(max(0, excess))
        self._tell(items)

    def skip(self, count: int) -> None:
        """``count`` records arrived and were dropped at once (one request held more than
        the store: the decoder passed over its oldest)."""
        self.received += count
        self.evicted += count

    def _evict(self, at_least: int) -> None:
        dropped = 0
        while self._items and (dropped < at_least or self._chars > self.max_chars):
            self._chars -= self._sizes.popleft()
            self._items.popleft()
            dropped += 1
        self.evicted += dropped

    def last(self, count: int) -> list[LogRecord]:
        """The newest ``count`` records, oldest first."""
        if count <= 0:
            return []
        if count >= len(self._items):
            return list(self._items)
        newest = [record for _, record in zip(range(count), reversed(self._items))]
        newest.reverse()
        return newest

    def newest_first(self) -> Iterator[LogRecord]:
        """The kept records, newest first (do not await while iterating)."""
        return reversed(self._items)
