"""The embedded OTLP/HTTP receiver (aiohttp): applications send it logs and traces.

``POST /v1/logs`` and ``POST /v1/traces`` take ``Export*ServiceRequest`` bodies as protobuf
(``application/x-protobuf``) or OTLP/JSON (``application/json``), optionally gzip- or
deflate-compressed, and answer as the OTLP spec says: the ``Export*ServiceResponse`` in the
request's content type, or a ``google.rpc.Status`` with 400 (not a request), 413 (over
``max_body_bytes``, before or after decompression; refused without reading the rest) or
415 (another content type or encoding). What arrives goes into two bounded stores,
:attr:`OTLPReceiver.logs` and :attr:`OTLPReceiver.spans`.

It listens on loopback unless told otherwise. Big bodies are decompressed and decoded in a
worker thread, and at most a few requests are read and decoded at once, so a flood costs
bounded memory and never holds the event loop for long.

Sources configured with the same listen address share one receiver
(:mod:`watchdeck.core.otlp.pool`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import hdrs, web
from aiohttp.http_exceptions import HttpProcessingError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

from watchdeck.core.otlp.decode import (
    Decoded,
    OTLPDecodeError,
    ResourceCache,
    logs_from_json,
    logs_from_protobuf,
    spans_from_json,
    spans_from_protobuf,
)
from watchdeck.core.otlp.stores import DEFAULT_MAX_CHARS, LogStore
from watchdeck.core.otlp.tracestore import SpanStore

DEFAULT_PORT = 4318
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_CONTENT_TYPES = {PROTOBUF: PROTOBUF, "application/protobuf": PROTOBUF, JSON: JSON}
_ENCODINGS = ("identity", "gzip", "x-gzip", "deflate")
# Bodies smaller than this are decoded on the event loop (well under a millisecond); larger
# ones in a thread.
_INLINE_BYTES = 32 * 1024
_READ_CHUNK = 64 * 1024
# Records of one request are stored (and handed to the tails) in slices of this many.
_ADD_BATCH = 8192
# google.rpc.Code values used in error replies.
_INVALID_ARGUMENT = 3
_RESOURCE_EXHAUSTED = 8


class _TooLarge(Exception):
    pass


class _QuietClientErrors(logging.Filter):
    """aiohttp logs a traceback at ERROR for a request it could not even parse (or whose
    sender vanished): from an OTLP receiver's point of view that is the sender's problem,
    not worth a traceback. Anything else still goes through."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, (HttpProcessingError, ConnectionError))


http_log = logging.getLogger(f"{__name__}.http")
http_log.addFilter(_QuietClientErrors())


@dataclass(frozen=True, slots=True)
class _Signal:
    """What differs between /v1/logs and /v1/traces."""

    name: str
    from_protobuf: Callable[..., Decoded[Any]]
    from_json: Callable[..., Decoded[Any]]
    response: Callable[[int, str], bytes]
    rejected_key: str


def _logs_response(rejected: int, message: str) -> bytes:
    if not rejected:
        return ExportLogsServiceResponse().SerializeToString()
    return ExportLogsServiceResponse(partial_success=ExportLogsPartialSuccess(
        rejected_log_records=rejected, error_message=message)).SerializeToString()


def _traces_response(rejected: int, message: str) -> bytes:
    if not rejected:
        return ExportTraceServiceResponse().SerializeToString()
    return ExportTraceServiceResponse(partial_success=ExportTracePartialSuccess(
        rejected_spans=rejected, error_message=message)).SerializeToString()


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _status_protobuf(code: int, message: str) -> bytes:
    """``google.rpc.Status{code, message}`` in protobuf (two fields; written by hand rather
    than pulling in googleapis-common-protos for them)."""
    text = message.encode("utf-8", errors="replace")
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def _decompress(raw: bytes, encoding: str, limit: int) -> bytes:
    if encoding == "identity":
        return raw
    if encoding == "deflate":
        # zlib-wrapped, as HTTP says; some senders send raw deflate.
        zlib_header = len(raw) >= 2 and raw[0] & 0x0F == 8 and (raw[0] << 8 | raw[1]) % 31 == 0
        wbits = 15 if zlib_header else -15
    else:
        wbits = 31
    parts: list[bytes] = []
    room = limit
    while True:
        # Never more than the room left is inflated: a bomb stops at the limit.
        inflater = zlib.decompressobj(wbits)
        try:
            part = inflater.decompress(raw, room + 1)
        except zlib.error as error:
            raise OTLPDecodeError(f"invalid {encoding} body: {error}") from None
        if len(part) > room or inflater.unconsumed_tail:
            raise _TooLarge
        if not inflater.eof:
            raise OTLPDecodeError(f"truncated {encoding} body")
        parts.append(part)
        room -= len(part)
        # gzip allows several members one after the other (RFC 1952 2.2).
        raw = inflater.unused_data
        if wbits != 31 or not raw:
            return b"".join(parts) if len(parts) > 1 else part


