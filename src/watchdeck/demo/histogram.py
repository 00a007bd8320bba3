"""A classic Prometheus histogram kept by the simulation, with one exemplar per bucket.

The simulation owns its numbers (rather than prometheus_client's metric objects) so that
values, exemplar timestamps and ``_created``-free output follow the simulated clock and
the seed alone; :mod:`watchdeck.demo.exposition` turns them into metric families.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Exemplar:
    trace_id: str
    span_id: str
    value: float
    timestamp: float


class Histogram:
    __slots__ = ("bounds", "counts", "total", "exemplars")

    def __init__(self, bounds: Iterable[float]) -> None:
        self.bounds = tuple(float(b) for b in bounds)
        self.counts = [0] * (len(self.bounds) + 1)   # the last one is +Inf
        self.total = 0.0
        self.exemplars: list[Exemplar | None] = [None] * (len(self.bounds) + 1)

    def observe(self, value: float, count: int = 1, exemplar: Exemplar | None = None) -> None:
        """Add ``count`` observations of ``value``; the bucket keeps the latest exemplar."""
        if count <= 0:
            return
        index = bisect_left(self.bounds, value)   # first bound >= value: "le" semantics
        self.counts[index] += count
        self.total += value * count
        if exemplar is not None:
            self.exemplars[index] = exemplar

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[int]:
        running = 0
        out = []
        for count in self.counts:
            running += count
            out.append(running)
        return out
