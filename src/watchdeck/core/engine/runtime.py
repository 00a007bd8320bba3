"""The embedded engine as one object: store, scraper, rules and evaluator, with a
lifecycle (``start`` on the running event loop, ``stop``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from watchdeck.core.engine.exemplars import (
    DEFAULT_CAPACITY,
    DEFAULT_PER_SERIES,
    Entry,
    ExemplarStore,
)
from watchdeck.core.engine.rules import Group, RuleManager, load_rule_file
from watchdeck.core.engine.scrape import DEFAULT_MAX_BODY, Scraper, Target
from watchdeck.core.engine.storage import Storage


class EmbeddedEngine:
    def __init__(
        self,
        targets: Sequence[Target] = (),
        *,
        interval: float = 15.0,
        timeout: float | None = None,
        retention: float = 3 * 3600.0,
        max_series: int = 200_000,
        max_body_bytes: int = DEFAULT_MAX_BODY,
        rule_files: Sequence[Path] = (),
        rule_interval: float | None = None,
        max_exemplars: int = DEFAULT_CAPACITY,
        exemplars_per_series: int = DEFAULT_PER_SERIES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from watchdeck.core.engine.promql import Evaluator

        self.clock = clock
        self.storage = Storage(retention_ms=int(retention * 1000), max_series=max_series)
        self.exemplars = ExemplarStore(max_exemplars, exemplars_per_series)
        self.scraper = Scraper(self.storage, targets, interval, timeout, max_body_bytes,
                               self.exemplars, clock)
        groups: list[Group] = []
        for path in rule_files:
            groups += load_rule_file(path, rule_interval or interval)
        self.rules = RuleManager(self.storage, groups, clock)
        self.evaluator = Evaluator(self.storage)
        self.interval = interval
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    def start(self) -> None:
        """Start scraping and rule evaluation on the running event loop."""
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self.scraper.run(), name="engine-scrape"))
        if self.rules.groups:
            self._tasks.append(loop.create_task(self.rules.run(), name="engine-rules"))

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.scraper.aclose()

    def query_exemplars(self, expr: str, start_ms: int | None, end_ms: int | None
                        ) -> list[tuple[dict[str, str], list[Entry]]] | None:
        """Prometheus's ``query_exemplars`` over the scraped exemplars (``None``: the
        query has no selector). Raises PromQLError for a query that does not parse."""
        from watchdeck.core.engine.exemplars import query

        return query(self.exemplars, expr, start_ms, end_ms)

    def load_openmetrics(self, path: Path) -> int:
        """Samples of an OpenMetrics file with timestamps into the store; returns how many
        were stored (raises ``LoadError`` with the line of a bad one)."""
        from watchdeck.core.engine.load import load_file

        return load_file(path, self.storage).samples
