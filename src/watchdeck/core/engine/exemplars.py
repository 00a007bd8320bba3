"""Exemplars kept from OpenMetrics scrapes, queried as Prometheus's ``query_exemplars``.

Like Prometheus's circular exemplar storage (``--enable-feature=exemplar-storage``): one
ring of ``capacity`` slots shared by all series, written in arrival order, so the oldest
exemplar is the one overwritten; each series threads its own exemplars through the ring
as a linked list, oldest first. Prometheus's rules for what is stored:

* an exemplar equal to the newest one of its series (labels, value, and timestamp when
  it has one) is the same exemplar scraped again: dropped, as are exemplars not newer
  than that newest one (out of order);
* an exemplar without a timestamp gets the scrape's time;
* label sets longer than 128 characters (names and values) are refused.

One addition: a series keeps at most ``per_series`` exemplars (its oldest go first), so a
busy fast bucket cannot push a slow bucket's rare exemplars — the traces worth opening —
out of the ring. The holes that leaves are closed up (in arrival order) before the ring
would overwrite a live exemplar while more than a quarter of it is holes.

Memory is bounded by ``capacity``: per slot an 8-byte timestamp, an 8-byte value, a
4-byte link and two list pointers (36 bytes), plus the exemplar's labels packed into one
string (about 115 bytes for ``{trace_id, span_id}`` in hex), plus one small record and
label key per series with exemplars (never more series than slots).
:meth:`ExemplarStore.stats` reports the figures. Thread-safe (scrapes append in worker
threads while queries read).
"""

from __future__ import annotations

import math
import sys
import threading
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import fields
from typing import Any

from watchdeck.core.engine.matchers import Matcher
from watchdeck.core.engine.storage import LabelKey
from watchdeck.core.model import Exemplar

DEFAULT_CAPACITY = 100_000  # Prometheus's default --storage.exemplars.max-exemplars
DEFAULT_PER_SERIES = 500
MAX_LABEL_SET_LENGTH = 128  # OpenMetrics and Prometheus: characters of names and values
_SEP = "\x00"
_MAX_MS = 2**62

# One exemplar as the store hands it out: (labels, value, timestamp in ms).
Entry = tuple[dict[str, str], float, int]


def _pack(labels: Mapping[str, str]) -> str | tuple[str, ...]:
    """Labels as one string (names sorted, NUL-separated): a third of a dict's memory.
    A label containing NUL is kept as a tuple instead."""
    flat = [part for name in sorted(labels) for part in (name, labels[name])]
    if any(_SEP in part for part in flat):
        return tuple(flat)
    return _SEP.join(flat)


def _unpack(packed: str | tuple[str, ...]) -> dict[str, str]:
    flat = packed.split(_SEP) if isinstance(packed, str) else list(packed)
    if flat == [""]:
        return {}
    return dict(zip(flat[0::2], flat[1::2]))


class _SeriesExemplars:
    """One series' place in the ring: its oldest and newest slot and how many it has."""

    __slots__ = ("key", "labels", "oldest", "newest", "count", "newest_has_ts")

    def __init__(self, key: LabelKey) -> None:
        self.key = key
        self.labels = dict(key)
        self.oldest = -1
        self.newest = -1
        self.count = 0
        self.newest_has_ts = False