class OTLPReceiver:
    """An OTLP/HTTP receiver keeping what it is sent in :attr:`logs` and :attr:`spans`.

    ``port`` 0 picks a free port (see :attr:`address` once started). ``source`` names the
    log records' source. ``clock`` gives the receive time (ns) of records without one.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *,
                 max_logs: int = 100_000, max_spans: int = 200_000,
                 max_body_bytes: int = 16 * 1024 * 1024, max_chars: int = DEFAULT_MAX_CHARS,
                 source: str = "", max_concurrent: int = 4,
                 clock: Callable[[], int] = time.time_ns) -> None:
        self.host = host
        self.port = port
        self.max_body_bytes = max_body_bytes
        self.source = source
        self.clock = clock
        self.logs = LogStore(max_logs, max_chars)
        self.spans = SpanStore(max_spans, max_chars)
        self.requests = 0
        self.bad_requests = 0
        self._max_concurrent = max_concurrent
        self._busy: asyncio.Semaphore | None = None
        self._runner: web.AppRunner | None = None
        self._bound: tuple[str, int] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._start_lock: asyncio.Lock | None = None
        self._resources: ResourceCache = {}

    # --- lifecycle ---------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._runner is not None

    @property
    def address(self) -> str | None:
        """``host:port`` actually bound (IPv6 hosts in brackets), None when not running."""
        if self._bound is None:
            return None
        host, port = self._bound
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def url(self) -> str | None:
        """The base URL to give an OTLP exporter (``OTEL_EXPORTER_OTLP_ENDPOINT``)."""
        return f"http://{self.address}" if self._bound else None

    async def start(self) -> None:
        """Listen (no-op when already listening); raises OSError when it cannot
        (:func:`~watchdeck.core.otlp.pool.describe_bind_error` words it). Concurrent calls
        share one attempt."""
        loop = asyncio.get_running_loop()
        if self._runner is not None and self._loop is not loop:
            # Started on an event loop that is gone (an earlier app run): its sockets went
            # with it.
            self._runner = self._bound = None
        if self._runner is not None:
            return
        if self._start_lock is None or self._loop is not loop:
            self._start_lock = asyncio.Lock()
            self._loop = loop
        async with self._start_lock:
            if self._runner is not None:
                return
            self._busy = asyncio.Semaphore(self._max_concurrent)
            runner = web.AppRunner(self.create_app(), access_log=None, auto_decompress=False,
                                   lingering_time=1.0, shutdown_timeout=2.0, logger=http_log)
            await runner.setup()
            try:
                site = web.TCPSite(runner, self.host, self.port)
                await site.start()
            except BaseException:
                await runner.cleanup()
                raise
            first = runner.addresses[0]
            self._bound = (str(first[0]), int(first[1]))
            self._runner = runner

    async def stop(self) -> None:
        """Stop listening and close every connection (the stores keep what they hold)."""
        runner, self._runner, self._bound = self._runner, None, None
        if runner is not None:
            await runner.cleanup()

    def grow(self, *, max_logs: int, max_spans: int, max_body_bytes: int) -> None:
        """Raise the bounds to at least these (a second source sharing this receiver)."""
        self.logs.max_items = max(self.logs.max_items, max_logs)
        self.spans.max_items = max(self.spans.max_items, max_spans)
        self.max_body_bytes = max(self.max_body_bytes, max_body_bytes)

    def create_app(self) -> web.Application:
        # Bodies are read by _read (bounded as they stream in), never by request.read().
        app = web.Application()
        logs = _Signal("logs", logs_from_protobuf, logs_from_json, _logs_response,
                       "rejectedLogRecords")
        traces = _Signal("traces", spans_from_protobuf, spans_from_json, _traces_response,
                         "rejectedSpans")

        async def post_logs(request: web.Request) -> web.Response:
            return await self._export(request, logs)

        async def post_traces(request: web.Request) -> web.Response:
            return await self._export(request, traces)

        app.router.add_post("/v1/logs", post_logs)
        app.router.add_post("/v1/traces", post_traces)
        return app

    # --- requests ----------------------------------------------------------------------

    async def _export(self, request: web.Request, signal: _Signal) -> web.Response:
        self.requests += 1
        content_type = _CONTENT_TYPES.get(request.content_type)
        if content_type is None:
            self.bad_requests += 1
            return _refuse(web.Response(
                status=415, text=f"unsupported content type {request.content_type!r}: "
                                 f"send {PROTOBUF} or {JSON}\n"))
        encoding = request.headers.get(hdrs.CONTENT_ENCODING, "identity").strip().lower()
        if encoding not in _ENCODINGS:
            self.bad_requests += 1
            return _refuse(self._error(content_type, 415, _INVALID_ARGUMENT,
                                       f"unsupported content encoding {encoding!r}"))
        length = request.content_length
        if length is not None and length > self.max_body_bytes:
            return self._too_large(content_type)
        assert self._busy is not None
        async with self._busy:
            try:
                raw = await self._read(request)
                decoded = await self._decode(signal, content_type, encoding, raw)
            except _TooLarge:
                return self._too_large(content_type)
            except OTLPDecodeError as error:
                self.bad_requests += 1
                return self._error(content_type, 400, _INVALID_ARGUMENT, str(error))
        store: LogStore | SpanStore = self.logs if signal.name == "logs" else self.spans
        store.skip(decoded.skipped)
        items = decoded.items
        for start in range(0, len(items), _ADD_BATCH):
            if start:
                await asyncio.sleep(0)  # let the loop breathe between slices of a huge batch
            store.add(items[start:start + _ADD_BATCH])
        return self._success(signal, content_type, decoded.rejected, decoded.reason)

    async def _read(self, request: web.Request) -> bytes:
        chunks: list[bytes] = []
        total = 0
        try:
            async for chunk in request.content.iter_chunked(_READ_CHUNK):
                total += len(chunk)
                if total > self.max_body_bytes:
                    raise _TooLarge
                chunks.append(chunk)
        except HttpProcessingError as error:  # broken chunked encoding, short body
            raise OTLPDecodeError(f"unreadable body: {error.message or error}") from None
        except ConnectionError:
            # The sender went away mid-body: answered (to no one) as a bad request rather
            # than left to aiohttp, which would log a traceback.
            raise OTLPDecodeError("the connection closed before the whole body came") from None
        return b"".join(chunks)

    async def _decode(self, signal: _Signal, content_type: str, encoding: str, raw: bytes
                      ) -> Decoded[Any]:
        decode = signal.from_protobuf if content_type == PROTOBUF else signal.from_json
        kwargs: dict[str, Any] = {"received_ns": self.clock(), "resources": self._resources}
        if signal.name == "logs":
            kwargs["source"] = self.source
            kwargs["limit"] = self.logs.max_items
        else:
            kwargs["limit"] = self.spans.max_items
        limit = self.max_body_bytes

        def work() -> Decoded[Any]:
            return decode(_decompress(raw, encoding, limit), **kwargs)

        if encoding == "identity" and len(raw) < _INLINE_BYTES:
            return work()
        return await asyncio.to_thread(work)

    def _success(self, signal: _Signal, content_type: str, rejected: int, reason: str
                 ) -> web.Response:
        if content_type == PROTOBUF:
            return web.Response(body=signal.response(rejected, reason), content_type=PROTOBUF)
        body: dict[str, Any] = {}
        if rejected:
            body["partialSuccess"] = {signal.rejected_key: str(rejected), "errorMessage": reason}
        return web.Response(text=json.dumps(body), content_type=JSON)

    def _error(self, content_type: str, status: int, code: int, message: str) -> web.Response:
        if content_type == PROTOBUF:
            return web.Response(status=status, body=_status_protobuf(code, message),
                                content_type=PROTOBUF)
        return web.Response(status=status, text=json.dumps({"code": code, "message": message}),
                            content_type=JSON)

    def _too_large(self, content_type: str) -> web.Response:
        self.bad_requests += 1
        return _refuse(self._error(content_type, 413, _RESOURCE_EXHAUSTED,
                                   f"request body over {self.max_body_bytes} bytes"))


def _refuse(response: web.Response) -> web.Response:
    # The body may be left unread: close the connection after the answer rather than read
    # the rest to reuse it.
    response.force_close()
    return response
