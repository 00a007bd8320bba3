"""Feeds: retry backoff, snapshots, and what one fetch asks the source for."""

from __future__ import annotations

import random

import pytest

from watchdeck.core.errors import ConnectError, QueryError
from watchdeck.core.feeds import (
    MAX_BACKOFF,
    FeedKey,
    FeedSnapshot,
    backoff_delay,
    fetch_metrics,
)
from watchdeck.core.model import QueryResult, Series
from watchdeck.core.sources.base import MetricsSource

# --------------------------------------------------------------------------- backoff


class Fixed(random.Random):
    """A random source whose uniform() always gives the low, middle or high end."""

    def __init__(self, where: float) -> None:
        super().__init__(0)
        self.where = where

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.where


def test_no_failures_waits_the_base() -> None:
    assert backoff_delay(0, 5.0) == 5.0


def test_backoff_doubles_per_failure() -> None:
    middle = Fixed(0.5)  # no jitter
    assert [backoff_delay(n, 2.0, rand=middle) for n in range(1, 6)] == [2, 4, 8, 16, 32]


def test_backoff_is_capped() -> None:
    middle = Fixed(0.5)
    assert backoff_delay(10, 2.0, rand=middle) == MAX_BACKOFF
    assert backoff_delay(50, 2.0, cap=30.0, rand=middle) == 30.0
    assert backoff_delay(1000, 2.0, rand=middle) == MAX_BACKOFF  # no overflow


@pytest.mark.parametrize("failures", [1, 2, 3, 4, 8, 20])
def test_jitter_stays_within_twenty_percent(failures: int) -> None:
    base = 1.5
    nominal = min(MAX_BACKOFF, base * 2 ** (failures - 1))
    rand = random.Random(1234)
    delays = [backoff_delay(failures, base, rand=rand) for _ in range(500)]
    assert all(0.8 * nominal - 1e-9 <= d <= 1.2 * nominal + 1e-9 for d in delays)
    assert len(set(delays)) > 1  # it really is jittered
    assert min(delays) < nominal < max(delays)


def test_jitter_extremes() -> None:
    assert backoff_delay(3, 1.0, rand=Fixed(0.0)) == pytest.approx(3.2)
    assert backoff_delay(3, 1.0, rand=Fixed(1.0)) == pytest.approx(4.8)


def test_backoff_is_monotonic_without_jitter() -> None:
    middle = Fixed(0.5)
    delays = [backoff_delay(n, 0.5, rand=middle) for n in range(0, 15)]
    assert delays == sorted(delays)


# --------------------------------------------------------------------------- snapshots


KEY = FeedKey("prom", "up", range=600, step=15)
RESULT = QueryResult("vector", (Series({"job": "x"}, (1.0,), (1.0,)),))


def test_new_snapshot_is_loading() -> None:
    snapshot = FeedSnapshot(KEY)
    assert snapshot.loading
    assert snapshot.failures == 0


def test_failed_counts_failures_and_schedules_a_retry() -> None:
    snapshot = FeedSnapshot(KEY).failed(ConnectError("connection refused"), now=100.0,
                                        retry_in=5.0)
    assert not snapshot.loading
    assert snapshot.error == "connection refused"
    assert snapshot.error_kind == "unreachable"
    assert snapshot.error_at == 100.0
    assert snapshot.failures == 1
    assert snapshot.next_retry_at == 105.0
    again = snapshot.failed(QueryError("bad_data", "parse error"), now=110.0, retry_in=10.0)
    assert again.failures == 2
    assert again.error == "bad_data: parse error"
    assert again.error_kind == "query"
    assert again.next_retry_at == 120.0


def test_failure_keeps_the_last_good_result_for_a_stale_display() -> None:
    good = FeedSnapshot(KEY).succeeded(RESULT, now=50.0, window=(0.0, 50.0))
    stale = good.failed(ConnectError("down"), now=60.0, retry_in=2.0)
    assert stale.result is RESULT
    assert stale.fetched_at == 50.0
    assert stale.error == "down"


