"""The bounded buffer a log stream keeps: items of several sources merged in time order.

Items have absolute indices: the first item ever added is 0, and an index keeps naming the
same item while items are appended or the oldest dropped (``start`` advances when the
buffer is full). Merging is what moves items: one that arrives older than the newest kept
item is inserted at its place in time (after the items of the same time: ties keep their
arrival order), which shifts the items after it up by one. A reader learns the lowest
index that moved with :meth:`LogBuffer.changed_since`.

An insertion goes back at most ``merge_window`` items (:data:`MERGE_WINDOW`): sources
interleave within seconds, and a bounded look-back keeps an insertion cheap and its
rescan short. An item older than that (a source sending old history late) is put at the
window's start: as far back as allowed, shown at its own time. (The window only moves on,
so such an item never falls inside a later window: the part searched is always sorted.)

Structured records are kept compact (:func:`compact`): only their line, time, level,
labels, source and seq; message, fields and ids are read again from the line when asked.
The buffer owns what it is given: records may be replaced by compact equals.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from itertools import islice
from operator import attrgetter

from watchdeck.core.logs.model import LogItem, LogRecord
from watchdeck.core.logs.parse import compact

MERGE_WINDOW = 10_000
# Dropped items are released in runs (one list shift per run, not one per item).
_RELEASE_EVERY = 4096
_time_of = attrgetter("time_ns")
# Insertions remembered for readers; more are merged (readers then rescan a little more).
_MAX_CHANGES = 1024


class LogBuffer:
    """At most ``capacity`` log items in time order, with stable absolute indices."""

    def __init__(self, capacity: int = 100_000, merge_window: int = MERGE_WINDOW) -> None:
        self.capacity = max(1, int(capacity))
        self.merge_window = max(0, min(int(merge_window), self.capacity))
        self._items: list[LogItem] = []
        self._head = 0  # where the kept items begin in the lists (released in runs)
        self._start = 0  # absolute index of the oldest kept item
        # Insertions as (end before that add, lowest index it moved), both increasing.
        self._change_ends: list[int] = []
        self._change_lows: list[int] = []

    # ------------------------------------------------------------------ reading

    @property
    def start(self) -> int:
        """Absolute index of the oldest item kept."""
        return self._start

    @property
    def end(self) -> int:
        """One past the absolute index of the newest item."""
        return self._start + len(self._items) - self._head

    def __len__(self) -> int:
        return len(self._items) - self._head

    def __getitem__(self, index: int) -> LogItem:
        """The item at absolute ``index`` (``start <= index < end``), else IndexError."""
        offset = index - self._start
        if offset < 0 or offset >= len(self._items) - self._head:
            raise IndexError(f"log index {index} is outside {self._start}..{self.end - 1}")
        return self._items[self._head + offset]

    def __iter__(self) -> Iterator[LogItem]:
        return islice(self._items, self._head, None)

    def between(self, start: int, end: int) -> list[LogItem]:
        """The items at absolute indices ``start`` to ``end`` (clipped to what is kept)."""
        head, first = self._head, self._start
        low = max(start, first) - first + head
        high = min(end, self.end) - first + head
        return self._items[low:high] if high > low else []

    def changed_since(self, index: int) -> int:
        """For a reader that last read the buffer when ``end`` was ``index``: the lowest
        absolute index whose item may have changed since (an insertion moved it), or
        ``index`` itself when nothing below it changed. Asking changes nothing, so any
        number of readers can share one buffer. Indices below ``start`` are gone anyway:
        a reader that read up to there only learns ``index`` back."""
        start = self._start
        if index <= start:
            return index
        ends = self._change_ends
        at = bisect.bisect_left(ends, index)
        if at == len(ends):
            return index
        return max(start, min(index, self._change_lows[at]))

    # ------------------------------------------------------------------ writing

    def add(self, items: Iterable[LogItem]) -> None:
        """Add items (each source's in its own order), merging them in time order."""
        if not isinstance(items, (list, tuple)):
            items = list(items)
        run = max(self.capacity, _RELEASE_EVERY)  # so a huge batch never holds more
        if len(items) <= run:
            self._add(items)
            return
        for first in range(0, len(items), run):
            self._add(items[first:first + run])

    def _add(self, items: list[LogItem] | tuple[LogItem, ...]) -> None:
        entries = self._items
        head, window = self._head, self.merge_window
        first = self._start - head  # absolute index = first + position in the list
        end_before = first + len(entries)
        lowest = end_before
        last = entries[-1].time_ns if len(entries) > head else None
        for item in items:
            if item.__class__ is LogRecord and item.parsed is not None:  # type: ignore[union-attr]
                item = compact(item)  # type: ignore[arg-type]
            time_ns = item.time_ns
            if last is None or time_ns >= last:
                entries.append(item)
                last = time_ns
                continue
            low = max(head, len(entries) - window)
            place = bisect.bisect_right(entries, time_ns, low, key=_time_of)
            entries.insert(place, item)
            if first + place < lowest:
                lowest = first + place
        if lowest < end_before:
            self._note_change(end_before, lowest)
        over = len(entries) - head - self.capacity
        if over > 0:
            self._head += over
            self._start += over
            if self._head >= min(_RELEASE_EVERY, self.capacity):
                del entries[:self._head]
                self._head = 0
            self._forget_changes()

    def _note_change(self, end_before: int, lowest: int) -> None:
        ends, lows = self._change_ends, self._change_lows
        # A later change reaching as low hides an earlier one from every reader.
        while lows and lows[-1] >= lowest:
            lows.pop()
            ends.pop()
        ends.append(end_before)
        lows.append(lowest)
        if len(ends) > _MAX_CHANGES:
            # Merge the two oldest, erring low: some readers rescan more than needed.
            del ends[0]
            del lows[1]

    def _forget_changes(self) -> None:
        ends = self._change_ends
        gone = bisect.bisect_left(ends, self._start)
        if gone:
            del ends[:gone]
            del self._change_lows[:gone]

    def clear(self) -> None:
        """Drop every item (indices go on from ``end``)."""
        self._start = self.end
        self._items.clear()
        self._head = 0
        self._change_ends.clear()
        self._change_lows.clear()


__all__ = ["MERGE_WINDOW", "LogBuffer"]
