"""A scripted log source: tests push items and states, the console tails them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from watchdeck.core.logs.model import LogItem, LogQuery, LogRecord, LogSink


class ScriptedLogSource:
    """A :class:`~watchdeck.core.logs.model.LogSource` fed by the test: ``history`` is sent
    first (its last ``query.backlog`` items), then whatever :meth:`push` sends."""

    type = "scripted"

    def __init__(self, name: str, history: Sequence[LogItem] = ()) -> None:
        self.name = name
        self.history = list(history)
        self.queries: list[LogQuery] = []
        self._sinks: list[LogSink] = []
        self.tails_running = 0
        self.fail_with: str | None = None

    async def tail(self, query: LogQuery, sink: LogSink) -> None:
        self.queries.append(query)
        self._sinks.append(sink)
        self.tails_running += 1
        try:
            if self.fail_with is not None:
                sink.state(False, self.fail_with, None)
            else:
                sink.state(True)
                if self.history and query.backlog:
                    sink.records(self.history[-query.backlog:])
            await asyncio.Event().wait()
        finally:
            self.tails_running -= 1
            self._sinks.remove(sink)

    def push(self, items: Sequence[LogItem]) -> None:
        for sink in list(self._sinks):
            sink.records(list(items))

    def state(self, ok: bool, message: str | None = None) -> None:
        for sink in list(self._sinks):
            sink.state(ok, message, None)

    async def aclose(self) -> None:
        pass


def record(second: float, message: str, level: int = 3, *, source: str = "app", seq: int = 0,
           trace_id: str | None = None, **fields: str) -> LogRecord:
    from watchdeck.core.logs.model import Level

    return LogRecord(time_ns=int(1_700_000_000e9 + second * 1e9), message=message,
                     level=Level(level), fields=dict(fields) or None, source=source, seq=seq,
                     trace_id=trace_id)