def test_success_clears_the_error_state() -> None:
    failing = FeedSnapshot(KEY).failed(ConnectError("down"), 1.0, 2.0).failed(
        ConnectError("down"), 3.0, 4.0)
    recovered = failing.succeeded(RESULT, now=10.0, window=(5.0, 10.0))
    assert recovered.result is RESULT
    assert recovered.fetched_at == 10.0
    assert recovered.window == (5.0, 10.0)
    assert recovered.error is None and recovered.error_kind is None
    assert recovered.error_at is None and recovered.next_retry_at is None
    assert recovered.failures == 0
    assert not recovered.loading


def test_snapshots_are_immutable_and_keys_are_shareable() -> None:
    snapshot = FeedSnapshot(KEY)
    with pytest.raises(AttributeError):
        snapshot.failures = 3  # type: ignore[misc]
    assert FeedKey("prom", "up", range=600, step=15) == KEY
    assert len({KEY, FeedKey("prom", "up", range=600, step=15)}) == 1
    assert FeedKey("prom", "up", range=600, step=30) != KEY
    assert KEY.live and not FeedKey("prom", "up", end=5.0).live


# --------------------------------------------------------------------------- fetch


class RecordingSource:
    name = "fake"
    type = "prometheus"
    scrape_interval = 15.0

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    async def query(self, expr: str, at: float | None = None) -> QueryResult:
        self.calls.append(("query", expr, at))
        return RESULT

    async def query_range(self, expr: str, start: float, end: float, step: float
                          ) -> QueryResult:
        self.calls.append(("query_range", expr, start, end, step))
        return QueryResult("matrix")

    async def label_names(self, match=None, start=None, end=None) -> list[str]:  # noqa: ANN001
        return []

    async def label_values(self, label, match=None, start=None, end=None) -> list[str]:  # noqa: ANN001
        return []

    async def series(self, match, start=None, end=None) -> list[dict[str, str]]:  # noqa: ANN001
        return []

    async def buildinfo(self) -> dict[str, str]:
        return {}

    async def aclose(self) -> None:
        return None


def test_recording_source_is_a_metrics_source() -> None:
    assert isinstance(RecordingSource(), MetricsSource)


async def test_live_range_fetch_asks_for_aligned_points() -> None:
    source = RecordingSource()
    key = FeedKey("fake", "rate(x[1m])", range=3600, step=60)
    now = 1_000_030.0  # not on a step boundary
    result, window = await fetch_metrics(source, key, now)
    assert result.result_type == "matrix"
    assert window == (now - 3600, now)
    kind, expr, start, end, step = source.calls[0]
    assert (kind, expr, step) == ("query_range", "rate(x[1m])", 60)
    assert end == 1_000_020.0  # the last whole minute
    assert start <= now - 3600
    assert start % 60 == 0 and end % 60 == 0


async def test_paused_range_fetch_ends_at_the_window_end() -> None:
    source = RecordingSource()
    key = FeedKey("fake", "up", range=600, step=15, end=2_000_000.0)
    _, window = await fetch_metrics(source, key, now=9_999_999.0)
    assert window == (2_000_000.0 - 600, 2_000_000.0)
    _, _, start, end, _ = source.calls[0]
    assert end == 2_000_000.0 - (2_000_000.0 % 15)
    assert end <= 2_000_000.0


async def test_instant_fetch() -> None:
    source = RecordingSource()
    live = FeedKey("fake", "up", instant=True, range=300)
    result, window = await fetch_metrics(source, live, now=500.0)
    assert result is RESULT
    assert window == (200.0, 500.0)
    assert source.calls[-1] == ("query", "up", None)  # live: the server's now
    fixed = FeedKey("fake", "up", instant=True, range=300, end=400.0)
    await fetch_metrics(source, fixed, now=500.0)
    assert source.calls[-1] == ("query", "up", 400.0)


@pytest.mark.parametrize("failures", [1025, 1100, 10**6])
def test_backoff_survives_a_backend_down_for_days(failures: int) -> None:
    # at the 60s cap, 1100 failures is about 18 hours of a dead backend
    delay = backoff_delay(failures, 2.0, rand=Fixed(0.5))
    assert delay == MAX_BACKOFF