class ExemplarStore:
    """A bounded ring of exemplars, by series (see the module's notes)."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY,
                 per_series: int = DEFAULT_PER_SERIES) -> None:
        if capacity < 1 or per_series < 1:
            raise ValueError("exemplar capacity and per_series must be at least 1")
        self.capacity = capacity
        self.per_series = per_series
        self.lock = threading.Lock()
        # The ring, as parallel columns that grow to ``capacity`` and are then reused.
        self._times = array("q")
        self._values = array("d")
        self._next = array("i")  # the series' next slot, -1 at its newest
        self._labels: list[str | tuple[str, ...] | None] = []
        self._owner: list[_SeriesExemplars | None] = []
        self._cursor = 0
        self._live = 0
        self._series: dict[LabelKey, _SeriesExemplars] = {}
        self.stored = 0
        self.duplicates = 0
        self.out_of_order = 0
        self.invalid = 0

    # ------------------------------------------------------------------ writing

    def add(self, key: LabelKey, labels: Mapping[str, str], value: float, t_ms: int,
            has_timestamp: bool = True) -> bool:
        """Keep one exemplar of the series ``key``; False when refused (the same one
        again, out of order, labels too long or a timestamp out of range)."""
        if (sum(len(name) + len(text) for name, text in labels.items()) > MAX_LABEL_SET_LENGTH
                or not -_MAX_MS < t_ms < _MAX_MS):
            self.invalid += 1
            return False
        packed = _pack(labels)
        with self.lock:
            series = self._series.get(key)
            if series is not None:
                newest = series.newest
                if (self._labels[newest] == packed and self._values[newest] == value
                        and series.newest_has_ts == has_timestamp
                        and (not has_timestamp or self._times[newest] == t_ms)):
                    self.duplicates += 1
                    return False
                if t_ms <= self._times[newest]:
                    self.out_of_order += 1
                    return False
            slot = self._claim()
            series = self._series.get(key)  # freeing the slot may have dropped it
            if series is None:
                series = self._series[key] = _SeriesExemplars(key)
            self._times[slot] = t_ms
            self._values[slot] = value
            self._next[slot] = -1
            self._labels[slot] = packed
            self._owner[slot] = series
            if series.count:
                self._next[series.newest] = slot
            else:
                series.oldest = slot
            series.newest = slot
            series.newest_has_ts = has_timestamp
            series.count += 1
            self._live += 1
            if series.count > self.per_series:
                self._release_oldest(series)
            self.stored += 1
            return True

    def _claim(self) -> int:
        """The slot to write next: a new one while the ring grows, else the oldest."""
        if len(self._owner) == self.capacity and self.capacity - self._live > self.capacity // 4:
            self._compact()
        if len(self._owner) < self.capacity:
            self._times.append(0)
            self._values.append(0.0)
            self._next.append(-1)
            self._labels.append(None)
            self._owner.append(None)
            return len(self._owner) - 1
        slot = self._cursor
        self._cursor = (slot + 1) % self.capacity
        owner = self._owner[slot]
        if owner is not None:
            # Written in arrival order, the ring's oldest slot is its series' oldest.
            self._release_oldest(owner)
        return slot

    def _compact(self) -> None:
        """Close the holes that ``per_series`` leaves (keeping arrival order), so that
        the ring overwrites live exemplars only when it is at least 3/4 full of them.
        O(capacity), at most once per capacity/4 additions."""
        n = len(self._owner)
        order = [slot for slot in (*range(self._cursor, n), *range(self._cursor))
                 if self._owner[slot] is not None]
        moved = {old: new for new, old in enumerate(order)}
        self._times = array("q", (self._times[slot] for slot in order))
        self._values = array("d", (self._values[slot] for slot in order))
        self._next = array("i", (moved.get(self._next[slot], -1) for slot in order))
        self._labels = [self._labels[slot] for slot in order]
        self._owner = [self._owner[slot] for slot in order]
        for series in self._series.values():
            series.oldest = moved[series.oldest]
            series.newest = moved[series.newest]
        self._cursor = 0

    def _release_oldest(self, series: _SeriesExemplars) -> None:
        slot = series.oldest
        series.oldest = self._next[slot]
        series.count -= 1
        self._live -= 1
        self._owner[slot] = None
        self._labels[slot] = None
        if not series.count:
            del self._series[series.key]

    # ------------------------------------------------------------------ reading

    def _walk(self, series: _SeriesExemplars) -> Iterator[int]:
        slot = series.oldest
        for _ in range(series.count):
            yield slot
            slot = self._next[slot]

    def select(self, match_sets: Sequence[Sequence[Matcher]], mint: int | None = None,
               maxt: int | None = None) -> list[tuple[dict[str, str], list[Entry]]]:
        """Series matching any of ``match_sets`` with their exemplars in ``[mint, maxt]``
        (ms, both ends included), oldest first; series without any there are left out.
        Ordered by series labels."""
        lo = -(2**63) if mint is None else mint
        hi = 2**63 - 1 if maxt is None else maxt
        out = []
        with self.lock:
            for key in sorted(self._series):
                series = self._series[key]
                if not any(all(m.matches(series.labels.get(m.name, "")) for m in matchers)
                           for matchers in match_sets):
                    continue
                found = [(_unpack(self._labels[slot]),  # type: ignore[arg-type]
                          self._values[slot], self._times[slot])
                         for slot in self._walk(series) if lo <= self._times[slot] <= hi]
                if found:
                    out.append((dict(series.labels), found))
        return out

    @property
    def by_series(self) -> dict[LabelKey, list[Exemplar]]:
        """Every series' exemplars, oldest first (a snapshot)."""
        everything = [[Matcher("__name__", "=~", ".*")]]
        return {tuple(sorted(labels.items())): to_exemplars([(labels, entries)])
                for labels, entries in self.select(everything)}

    def __len__(self) -> int:
        return self._live

    def stats(self) -> dict[str, float]:
        """Counts and memory: ``bytes`` is the ring's columns plus the packed labels
        held, ``bytes_per_exemplar`` that over the exemplars held."""
        with self.lock:
            held = self._live
            columns = sum(column.buffer_info()[1] * column.itemsize
                          for column in (self._times, self._values, self._next))
            lists = sys.getsizeof(self._labels) + sys.getsizeof(self._owner)
            labels = sum(sys.getsizeof(packed) for packed in self._labels if packed is not None)
            used = columns + lists + labels
            return {
                "exemplars": held, "series": len(self._series), "capacity": self.capacity,
                "slots": len(self._owner),
                "stored": self.stored, "duplicates": self.duplicates,
                "out_of_order": self.out_of_order, "invalid": self.invalid,
                "bytes": used, "bytes_per_exemplar": used / held if held else math.nan,
            }


