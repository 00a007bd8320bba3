"""``type: scrape``: the embedded engine as a metrics source.

It scrapes the configured ``/metrics`` endpoints itself and answers PromQL (the subset in
docs/engine.md) with the same result shapes as Prometheus, so every panel and layout works
on it as on a Prometheus. Queries are evaluated in a worker thread: a heavy one does not
freeze the console.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from watchdeck import __version__
from watchdeck.core.alerts import Alert, alerts_from_rules
from watchdeck.core.config.models import ScrapeSourceConfig
from watchdeck.core.engine.matchers import Matcher
from watchdeck.core.engine.runtime import EmbeddedEngine
from watchdeck.core.engine.scrape import Target
from watchdeck.core.errors import QueryError, SourceConfigError
from watchdeck.core.model import Exemplar, QueryResult
from watchdeck.core.paths import expand


def read_targets(config: ScrapeSourceConfig, base_dir: Path) -> list[str]:
    urls = list(config.targets)
    if config.targets_file:
        path = expand(config.targets_file, base_dir)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise SourceConfigError(f"cannot read targets_file {path}: {error}") from None
        urls += [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return urls


def _exemplar_settings(config: ScrapeSourceConfig) -> dict[str, int]:
    """``max_exemplars`` and ``exemplars_per_series`` when the config has them."""
    settings = {}
    for name in ("max_exemplars", "exemplars_per_series"):
        value = getattr(config, name, None)
        if value is not None:
            settings[name] = int(value)
    return settings


class ScrapeSource:
    type = "scrape"

    def __init__(self, name: str, config: ScrapeSourceConfig, base_dir: Path,
                 engine: EmbeddedEngine | None = None,
                 discover: Callable[[], Awaitable[list[Target]]] | None = None,
                 on_close: Callable[[], Awaitable[None]] | None = None) -> None:
        self.name = name
        self.config = config
        self.discover = discover
        self.on_close = on_close
        if engine is None:
            targets = [Target(url, job=config.job) for url in read_targets(config, base_dir)]
            engine = EmbeddedEngine(
                targets, interval=config.interval, timeout=config.timeout,
                retention=config.retention, max_series=config.max_series,
                max_body_bytes=config.max_body_bytes,
                rule_files=[expand(p, base_dir) for p in config.rules],
                rule_interval=config.rule_interval,
                **_exemplar_settings(config),
            )
        self.engine = engine

    @property
    def scrape_interval(self) -> float:
        return self.engine.interval

    async def start(self) -> None:
        """Start scraping (after asking ``discover`` for targets, when given)."""
        if self.discover is not None:
            self.engine.scraper.set_targets(await self.discover())
        self.engine.start()

    async def _evaluate(self, call, *args):  # type: ignore[no-untyped-def]
        from watchdeck.core.engine.promql import PromQLError, to_query_result

        try:
            result = await asyncio.to_thread(call, *args)
        except PromQLError as error:
            raise QueryError(error.error_type, str(error), source=self.name) from None
        return to_query_result(result)

    async def query(self, expr: str, at: float | None = None) -> QueryResult:
        t = at if at is not None else self.engine.clock()
        return await self._evaluate(self.engine.evaluator.instant, expr, int(t * 1000))

    async def query_range(self, expr: str, start: float, end: float, step: float
                          ) -> QueryResult:
        return await self._evaluate(self.engine.evaluator.range, expr, int(start * 1000),
                                    int(end * 1000), int(step * 1000))

    async def query_exemplars(self, expr: str, start: float, end: float) -> list[Exemplar]:
        """The exemplars of the series ``expr`` selects, in ``[start, end]``, from the
        engine's OpenMetrics scrapes (as Prometheus's ``query_exemplars``)."""
        from watchdeck.core.engine.exemplars import to_exemplars
        from watchdeck.core.engine.promql import PromQLError

        try:
            found = await asyncio.to_thread(self.engine.query_exemplars, expr,
                                            round(start * 1000), round(end * 1000))
        except PromQLError as error:
            raise QueryError(error.error_type, str(error), source=self.name) from None
        return to_exemplars(found or ())

    def _match_sets(self, match: list[str] | None) -> list[list[Matcher]] | None:
        if not match:
            return None
        from watchdeck.core.engine.selector import SelectorError, parse_selector

        try:
            return [parse_selector(m) for m in match]
        except SelectorError as error:
            raise QueryError("bad_data", str(error), source=self.name) from None

    @staticmethod
    def _ms(seconds: float | None) -> int | None:
        return None if seconds is None else int(seconds * 1000)

    async def label_names(self, match: list[str] | None = None, start: float | None = None,
                          end: float | None = None) -> list[str]:
        sets = self._match_sets(match)
        return await asyncio.to_thread(self.engine.storage.label_names, sets,
                                       self._ms(start), self._ms(end))

    async def label_values(self, label: str, match: list[str] | None = None,
                           start: float | None = None, end: float | None = None) -> list[str]:
        sets = self._match_sets(match)
        return await asyncio.to_thread(self.engine.storage.label_values, label, sets,
                                       self._ms(start), self._ms(end))

    async def series(self, match: list[str], start: float | None = None,
                     end: float | None = None) -> list[dict[str, str]]:
        sets = self._match_sets(match)
        return await asyncio.to_thread(self.engine.storage.series_labels, sets,
                                       self._ms(start), self._ms(end))

    async def buildinfo(self) -> dict[str, str]:
        return {"version": f"watchdeck-engine {__version__}", "branch": "embedded"}

    async def alerts(self) -> list[Alert]:
        """Pending and firing alerts of the engine's rule files."""
        return alerts_from_rules(self.engine.rules.api_rules("alert"), self.name, "engine")

    def targets_summary(self) -> tuple[int, int, list[str]]:
        """(targets up, targets in all, "instance: reason" for each one down)."""
        health = list(self.engine.scraper.health.values())
        down = [f"{h.target.instance}: {h.last_error}" for h in health if h.health == "down"]
        return sum(h.health == "up" for h in health), len(health), down

    async def aclose(self) -> None:
        await self.engine.stop()
        if self.on_close is not None:
            await self.on_close()
