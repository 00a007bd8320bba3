"""A deterministic in-process metrics source and a settable clock, for UI tests.

The source answers like Prometheus would (series per label set, one point per step) with
values that depend only on the query text and the timestamp, so screenshots are stable.
It records every call, and can be told to fail, to test states and backoff.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

from watchdeck.core.errors import ConnectError, SourceError
from watchdeck.core.model import QueryResult, Series

FROZEN_NOW = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC


@dataclass
class Clock:
    now: float = FROZEN_NOW

    def __call__(self) -> float:
        return self.now


@dataclass
class SyntheticSource:
    name: str = "prom"
    type: str = "prometheus"
    series_per_query: int = 3
    scrape: float = 15.0
    calls: list[tuple[str, str, float, float, float]] = field(default_factory=list)
    fail_with: SourceError | None = None
    labels: dict[str, list[str]] = field(default_factory=lambda: {
        "replica": ["a", "b", "c"], "model": ["llama-3-8b", "mistral-7b"]})

    @property
    def scrape_interval(self) -> float:
        return self.scrape

    def _check(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    def _series_count(self, expr: str) -> int:
        if expr.startswith("sum(") or expr.startswith("scalar("):
            return 1
        if "many_series" in expr:
            return 80
        return self.series_per_query

    @staticmethod
    def value(expr: str, index: int, t: float) -> float:
        seed = zlib.crc32(f"{expr}#{index}".encode()) % 1000
        base = 10 + seed / 10
        return round(base + 5 * math.sin(t / 600 + seed) + index, 3)

    def _labels(self, index: int) -> dict[str, str]:
        replicas = self.labels["replica"]
        return {"replica": replicas[index % len(replicas)], "instance": f"host-{index}:9100"}

    async def query(self, expr: str, at: float | None = None) -> QueryResult:
        self.calls.append(("query", expr, at or 0.0, at or 0.0, 0.0))
        self._check()
        t = at if at is not None else FROZEN_NOW
        series = tuple(
            Series(self._labels(i), (t,), (self.value(expr, i, t),))
            for i in range(self._series_count(expr))
        )
        return QueryResult("vector", series)

    async def query_range(self, expr: str, start: float, end: float, step: float) -> QueryResult:
        self.calls.append(("query_range", expr, start, end, step))
        self._check()
        count = int((end - start) / step) + 1
        stamps = tuple(start + k * step for k in range(count))
        series = tuple(
            Series(self._labels(i), stamps, tuple(self.value(expr, i, t) for t in stamps))
            for i in range(self._series_count(expr))
        )
        return QueryResult("matrix", series)

    async def label_names(self, match=None, start=None, end=None) -> list[str]:  # type: ignore[no-untyped-def]
        self._check()
        return sorted(self.labels)

    async def label_values(self, label, match=None, start=None, end=None) -> list[str]:  # type: ignore[no-untyped-def]
        self.calls.append(("label_values", label, 0.0, 0.0, 0.0))
        self._check()
        return list(self.labels.get(label, []))

    async def series(self, match, start=None, end=None) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
        self._check()
        return [self._labels(i) for i in range(self.series_per_query)]

    alerts_list: list = field(default_factory=list)

    async def alerts(self) -> list:  # type: ignore[type-arg]
        self._check()
        return list(self.alerts_list)

    async def buildinfo(self) -> dict[str, str]:
        self._check()
        return {"version": "synthetic"}

    async def aclose(self) -> None:
        pass

    def exprs(self, kind: str = "query_range") -> list[str]:
        return [call[1] for call in self.calls if call[0] == kind]


def refused() -> ConnectError:
    return ConnectError("cannot connect to http://127.0.0.1:9: connection refused")
