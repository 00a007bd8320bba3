"""Which items of a log buffer a filtered view shows: the matches, with context around them.

A view keeps the absolute buffer indices it shows, oldest first. :func:`select` reads a run
of items (``items[i]`` is the item at absolute index ``first + i``) and says which of them
to show next: every item when there is no filter, else the filter's matches and the gaps
(a gap always shows: lines known to be missing are never filtered away), and, with
``context``, that many lines before and after each match.

It is a pure function of its arguments, so a long scan (a field filter over 100,000 JSON
lines reads each line again: most of a second) can run in a thread on a snapshot of the
buffer while the event loop goes on; ``stop`` ends such a scan early when its answer is no
longer wanted.
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from watchdeck.core.logs.model import LogGap, LogItem, LogRecord

# ``last_match`` when no match was seen yet: further back than any context reaches.
NO_MATCH = -(10**9)
# How many items a scan reads between two looks at ``stop``.
_STOP_EVERY = 4096


@dataclass(slots=True)
class Selection:
    """What :func:`select` chose: indices to append to the view, the matches among them
    (kept only with context, to tell matches from context lines), and the last match's
    index, to carry into the next scan so context runs on across scans."""

    shown: array[int] = field(default_factory=lambda: array("q"))
    matched: set[int] = field(default_factory=set)
    last_match: int = NO_MATCH


def select(items: Sequence[LogItem], first: int,
           matches: Callable[[LogRecord], bool] | None, *, context: int = 0,
           low: int = 0, last_shown: int = -1, last_match: int = NO_MATCH,
           stop: threading.Event | None = None) -> Selection | None:
    """The indices among ``items`` (``first`` onwards) a view shows, after a view whose
    last shown index is ``last_shown`` and last match ``last_match``. Context lines before
    a match reach back to ``low`` (the buffer's oldest index) but never before
    ``last_shown``. None when ``stop`` was set meanwhile."""
    chosen = Selection(last_match=last_match)
    shown = chosen.shown
    if matches is None:
        shown.extend(range(first, first + len(items)))
        return chosen
    append = shown.append
    last = last_shown
    if not context:
        for offset, item in enumerate(items):
            if not offset % _STOP_EVERY and stop is not None and stop.is_set():
                return None
            if isinstance(item, LogGap) or matches(item):  # type: ignore[arg-type]
                append(first + offset)
        return chosen
    matched = chosen.matched
    for offset, item in enumerate(items):
        if not offset % _STOP_EVERY and stop is not None and stop.is_set():
            return None
        index = first + offset
        if isinstance(item, LogGap) or matches(item):  # type: ignore[arg-type]
            matched.add(index)
            last_match = index
            shown.extend(range(max(low, index - context, last + 1), index))
            append(index)
            last = index
        elif 0 <= index - last_match <= context:
            append(index)
            last = index
    chosen.last_match = last_match
    return chosen


__all__ = ["NO_MATCH", "Selection", "select"]
