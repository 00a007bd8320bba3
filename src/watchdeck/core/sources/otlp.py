"""The ``otlp`` source: the embedded OTLP/HTTP receiver, read as a log source (and holding
the traces it is sent).

Applications export to it with any OpenTelemetry SDK (``OTEL_EXPORTER_OTLP_ENDPOINT=
http://127.0.0.1:4318``). Sources with the same ``listen`` address share one receiver.
The receiver starts with the first tail (or :meth:`OTLPSource.start`, at app start); a
port in use is a state message and a retry with backoff, never a crash. Each tail gets the
last ``query.backlog`` records kept, then every record as it arrives. As a trace source
(:class:`~watchdeck.core.traces.source.TraceSource`) it searches and reads the spans the
receiver keeps (:attr:`OTLPSource.spans`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from watchdeck.core.config.models import OTLPSourceConfig
from watchdeck.core.errors import QueryError
from watchdeck.core.feeds import backoff_delay
from watchdeck.core.logs.model import LogGap, LogItem, LogQuery, LogRecord, LogSink
from watchdeck.core.otlp.pool import RECEIVERS, ReceiverPool, describe_bind_error
from watchdeck.core.otlp.receiver import OTLPReceiver
from watchdeck.core.otlp.spans import Span, TraceSummary
from watchdeck.core.otlp.stores import LogStore
from watchdeck.core.otlp.tracestore import SpanStore
from watchdeck.core.traces import traceql
from watchdeck.core.traces.source import TraceNotFoundError, TraceQuery, normalize_trace_id

_RETRY_FIRST = 1.0
_RETRY_MAX = 30.0


def split_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:4318`` for IPv6) as (host, port)."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def matches(record: LogRecord, needle: str) -> bool:
    """Whether ``needle`` is in the record's message, ids or field values (what a plain
    log line would have held)."""
    if needle in record.message:
        return True
    if record.trace_id and needle in record.trace_id:
        return True
    if record.span_id and needle in record.span_id:
        return True
    fields = record.fields
    return fields is not None and any(needle in value for value in fields.values())


class OTLPSource:
    """A log (and trace) source fed by the embedded OTLP receiver."""

    type = "otlp"

    def __init__(self, name: str, config: OTLPSourceConfig, base_dir: Path | None = None,
                 *, pool: ReceiverPool = RECEIVERS) -> None:
        self.name = name
        self.config = config
        self._pool = pool
        self._receiver: OTLPReceiver | None = None
        # Bumped by aclose(): tails from before it end instead of starting the server again.
        self._generation = 0
        self._wakers: set[asyncio.Event] = set()

    @property
    def receiver(self) -> OTLPReceiver:
        """The (shared) receiver behind this source; taken from the pool on first use."""
        if self._receiver is None:
            host, port = split_listen(self.config.listen)
            self._receiver = self._pool.acquire(
                host, port, max_logs=self.config.max_logs, max_spans=self.config.max_spans,
                max_body_bytes=self.config.max_body_bytes, source=self.name)
        return self._receiver

    @property
    def logs(self) -> LogStore:
        return self.receiver.logs

    @property
    def spans(self) -> SpanStore:
        return self.receiver.spans

    @property
    def address(self) -> str | None:
        """The ``host:port`` bound (the real port when configured with 0); None when not
        listening."""
        return self._receiver.address if self._receiver is not None else None

    async def start(self) -> None:
        """Listen now (no-op when already listening); raises OSError when it cannot
        (:func:`describe_bind_error` words it)."""
        await self.receiver.start()

    async def listen(self) -> str | None:
        """Start listening (at app start, for traces nobody tails logs for): None when
        listening, else what is wrong, in words for a notification."""
        try:
            await self.start()
        except OSError as error:
            return describe_bind_error(error, self.config.listen)
        return None

    async def aclose(self) -> None:
        """Let go of the receiver (the last source sharing it stops it); running tails end.
        A later tail or :meth:`start` takes it again."""
        self._generation += 1
        for wake in tuple(self._wakers):
            wake.set()
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            await self._pool.release(receiver)

    # --- traces (watchdeck.core.traces.source.TraceSource) ---------------------------------

    async def services(self) -> list[str]:
        return self.spans.services()

    async def operations(self, service: str) -> list[str]:
        return self.spans.operations(service)

    async def search(self, query: TraceQuery) -> list[TraceSummary]:
        """Kept traces that match, slowest first (:meth:`SpanStore.search`). Raw text in
        ``query.query`` is read as plain TraceQL (``{ a && b }``) or logfmt tags; the window,
        when given, keeps traces overlapping it (the store holds only recent ones anyway)."""
        resolved = self._resolve(query)
        if resolved is None:
            return []
        return self.spans.search(
            service=resolved.service, operation=resolved.operation,
            min_duration_ns=resolved.min_duration_ns, max_duration_ns=resolved.max_duration_ns,
            status=resolved.status_code, attributes=dict(resolved.attributes),
            start_ns=None if resolved.start is None else int(resolved.start * 1e9),
            end_ns=None if resolved.end is None else int(resolved.end * 1e9),
            limit=resolved.limit)

    def _resolve(self, query: TraceQuery) -> TraceQuery | None:
        raw = query.query
        if raw is None:
            return query
        try:
            parsed = (traceql.parse(raw) if "{" in raw
                      else TraceQuery(attributes=traceql.parse_logfmt(raw)))
        except ValueError as error:
            what = "TraceQL" if "{" in raw else "tags"
            raise QueryError(what, f"cannot read this query: {error}",
                             source=self.name) from None
        return traceql.combine(parsed, replace(query, query=None))

    async def trace(self, trace_id: str) -> list[Span]:
        """The kept spans of one trace, by start time; :class:`TraceNotFoundError` when the
        store has none (never sent, or evicted)."""
        normalized = normalize_trace_id(trace_id)
        spans = self.spans.trace(normalized) if normalized is not None else []
        if not spans:
            raise TraceNotFoundError(trace_id, source=self.name)
        return spans

    # --- logs ------------------------------------------------------------------------------

    def history(self, query: LogQuery) -> list[LogRecord]:
        """The last ``query.backlog`` kept records that fit ``since`` and ``contains``."""
        store = self.logs
        if query.backlog <= 0:
            return []
        if query.contains is None and query.since is None:
            return store.last(query.backlog)
        since_ns = int(query.since * 1e9) if query.since is not None else None
        found: list[LogRecord] = []
        for record in store.newest_first():
            if since_ns is not None and record.time_ns < since_ns:
                continue
            if query.contains is not None and not matches(record, query.contains):
                continue
            found.append(record)
            if len(found) >= query.backlog:
                break
        found.reverse()
        return found

    async def _listen(self, sink: LogSink, generation: int, closed: asyncio.Event) -> bool:
        """Start the receiver, retrying with backoff; False when closed meanwhile."""
        failures = 0
        while generation == self._generation:
            try:
                await self.start()
                return generation == self._generation
            except OSError as error:
                failures += 1
                wait = backoff_delay(failures, _RETRY_FIRST, _RETRY_MAX)
                sink.state(False, describe_bind_error(error, self.config.listen),
                           time.time() + wait)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(closed.wait(), wait)
        return False

    async def tail(self, query: LogQuery, sink: LogSink) -> None:
        """History, then live records, until cancelled (or until :meth:`aclose`)."""
        generation = self._generation
        wake = asyncio.Event()  # set by new records, and by aclose()
        self._wakers.add(wake)
        try:
            if await self._listen(sink, generation, wake):
                await self._follow(query, sink, generation, wake)
            else:
                sink.state(False, "OTLP receiver stopped")
        finally:
            self._wakers.discard(wake)

    async def _follow(self, query: LogQuery, sink: LogSink, generation: int,
                      wake: asyncio.Event) -> None:
        store = self.logs
        limit = store.max_items
        pending: list[LogRecord] = []
        dropped = 0

        def arrived(batch: Sequence[LogRecord]) -> None:
            nonlocal pending, dropped
            if query.contains is not None:
                batch = [record for record in batch if matches(record, query.contains)]
            if not batch:
                return
            pending.extend(batch)
            if len(pending) > limit:  # the sink's owner fell far behind: keep the newest
                dropped += len(pending) - limit
                pending = pending[-limit:]
            wake.set()

        # History and subscription in one step (no await between): nothing missed, nothing
        # twice.
        backlog = self.history(query)
        unsubscribe = store.subscribe(arrived)
        try:
            sink.state(True, f"listening on {self.address}")
            if backlog:
                sink.records(backlog)
            while True:
                await wake.wait()
                wake.clear()
                items: list[LogItem] = []
                if dropped:
                    first = pending[0]  # dropping only ever happens with some left
                    items.append(LogGap(first.time_ns, "the console fell behind the OTLP "
                                        "receiver", count=dropped, source=self.name,
                                        seq=first.seq - 1))
                    dropped = 0
                batch, pending = pending, []
                items.extend(batch)
                if items:
                    sink.records(items)
                if generation != self._generation:
                    sink.state(False, "OTLP receiver stopped")
                    return
        finally:
            unsubscribe()
