"""Feeds: the distinct requests panels share, what one fetch returns, and backoff.

A feed is one (source, query, step, window) tuple. The UI's hub runs one loop per feed
and hands every subscriber the same immutable :class:`FeedSnapshot`. This module holds
the parts of that which need no UI: the key, the snapshot, the fetch, the retry delay.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

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
    result: QueryResult | None = None
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

    def succeeded(self, result: QueryResult, now: float, window: tuple[float, float]
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