# ---------------------------------------------------------------------- queries


def selectors(expr: Any) -> list[list[Matcher]]:
    """The matchers of every vector selector in a parsed query (Prometheus's
    ``parser.ExtractSelectors``), in the order they appear."""
    from watchdeck.core.engine.promql.ast import Expr, VectorSelector

    found: list[list[Matcher]] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, VectorSelector):
            found.append(list(node.matchers))
            continue
        children = []
        for spec in fields(node):
            value = getattr(node, spec.name)
            if isinstance(value, Expr):
                children.append(value)
            elif isinstance(value, list):
                children.extend(item for item in value if isinstance(item, Expr))
        stack.extend(reversed(children))
    return found


def query(store: ExemplarStore, expr: str, mint: int | None, maxt: int | None
          ) -> list[tuple[dict[str, str], list[Entry]]] | None:
    """Prometheus's ``query_exemplars``: the exemplars in ``[mint, maxt]`` of the series
    that the query's selectors match. ``None`` when the query has no selector (Prometheus
    answers 204). Raises PromQLError (bad_data) for a query Prometheus would not parse, or
    ``end`` before ``start``; any valid PromQL is accepted, not only the engine's subset."""
    from watchdeck.core.engine.promql.errors import bad_data
    from watchdeck.core.engine.promql.parser import parse_full

    if mint is not None and maxt is not None and maxt < mint:
        raise bad_data("end timestamp must not be before start timestamp")
    match_sets = selectors(parse_full(expr))
    if not match_sets:
        return None
    return store.select(match_sets, mint, maxt)


def to_exemplars(found: Sequence[tuple[dict[str, str], list[Entry]]],
                 trace_labels: Sequence[str] | None = None,
                 span_labels: Sequence[str] | None = None) -> list[Exemplar]:
    """The console's model of a query's answer: one :class:`Exemplar` each, sorted by
    time (then series)."""
    extra: dict[str, Sequence[str]] = {}
    if trace_labels is not None:
        extra["trace_labels"] = trace_labels
    if span_labels is not None:
        extra["span_labels"] = span_labels
    out = [Exemplar.from_labels(series, labels, value, t / 1000, **extra)
           for series, entries in found for labels, value, t in entries]
    out.sort(key=lambda e: (e.timestamp, sorted(e.series_labels.items())))
    return out


def to_api_data(found: Sequence[tuple[dict[str, str], list[Entry]]]) -> list[dict[str, Any]]:
    """The ``data`` of Prometheus's ``/api/v1/query_exemplars`` answer."""
    from watchdeck.core.engine.promql.gomath import format_value

    return [{"seriesLabels": series,
             "exemplars": [{"labels": labels, "value": format_value(value),
                            "timestamp": t / 1000} for labels, value, t in entries]}
            for series, entries in found]
