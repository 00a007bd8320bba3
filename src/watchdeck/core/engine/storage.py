"""The in-memory time-series store of the embedded engine.

Samples live per series in two compact arrays: millisecond timestamps as 32-bit offsets
from the series' base time, and values as 64-bit floats (12 bytes a sample, plus the
arrays' slack). Memory is bounded by retention (old samples are trimmed) and by a series
limit (new series beyond it are refused and counted). Prometheus's staleness marker (a
NaN with a special bit pattern) is stored like any value; readers treat it as "no value".

Queries note, per series, where its values go down (counter resets) and where they are
not finite; each sample is looked at once, when a query first reads it, and a window
without either is *plain* (:meth:`Storage.select_arrays`), which lets ``rate`` skip its
reset check.

Thread-safe: the scraper appends on the event loop while queries may run in a worker
thread; one lock covers appends, trims, those notes and the copying-out done by
:meth:`select`.
"""

from __future__ import annotations

import math
import struct
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress
from operator import lt
from typing import Any

from watchdeck.core.engine.matchers import Matcher

STALE_NAN_BITS = 0x7FF0000000000002
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]
_STALE_BYTES = struct.pack("<d", STALE_NAN)
_INT32_MAX = 2**31 - 1

LabelKey = tuple[tuple[str, str], ...]


def is_stale(value: float) -> bool:
    """Whether ``value`` is Prometheus's staleness marker (not just any NaN)."""
    return value != value and struct.pack("<d", value) == _STALE_BYTES


def label_key(labels: Mapping[str, str]) -> LabelKey:
    return tuple(sorted(labels.items()))


@dataclass(frozen=True, slots=True)
class SeriesSamples:
    """What :meth:`Storage.select` returns: one series' labels and samples in a window."""

    labels: dict[str, str]
    timestamps: list[int]  # milliseconds, ascending
    values: list[float]  # may contain STALE_NAN


class _Series:
    __slots__ = ("labels", "key", "base", "times", "values", "scanned", "drops", "odd")

    def __init__(self, key: LabelKey, base: int) -> None:
        self.key = key
        self.labels = dict(key)
        self.base = base
        self.times = array("i")
        self.values = array("d")
        # What rate queries learn about the values, kept so that each sample is looked
        # at once rather than once per query: of the first ``scanned`` samples, the
        # indices that are lower than the one before (counter resets) and those that are
        # not finite (NaN, staleness markers, ±Inf). Compact arrays, created on first
        # use: a gauge that goes up and down, or a NaN summary quantile, fills them.
        self.scanned = 0
        self.drops: array | None = None
        self.odd: array | None = None

    def last_time(self) -> int | None:
        return self.base + self.times[-1] if self.times else None

    def append(self, t: int, value: float) -> bool:
        if self.times:
            last = self.base + self.times[-1]
            if t <= last:
                return False  # out of order or duplicate: refused, as Prometheus does
        offset = t - self.base
        if not -_INT32_MAX <= offset <= _INT32_MAX:
            self._widen()
        self.times.append(t - self.base)
        self.values.append(value)
        return True

    def _widen(self) -> None:
        if self.times.typecode == "i":
            self.times = array("q", self.times)

    def window(self, mint: int, maxt: int) -> tuple[list[int], list[float]]:
        base = self.base
        times = self.times
        lo = bisect_left(times, mint - base)
        hi = bisect_right(times, maxt - base)
        if lo >= hi:
            return [], []
        return [t + base for t in times[lo:hi]], self.values[lo:hi].tolist()

    def trim_before(self, mint: int) -> None:
        cut = bisect_left(self.times, mint - self.base)
        if cut:
            del self.times[:cut]
            del self.values[:cut]
            self.scanned = max(0, self.scanned - cut)
            if self.drops:
                self.drops = array("i", [i - cut for i in self.drops if i - cut >= 1]) or None
            if self.odd:
                self.odd = array("i", [i - cut for i in self.odd if i >= cut]) or None

    def scan(self) -> None:
        """Bring ``drops`` and ``odd`` up to date with the samples appended since the
        last scan."""
        values = self.values
        n = len(values)
        done = self.scanned
        if done >= n:
            return
        if n - done <= 8:  # the usual case on a live store: a scrape or two since
            prev = values[done - 1] if done else math.nan
            for i in range(done, n):
                v = values[i]
                if v - v != 0:
                    if self.odd is None:
                        self.odd = array("i")
                    self.odd.append(i)
                elif v < prev:
                    if self.drops is None:
                        self.drops = array("i")
                    self.drops.append(i)
                prev = v
        else:
            start = done - 1 if done else 0
            chunk = values[start:n]
            total = sum(chunk)
            if total - total != 0:  # something not finite (or an overflow): find it
                odd = [i for i, v in enumerate(chunk, start) if i >= done and v - v != 0]
                if odd:
                    if self.odd is None:
                        self.odd = array("i")
                    self.odd.extend(odd)
            drops = list(compress(range(start + 1, n), map(lt, chunk[1:], chunk[:-1])))
            if drops:
                if self.drops is None:
                    self.drops = array("i")
                self.drops.extend(drops)
        self.scanned = n

    def plain(self, lo: int, hi: int) -> bool:
        """Whether samples ``lo:hi`` are all finite and none is lower than the one
        before it (after :meth:`scan`)."""
        odd = self.odd
        if odd:
            j = bisect_left(odd, lo)
            if j < len(odd) and odd[j] < hi:
                return False
        drops = self.drops
        if drops:
            j = bisect_right(drops, lo)
            if j < len(drops) and drops[j] < hi:
                return False
        return True

    def bytes_used(self) -> int:
        return (self.times.buffer_info()[1] * self.times.itemsize
                + self.values.buffer_info()[1] * self.values.itemsize)


