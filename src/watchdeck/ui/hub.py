"""The hub: one polling loop per distinct feed, shared by every panel that asks for it.

Panels subscribe with a :class:`~watchdeck.core.feeds.FeedKey`. The hub runs one async
worker per key (fetch, post, sleep: a slow backend never stacks requests), polls only
while at least one subscriber is visible, backs off with jitter after failures and goes
back to the normal interval on the first success. It keeps per-source health for the
status bar. Live feeds poll every refresh; a fixed (paused or shifted) window is fetched
once and again only on ``r`` or after a failure.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from textual.app import App
from textual.message import Message
from textual.worker import Worker

from watchdeck.core.errors import SourceError
from watchdeck.core.feeds import FeedKey, FeedSnapshot, backoff_delay, fetch
from watchdeck.core.model import SourceHealth
from watchdeck.core.sources.base import Source

log = logging.getLogger(__name__)


SLOW_ROUND_TRIP = 0.05


def shown_round_trip(seconds: float | None) -> str:
    """The round trip as the status bar shows it: only when slow, to two digits
    (so a healthy source does not redraw the status bar on every poll)."""
    if seconds is None or seconds < SLOW_ROUND_TRIP:
        return ""
    if seconds >= 1:
        return f"{seconds:.2g}s" if seconds < 10 else f"{seconds:.0f}s"
    milliseconds = seconds * 1000
    return f"{float(f'{milliseconds:.2g}'):.0f}ms"


class FeedUpdated(Message):
    """A feed has a new snapshot. A newer one for the same key replaces a queued one."""

    def __init__(self, snapshot: FeedSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FeedUpdated) and message.snapshot.key == self.snapshot.key


class HealthChanged(Message):
    """A source's health changed (posted to the app for the status bar)."""

    def __init__(self, health: SourceHealth) -> None:
        super().__init__()
        self.health = health

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, HealthChanged) and message.health.name == self.health.name


class Subscriber(Protocol):
    def wants_data(self) -> bool: ...

    def post_message(self, message: Message) -> bool: ...


@dataclass(eq=False)
class _Feed:
    key: FeedKey
    subscribers: dict[Subscriber, float] = field(default_factory=dict)  # -> refresh seconds
    snapshot: FeedSnapshot | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    force: bool = False
    worker: Worker[None] | None = None

    @property
    def refresh(self) -> float:
        return min(self.subscribers.values(), default=10.0)


