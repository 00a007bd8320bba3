"""Feeds: the distinct requests panels share, what one fetch returns, and backoff.

A feed is one (source, query, step, window) tuple. The UI's hub runs one loop per feed
and hands every subscriber the same immutable :class:`FeedSnapshot`. This module holds
the parts of that which need no UI: the key, the snapshot, the fetch, the retry delay.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any

from watchdeck.core.alerts import Alert, Silence
from watchdeck.core.errors import SourceError
from watchdeck.core.model import QueryResult
from watchdeck.core.sources.base import MetricsSource
from watchdeck.core.timewin import aligned_range

MAX_BACKOFF = 60.0


@dataclass(frozen=True, slots=True)
class FeedKey:
    """What to fetch. Panels asking for an equal key share one feed."""

    source: str
    expr: str
    instant: bool = False
    kind: str = "metrics"  # metrics | alerts | silences
    range: float = 3600.0
    step: float = 60.0
    end: float | None = None  # None: the window ends now (live)
    align: float = 0.0  # the end snaps to multiples of this (0: of the step)

    @property
    def live(self) -> bool:
        return self.end is None


@dataclass(frozen=True, slots=True)
class FeedSnapshot:
    """Everything a panel needs to draw a feed's state."""

    key: FeedKey
    result: Any = None  # QueryResult, AlertList or SilenceList, by the key's kind
    fetched_at: float | None = None
    window: tuple[float, float] | None = None  # the start/end the result covers
    error: str | None = None
    error_kind: str | None = None
    error_at: float | None = None
    failures: int = 0
    next_retry_at: float | None = None

    @property
    def loading(self) -> bool:
        return self.result is None and self.error is None

    def succeeded(self, result: Any, now: float, window: tuple[float, float]
                  ) -> FeedSnapshot:
        return replace(self, result=result, fetched_at=now, window=window, error=None,
                       error_kind=None, error_at=None, failures=0, next_retry_at=None)

    def failed(self, error: SourceError, now: float, retry_in: float) -> FeedSnapshot:
        return replace(self, error=str(error), error_kind=error.kind, error_at=now,
                       failures=self.failures + 1, next_retry_at=now + retry_in)


def backoff_delay(failures: int, base: float, cap: float = MAX_BACKOFF,
                  rand: random.Random | None = None) -> float:
    """Exponential backoff with +-20 % jitter: base, 2x, 4x ... capped at ``cap``."""
    if failures <= 0:
        return base
    # the exponent is bounded: a feed failing for a day must not overflow a float
    delay = min(cap, base * 2 ** min(failures - 1, 64))
    jitter = (rand or random).uniform(0.8, 1.2)
    return min(cap * 1.2, delay * jitter)


@dataclass
class Backoff:
    """Failures in a row, and the wait they call for (``base``, 2x, 4x ... ``cap``, +-20 %)."""

    base: float = 1.0
    cap: float = MAX_BACKOFF
    failures: int = 0

    def fail(self, at_least: int = 0) -> float:
        """One more failure; ``at_least`` skips the first steps (a refusal that will not
        change soon should not be asked again at once)."""
        self.failures = max(self.failures + 1, at_least)
        return backoff_delay(self.failures, self.base, self.cap)

    def reset(self) -> None:
        self.failures = 0


@dataclass(frozen=True, slots=True)
class AlertList:
    """An alerts feed's answer."""

    alerts: tuple[Alert, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.alerts

    def same_data(self, other: object) -> bool:
        return isinstance(other, AlertList) and other.alerts == self.alerts


@dataclass(frozen=True, slots=True)
class SilenceList:
    """A silences feed's answer."""

    silences: tuple[Silence, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.silences

    def same_data(self, other: object) -> bool:
        return isinstance(other, SilenceList) and other.silences == self.silences


async def fetch(source: object, key: FeedKey, now: float) -> tuple[object, tuple[float, float]]:
    """Run ``key`` against ``source``; raises SourceError when the source cannot."""
    window = ((key.end or now) - key.range, key.end or now)
    if key.kind == "alerts":
        alerts = getattr(source, "alerts", None)
        if alerts is None:
            raise SourceError(f"source '{key.source}' has no alerts")
        found = await alerts()
        return AlertList(tuple(sorted(found, key=lambda a: a.key))), window
    if key.kind == "silences":
        silences = getattr(source, "silences", None)
        if silences is None:
            raise SourceError(f"source '{key.source}' has no silences (not an Alertmanager)")
        found = await silences()
        return SilenceList(tuple(sorted(found, key=lambda s: s.id))), window
    if not isinstance(source, MetricsSource):
        raise SourceError(f"source '{key.source}' does not answer PromQL")
    return await fetch_metrics(source, key, now)


async def fetch_metrics(source: MetricsSource, key: FeedKey, now: float
                        ) -> tuple[QueryResult, tuple[float, float]]:
    """Run ``key`` against ``source``; returns the result and the window it covers."""
    end = key.end if key.end is not None else now
    if key.instant:
        result = await source.query(key.expr, at=key.end)
        return result, (end - key.range, end)
    start, aligned_end = aligned_range(end - key.range, end, key.step, key.align or None)
    result = await source.query_range(key.expr, start, aligned_end, key.step)
    return result, (end - key.range, end)
