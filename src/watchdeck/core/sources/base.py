"""What every source has in common, and what a metrics source answers."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from watchdeck.core.model import QueryResult


@runtime_checkable
class Source(Protocol):
    name: str
    type: str

    async def aclose(self) -> None: ...


@runtime_checkable
class MetricsSource(Source, Protocol):
    """A PromQL-speaking source: Prometheus, a compatible store, or the embedded engine."""

    @property
    def scrape_interval(self) -> float: ...

    async def query(self, expr: str, at: float | None = None) -> QueryResult: ...

    async def query_range(
        self, expr: str, start: float, end: float, step: float
    ) -> QueryResult: ...

    async def label_names(
        self, match: list[str] | None = None, start: float | None = None, end: float | None = None
    ) -> list[str]: ...

    async def label_values(
        self,
        label: str,
        match: list[str] | None = None,
        start: float | None = None,
        end: float | None = None,
    ) -> list[str]: ...

    async def series(
        self, match: list[str], start: float | None = None, end: float | None = None
    ) -> list[dict[str, str]]: ...

    async def buildinfo(self) -> dict[str, str]: ...
