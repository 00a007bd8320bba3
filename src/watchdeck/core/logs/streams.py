"""Log streams: one running tail per distinct (sources, query), shared by the panels that
show it, feeding one bounded buffer.

A panel subscribes with a :class:`StreamKey` and a listener; the first subscriber starts
one ``tail`` task per source (all writing into the stream's :class:`LogBuffer`, which
merges them in time order), the last one to leave stops them. Listeners are plain
callables called on the event loop after new lines or a state change: they should only
note that something changed (the UI redraws on its own clock, not once per line).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from watchdeck.core.logs.buffer import LogBuffer
from watchdeck.core.logs.model import LogItem, LogQuery, LogSource, SinkState

Listener = Callable[[], None]


@dataclass(frozen=True, slots=True)
class StreamKey:
    """What a logs panel shows: these sources, each asked this query."""

    sources: tuple[str, ...]
    query: LogQuery
    capacity: int = 100_000


@dataclass
class SourceFeed:
    """One source's part of a stream: its state and how much it sent."""

    name: str
    state: SinkState = field(default_factory=SinkState)
    received: int = 0
    last_at: float | None = None


class _Sink:
    def __init__(self, stream: LogStream, feed: SourceFeed) -> None:
        self.stream = stream
        self.feed = feed

    def records(self, items: Sequence[LogItem]) -> None:
        if not items:
            return
        self.stream.buffer.add(items)
        self.feed.received += len(items)
        self.feed.last_at = time.time()
        if not self.feed.state.ok:
            self.feed.state = SinkState(True, None, None, time.time())
        self.stream.notify()

    def state(self, ok: bool, message: str | None = None, retry_at: float | None = None
              ) -> None:
        previous = self.feed.state
        connected = previous.connected_at if previous.ok and ok else (
            time.time() if ok else None)
        self.feed.state = SinkState(ok, message, retry_at, connected)
        self.stream.notify()


class LogStream:
    """The running tails of one key, their buffer and who listens."""

    def __init__(self, key: StreamKey, sources: Mapping[str, object]) -> None:
        self.key = key
        self.buffer = LogBuffer(key.capacity)
        self.feeds = {name: SourceFeed(name) for name in key.sources}
        self.listeners: set[Listener] = set()
        self.tasks: list[asyncio.Task[None]] = []
        self.problems: dict[str, str] = {}
        for name in key.sources:
            source = sources.get(name)
            if not isinstance(source, LogSource):
                kind = getattr(source, "type", None)
                self.problems[name] = (f"'{name}' is not a log source" + (
                    f" (it is {kind})" if kind else "") if source is not None
                    else f"no source named '{name}'")
                self.feeds[name].state = SinkState(False, self.problems[name])
                continue
            task = asyncio.get_running_loop().create_task(
                self._run(source, self.feeds[name]), name=f"logs:{name}")
            self.tasks.append(task)

    async def _run(self, source: LogSource, feed: SourceFeed) -> None:
        sink = _Sink(self, feed)
        try:
            await source.tail(self.key.query, sink)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a source bug must not take the console down
            sink.state(False, f"log source stopped: {type(error).__name__}: {error}")

    def notify(self) -> None:
        for listener in list(self.listeners):
            listener()

    @property
    def ok(self) -> bool:
        return all(feed.state.ok for feed in self.feeds.values())

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks.clear()


class LogStreams:
    """All log streams of the app, by key, started on first use, stopped on last leave."""

    def __init__(self, sources: Mapping[str, object]) -> None:
        self.sources = sources
        self.streams: dict[StreamKey, LogStream] = {}
        self._stopping: set[asyncio.Task[None]] = set()

    def subscribe(self, key: StreamKey, listener: Listener) -> LogStream:
        stream = self.streams.get(key)
        if stream is None:
            stream = self.streams[key] = LogStream(key, self.sources)
        stream.listeners.add(listener)
        return stream

    def unsubscribe(self, key: StreamKey, listener: Listener) -> None:
        stream = self.streams.get(key)
        if stream is None:
            return
        stream.listeners.discard(listener)
        if not stream.listeners:
            del self.streams[key]
            task = asyncio.get_running_loop().create_task(stream.stop())
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    async def aclose(self) -> None:
        streams, self.streams = list(self.streams.values()), {}
        for stream in streams:
            await stream.stop()
        if self._stopping:
            await asyncio.gather(*self._stopping, return_exceptions=True)