class SeriesLimitError(Exception):
    """The store holds its maximum number of series; a new one was refused."""


class Storage:
    """Series by label set, an inverted index for matching, bounded by retention/count."""

    def __init__(self, retention_ms: int = 3 * 3600 * 1000, max_series: int = 200_000) -> None:
        self.retention_ms = retention_ms
        self.max_series = max_series
        self.lock = threading.RLock()
        self._series: dict[LabelKey, _Series] = {}
        # label name -> value -> the series with that label. Sets of series objects
        # rather than label keys: they hash by identity, where a key tuple is hashed
        # afresh at every lookup.
        self._postings: dict[str, dict[str, set[_Series]]] = {}
        self.refused_series = 0
        self.refused_samples = 0
        self.newest = -(2**62)

    # ------------------------------------------------------------------ writing

    def _get_or_create(self, key: LabelKey, t: int) -> _Series | None:
        series = self._series.get(key)
        if series is None:
            if len(self._series) >= self.max_series:
                self.refused_series += 1
                return None
            series = self._series[key] = _Series(key, t)
            for name, value in key:
                self._postings.setdefault(name, {}).setdefault(value, set()).add(series)
        return series

    def append(self, labels: Mapping[str, str], t: int, value: float) -> bool:
        """Add one sample (``t`` in ms). False when refused (limit, out of order)."""
        with self.lock:
            return self._append(label_key(labels), t, value)

    def append_many(self, samples: Iterable[tuple[LabelKey, int, float]]) -> int:
        """Add samples given by label key; returns how many were refused."""
        refused = 0
        with self.lock:
            for key, t, value in samples:
                if not self._append(key, t, value):
                    refused += 1
        return refused

    def _append(self, key: LabelKey, t: int, value: float) -> bool:
        series = self._get_or_create(key, t)
        if series is None:
            return False
        if not series.append(t, value):
            self.refused_samples += 1
            return False
        if t > self.newest:
            self.newest = t
        return True

    def last_value(self, key: LabelKey) -> tuple[int, float] | None:
        with self.lock:
            series = self._series.get(key)
            if series is None or not series.times:
                return None
            return series.base + series.times[-1], series.values[-1]

    def trim(self, now_ms: int | None = None) -> int:
        """Drop samples older than the retention, and series left empty. Returns series
        dropped."""
        with self.lock:
            now = self.newest if now_ms is None else now_ms
            mint = now - self.retention_ms
            dropped = 0
            for key, series in list(self._series.items()):
                series.trim_before(mint)
                if not series.times:
                    self._drop(key)
                    dropped += 1
            return dropped

    def _drop(self, key: LabelKey) -> None:
        series = self._series.pop(key)
        for name, value in key:
            values = self._postings.get(name)
            if values is None:
                continue
            members = values.get(value)
            if members is not None:
                members.discard(series)
                if not members:
                    del values[value]
            if not values:
                del self._postings[name]

    # ------------------------------------------------------------------ reading

    def _matching(self, matchers: Sequence[Matcher]) -> list[_Series]:
        candidates: set[_Series] | None = None
        # Matchers answered exactly by the postings need no second look per series.
        rest = list(matchers)
        for matcher in matchers:
            if matcher.op == "=" and matcher.value:
                found = self._postings.get(matcher.name, {}).get(matcher.value, set())
                candidates = set(found) if candidates is None else candidates & found
                rest.remove(matcher)
                if not candidates:
                    return []
        if candidates is None:
            # Start from the postings of the labels that must be present, when there are.
            for matcher in matchers:
                if not matcher.matches_empty():
                    union: set[_Series] = set()
                    for value, members in self._postings.get(matcher.name, {}).items():
                        if matcher.matches(value):
                            union |= members
                    candidates = union if candidates is None else candidates & union
                    rest.remove(matcher)
            if candidates is None:
                candidates = set(self._series.values())
        if not rest:
            return list(candidates)
        return [series for series in candidates
                if all(m.matches(series.labels.get(m.name, "")) for m in rest)]

    def select(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> list[SeriesSamples]:
        """Series matching all ``matchers`` with their samples in ``[mint, maxt]`` (ms,
        both ends included). Series without samples there are left out."""
        with self.lock:
            out = []
            for series in self._matching(matchers):
                times, values = series.window(mint, maxt)
                if times:
                    out.append(SeriesSamples(dict(series.labels), times, values))
            return out

    def select_grouped(self, matchers: Sequence[Matcher], mint: int, maxt: int
                       ) -> list[tuple[list[int], list[tuple[dict[str, str], list[float]]]]]:
        """Like :meth:`select`, but series that share their timestamps (scraped together)
        share one timestamp list: ``[(timestamps, [(labels, values), ...]), ...]``. The
        evaluator works out window bounds once per group instead of once per series."""
        with self.lock:
            by_window: dict[tuple[int, str, bytes], tuple[list[int], list[Any]]] = {}
            for series in self._matching(matchers):
                base, times = series.base, series.times
                lo = bisect_left(times, mint - base)
                hi = bisect_right(times, maxt - base)
                if lo >= hi:
                    continue
                window = times[lo:hi]
                key = (base, window.typecode, window.tobytes())
                entry = by_window.get(key)
                if entry is None:
                    entry = by_window[key] = ([t + base for t in window], [])
                entry[1].append((dict(series.labels), series.values[lo:hi].tolist()))
            merged: dict[tuple[int, ...], tuple[list[int], list[Any]]] = {}
            for stamps, members in by_window.values():
                merged.setdefault(tuple(stamps), (stamps, []))[1].extend(members)
            return list(merged.values())

    def select_arrays(self, matchers: Sequence[Matcher], mint: int, maxt: int
                      ) -> list[tuple[list[int], list[tuple[dict[str, str], array, bool]]]]:
        """Like :meth:`select_grouped`, for the evaluator's range functions: values come
        as ``array("d")`` copies (no Python float per sample until one is read), with a
        flag saying the window is *plain*: all values finite and none lower than the one
        before (no staleness marker, no counter reset). The label dicts are the store's
        own: read them, never change them.
        ``[(timestamps, [(labels, values, plain), ...]), ...]``."""
        with self.lock:
            by_window: dict[tuple[int, str, bytes], tuple[list[int], list[Any]]] = {}
            previous: _Series | None = None
            lo = hi = 0
            members: list[Any] = []
            for series in self._matching(matchers):
                base, times = series.base, series.times
                # Series scraped together have equal timestamps: comparing with the
                # previous series (a memcmp) is cheaper than finding the window again.
                if (previous is None or base != previous.base or len(times) != len(previous.times)
                        or times != previous.times):
                    lo = bisect_left(times, mint - base)
                    hi = bisect_right(times, maxt - base)
                    if lo >= hi:
                        previous = None
                        continue
                    window = times[lo:hi]
                    key = (base, window.typecode, window.tobytes())
                    entry = by_window.get(key)
                    if entry is None:
                        entry = by_window[key] = ([t + base for t in window], [])
                    members = entry[1]
                    previous = series
                if series.scanned < hi:
                    series.scan()
                plain = (not series.odd and not series.drops) or series.plain(lo, hi)
                members.append((series.labels, series.values[lo:hi], plain))
            merged: dict[tuple[int, ...], tuple[list[int], list[Any]]] = {}
            for stamps, grouped in by_window.values():
                merged.setdefault(tuple(stamps), (stamps, []))[1].extend(grouped)
            return list(merged.values())

    def _in_range(self, series: _Series, mint: int | None, maxt: int | None) -> bool:
        if not series.times:
            return False
        first = series.base + series.times[0]
        last = series.base + series.times[-1]
        return (maxt is None or first <= maxt) and (mint is None or last >= mint)

    def series_labels(self, match_sets: Sequence[Sequence[Matcher]] | None,
                      mint: int | None = None, maxt: int | None = None) -> list[dict[str, str]]:
        """Label sets of series matching any of ``match_sets`` (all series when None)."""
        with self.lock:
            found: dict[LabelKey, _Series] = {}
            if match_sets is None:
                found = dict(self._series)
            else:
                for matchers in match_sets:
                    for series in self._matching(matchers):
                        found[series.key] = series
            return [dict(s.labels) for s in found.values() if self._in_range(s, mint, maxt)]

    def label_names(self, match_sets: Sequence[Sequence[Matcher]] | None = None,
                    mint: int | None = None, maxt: int | None = None) -> list[str]:
        names: set[str] = set()
        for labels in self.series_labels(match_sets, mint, maxt):
            names.update(labels)
        return sorted(names)

    def label_values(self, name: str, match_sets: Sequence[Sequence[Matcher]] | None = None,
                     mint: int | None = None, maxt: int | None = None) -> list[str]:
        values = {labels[name] for labels in self.series_labels(match_sets, mint, maxt)
                  if name in labels}
        return sorted(values)

    # ------------------------------------------------------------------ stats

    @property
    def series_count(self) -> int:
        return len(self._series)

    def stats(self) -> dict[str, float]:
        with self.lock:
            samples = sum(len(s.times) for s in self._series.values())
            used = sum(s.bytes_used() for s in self._series.values())
            return {
                "series": len(self._series),
                "samples": samples,
                "sample_bytes": used,
                "bytes_per_sample": used / samples if samples else math.nan,
            }