class Hub:
    """Owns all feeds of the app. Lives on the event loop; never blocks it."""

    def __init__(
        self,
        app: App[object],
        sources: dict[str, Source],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.sources = sources
        self.clock = clock
        self.health: dict[str, SourceHealth] = {name: SourceHealth(name) for name in sources}
        self._feeds: dict[FeedKey, _Feed] = {}

    # ------------------------------------------------------------------ subscriptions

    def subscribe(self, subscriber: Subscriber, key: FeedKey, refresh: float) -> None:
        feed = self._feeds.get(key)
        if feed is None:
            feed = self._feeds[key] = _Feed(key)
            feed.worker = self.app.run_worker(
                self._run(feed), group="feeds", exit_on_error=False,
                description=f"feed {key.source}: {key.expr[:60]}",
            )
        feed.subscribers[subscriber] = refresh
        if feed.snapshot is not None:
            subscriber.post_message(FeedUpdated(feed.snapshot))
        feed.wake.set()

    def unsubscribe(self, subscriber: Subscriber, key: FeedKey) -> None:
        feed = self._feeds.get(key)
        if feed is None:
            return
        feed.subscribers.pop(subscriber, None)
        if not feed.subscribers:
            del self._feeds[key]
            if feed.worker is not None:
                feed.worker.cancel()

    def unsubscribe_all(self, subscriber: Subscriber) -> None:
        for key in [k for k, f in self._feeds.items() if subscriber in f.subscribers]:
            self.unsubscribe(subscriber, key)

    @property
    def feed_count(self) -> int:
        return len(self._feeds)

    def keys(self) -> list[FeedKey]:
        return list(self._feeds)

    def snapshot(self, key: FeedKey) -> FeedSnapshot | None:
        feed = self._feeds.get(key)
        return feed.snapshot if feed else None

    # ------------------------------------------------------------------ control

    def wake(self) -> None:
        """Visibility may have changed: let sleeping feeds look again."""
        for feed in self._feeds.values():
            feed.wake.set()

    def refresh_now(self) -> None:
        """Fetch every wanted feed now, fixed windows and backed-off feeds included."""
        for feed in self._feeds.values():
            feed.force = True
            feed.wake.set()

    # ------------------------------------------------------------------ loop

    def _wanted(self, feed: _Feed) -> bool:
        return any(subscriber.wants_data() for subscriber in list(feed.subscribers))

    async def _sleep(self, feed: _Feed, seconds: float | None) -> None:
        feed.wake.clear()
        try:
            if seconds is None:
                await feed.wake.wait()
            else:
                await asyncio.wait_for(feed.wake.wait(), timeout=max(seconds, 0.0))
        except asyncio.TimeoutError:
            pass

    async def _run(self, feed: _Feed) -> None:
        key = feed.key
        while True:
            if not self._wanted(feed):
                feed.force = False
                await self._sleep(feed, None)
                continue
            snapshot = feed.snapshot
            done_for_now = (
                not key.live and snapshot is not None and snapshot.error is None
                and not feed.force
            )
            if done_for_now:
                await self._sleep(feed, None)
                continue
            feed.force = False
            delay = await self._poll(feed)
            await self._sleep(feed, delay)

    async def _poll(self, feed: _Feed) -> float:
        key = feed.key
        previous = feed.snapshot or FeedSnapshot(key)
        source = self.sources.get(key.source)
        now = started = self.clock()
        try:
            if source is None:
                raise SourceError(f"no source named '{key.source}' is configured")
            result, window = await fetch(source, key, now)
        except asyncio.CancelledError:
            raise
        except SourceError as error:
            delay = backoff_delay(previous.failures + 1, feed.refresh)
            snapshot = previous.failed(error, self.clock(), delay)
            self._record(key.source, error=str(error), kind=error.kind)
        except Exception as error:  # a bug must not kill the feed or the app
            log.exception("feed %s failed unexpectedly", key)
            delay = backoff_delay(previous.failures + 1, feed.refresh)
            snapshot = previous.failed(
                SourceError(f"internal error: {type(error).__name__}: {error}"),
                self.clock(), delay,
            )
            self._record(key.source, error=snapshot.error, kind="internal error")
        else:
            delay = feed.refresh
            snapshot = previous.succeeded(result, now, window)
            self._record(key.source, round_trip=self.clock() - started)
        feed.snapshot = snapshot
        if self._changed(previous, snapshot):
            message_snapshot = snapshot
            for subscriber in list(feed.subscribers):
                subscriber.post_message(FeedUpdated(message_snapshot))
        return delay

    @staticmethod
    def _changed(before: FeedSnapshot, after: FeedSnapshot) -> bool:
        """Worth a redraw: new data, or a different state or message."""
        if before.fetched_at is None or after.error != before.error:
            return True
        if after.error is not None:
            return after.failures != before.failures
        return after.result is None or not after.result.same_data(before.result)

    def _record(self, name: str, *, error: str | None = None, kind: str | None = None,
                round_trip: float | None = None) -> None:
        old = self.health.get(name, SourceHealth(name))
        now = self.clock()
        if error is None:
            if old.round_trip is not None and round_trip is not None:
                round_trip = 0.8 * old.round_trip + 0.2 * round_trip  # smoothed
            new = SourceHealth(name, last_success=now, last_error=old.last_error,
                               last_error_at=old.last_error_at, error_kind=old.error_kind,
                               round_trip=round_trip, failing=False)
        else:
            new = SourceHealth(name, last_success=old.last_success, last_error=error,
                               last_error_at=now, error_kind=kind, round_trip=old.round_trip,
                               failing=True)
        self.health[name] = new
        # Tell the status bar only about what it shows differently.
        if (new.failing, new.last_error, shown_round_trip(new.round_trip)) != (
            old.failing, old.last_error, shown_round_trip(old.round_trip)
        ):
            self.app.post_message(HealthChanged(new))

    async def aclose(self) -> None:
        for feed in list(self._feeds.values()):
            if feed.worker is not None:
                feed.worker.cancel()
        self._feeds.clear()
        for source in self.sources.values():
            try:
                await source.aclose()
            except Exception:  # closing must not fail the exit
                log.debug("closing %s failed", source.name, exc_info=True)
