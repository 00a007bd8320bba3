"""A fake Grafana Loki on loopback: query_range, labels, label values and the
``/loki/api/v1/tail`` WebSocket, speaking the shapes of ``shared/fixtures/loki``.

It keeps pushed entries like Loki does and answers from them: ``query_range`` filters
``start <= t < end``, orders ``backward`` (newest first in each stream) or ``forward`` and
applies ``limit``; a tail sends a backfill (entries at or after ``start``, the newest
``limit`` of them, oldest first, one ``streams[]`` item per entry) and then every entry
pushed while it is open. With ``X-Loki-Response-Encoding-Flags: categorize-labels`` values
get Loki's third element and frames ``encodingFlags``; without it structured metadata is
folded into the stream labels. Errors are plain-text bodies, as Loki's are.

Tests script it: ``query_range_error``, ``tail_error``, ``query_range_body`` (an answer
served literally), ``pause_tails``/``resume_tails`` (hold upgrades), ``send`` (any frame,
garbage included), ``close_tails`` (abruptly, or with a close code). ``requests`` keeps
every request's path, parameters and headers. ``start(port=..., tls=...)`` serves on a
given port (a Loki that comes back) or over TLS (https and wss; certificates from
:mod:`tests.support.tls`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from tests.support.net import LOOPBACK

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "loki"
CATEGORIZE = "categorize-labels"

# The fixtures, inline so the tests stand alone (tests check they equal the files).
TAIL_FRAME: dict[str, Any] = {
    "streams": [
        {"stream": {"test": "test"},
         "values": [["123456789012345", "super line"],
                    ["123456789012346", "super line with labels"]]},
    ],
    "dropped_entries": [{"timestamp": "123456789022345", "labels": {"test": "test"}}],
}
TAIL_FRAME_CATEGORIZED: dict[str, Any] = {
    "streams": [
        {"stream": {"test": "test"},
         "values": [
             ["123456789012345", "super line", {}],
             ["123456789012346", "super line with labels",
              {"structuredMetadata": {"foo": "a", "bar": "b"}}],
             ["123456789012347", "super line with labels msg=text",
              {"structuredMetadata": {"foo": "a", "bar": "b"}, "parsed": {"msg": "text"}}],
         ]},
    ],
    "dropped_entries": [{"timestamp": "123456789022345", "labels": {"test": "test"}}],
    "encodingFlags": ["categorize-labels"],
}
QUERY_RANGE_STREAMS: dict[str, Any] = {
    "status": "success",
    "data": {
        "resultType": "streams",
        "result": [
            {"stream": {"filename": "/var/log/myproject.log", "job": "varlogs",
                        "level": "info"},
             "values": [["1569266497240578000", "foo"], ["1569266492548155000", "bar"]]},
        ],
    },
}
QUERY_RANGE_MATRIX: dict[str, Any] = {
    "status": "success",
    "data": {
        "resultType": "matrix",
        "result": [
            {"metric": {"level": "info"},
             "values": [[1588889221, "137.95"], [1588889221, "467.115"],
                        [1588889221, "658.8516666666667"]]},
            {"metric": {"level": "warn"},
             "values": [[1588889221, "137.27833333333334"], [1588889221, "467.69"],
                        [1588889221, "660.6933333333334"]]},
        ],
    },
}
LABELS: dict[str, Any] = {"status": "success", "data": ["foo", "bar", "baz"]}
LABEL_VALUES: dict[str, Any] = {"status": "success", "data": ["cat", "dog", "axolotl"]}
INLINE_FIXTURES = {
    "tail_frame.json": TAIL_FRAME,
    "tail_frame_categorize_labels.json": TAIL_FRAME_CATEGORIZED,
    "query_range_streams_response.json": QUERY_RANGE_STREAMS,
    "query_range_matrix_response.json": QUERY_RANGE_MATRIX,
    "labels_response.json": LABELS,
    "label_values_response.json": LABEL_VALUES,
}


@dataclass
class Entry:
    labels: dict[str, str]
    time_ns: int
    line: str
    metadata: dict[str, str] | None = None


@dataclass
class Seen:
    """One request as the fake got it (header names lower-cased)."""

    path: str
    params: dict[str, str]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Tailer:
    ws: web.WebSocketResponse
    request: web.Request
    seen: Seen
    categorize: bool


def _value(entry: Entry, categorize: bool) -> tuple[dict[str, str], list[Any]]:
    """(stream labels, value) of one entry, encoded the way Loki's marshal does."""
    if categorize:
        extra = {"structuredMetadata": dict(entry.metadata)} if entry.metadata else {}
        return dict(entry.labels), [str(entry.time_ns), entry.line, extra]
    return {**entry.labels, **(entry.metadata or {})}, [str(entry.time_ns), entry.line]


def tail_frame(entries: list[Entry], categorize: bool,
               dropped: list[Entry] | None = None) -> dict[str, Any]:
    """One tail frame: a ``streams[]`` item per entry, as the tailer sends them."""
    frame: dict[str, Any] = {"streams": []}
    for entry in entries:
        stream, value = _value(entry, categorize)
        frame["streams"].append({"stream": stream, "values": [value]})
    if dropped:
        frame["dropped_entries"] = [{"timestamp": str(e.time_ns), "labels": dict(e.labels)}
                                    for e in dropped]
    if categorize:
        frame["encodingFlags"] = [CATEGORIZE]
    return frame


class FakeLoki:
    def __init__(self, *, tenant: str | None = None, authorization: str | None = None,
                 batch: int = 100) -> None:
        self.tenant = tenant
        self.authorization = authorization
        self.batch = batch
        self.entries: list[Entry] = []
        self.requests: list[Seen] = []
        self.query_range_error: tuple[int, str] | None = None
        self.query_range_body: dict[str, Any] | None = None
        self.max_entries = 5000  # max_entries_limit_per_query (query_range only, as in Loki)
        self.tail_error: tuple[int, str] | None = None
        self.label_names: list[str] = list(LABELS["data"])
        self.label_values: dict[str, list[str]] = {"foo": list(LABEL_VALUES["data"])}
        self.tailers: list[_Tailer] = []
        self._gate = asyncio.Event()
        self._gate.set()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.scheme = "http"

    # ---------------------------------------------------------------- lifecycle

    async def start(self, port: int = 0, tls: ssl.SSLContext | None = None) -> FakeLoki:
        app = web.Application()
        app.router.add_get("/loki/api/v1/query_range", self._query_range)
        app.router.add_get("/loki/api/v1/labels", self._labels)
        app.router.add_get("/loki/api/v1/label/{name}/values", self._values)
        app.router.add_get("/loki/api/v1/tail", self._tail)
        app.router.add_route("*", "/{path:.*}", self._unknown)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, LOOPBACK, port, ssl_context=tls)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self.scheme = "https" if tls is not None else "http"
        return self

    async def stop(self) -> None:
        """Gone, as a crashed Loki is: open tails are cut, the port closed."""
        self._gate.set()
        for tailer in list(self.tailers):
            self.tailers.remove(tailer)
            if tailer.request.transport is not None:
                tailer.request.transport.abort()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{LOOPBACK}:{self.port}"

    # ---------------------------------------------------------------- scripting

    def seen(self, path_end: str) -> list[Seen]:
        return [seen for seen in self.requests if seen.path.endswith(path_end)]

    @property
    def tail_requests(self) -> list[Seen]:
        return self.seen("/tail")

    def add(self, labels: dict[str, str], time_ns: int, line: str,
            metadata: dict[str, str] | None = None) -> Entry:
        """Store an entry without telling open tails (it arrived while they were away)."""
        entry = Entry(dict(labels), time_ns, line, metadata)
        self.entries.append(entry)
        return entry

    async def push(self, labels: dict[str, str], time_ns: int, line: str,
                   metadata: dict[str, str] | None = None) -> Entry:
        """Store an entry and send it to every open tail."""
        entry = self.add(labels, time_ns, line, metadata)
        for tailer in list(self.tailers):
            await self._send(tailer, json.dumps(tail_frame([entry], tailer.categorize)))
        return entry

    async def send(self, frame: dict[str, Any] | str | bytes) -> None:
        """Send anything to every open tail (a dict as JSON text)."""
        for tailer in list(self.tailers):
            await self._send(tailer, frame if isinstance(frame, str | bytes)
                             else json.dumps(frame))

    async def _send(self, tailer: _Tailer, data: str | bytes) -> None:
        if tailer.ws.closed:  # the client left; its handler has not noticed yet
            return
        with contextlib.suppress(ConnectionError):
            if isinstance(data, bytes):
                await tailer.ws.send_bytes(data)
            else:
                await tailer.ws.send_str(data)

    async def close_tails(self, code: int | None = None, reason: str = "") -> None:
        """End every open tail: with a close frame, or (``code`` None) by cutting the TCP
        connection as a network failure would."""
        for tailer in list(self.tailers):
            self.tailers.remove(tailer)
            if code is None:
                transport = tailer.request.transport
                if transport is not None:
                    transport.abort()
            else:
                await tailer.ws.close(code=code, message=reason.encode())

    def pause_tails(self) -> None:
        """Hold new tail upgrades until :meth:`resume_tails`."""
        self._gate.clear()

    def resume_tails(self) -> None:
        self._gate.set()

    async def wait_tailers(self, count: int = 1, timeout: float = 5.0) -> None:
        """Until ``count`` tails are open, the newest being the newest request's."""
        deadline = time.monotonic() + timeout
        while not (len(self.tailers) >= count
                   and self.tailers[-1].seen is self.tail_requests[-1]):
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.tailers)} tails open, wanted {count}")
            await asyncio.sleep(0.01)

    # ---------------------------------------------------------------- handlers

    def _record(self, request: web.Request) -> Seen:
        seen = Seen(request.path, dict(request.query),
                    {key.lower(): value for key, value in request.headers.items()})
        self.requests.append(seen)
        return seen

    def _refusal(self, seen: Seen) -> web.Response | None:
        if self.authorization is not None and seen.headers.get("authorization") != (
                self.authorization):
            return web.Response(status=401, text="unauthorized\n")
        if self.tenant is not None and seen.headers.get("x-scope-orgid") != self.tenant:
            return web.Response(status=401, text="no org id\n")
        return None

    async def _unknown(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        return web.Response(status=404, text="404 page not found\n")

    async def _query_range(self, request: web.Request) -> web.StreamResponse:
        seen = self._record(request)
        refusal = self._refusal(seen)
        if refusal is not None:
            return refusal
        if self.query_range_error is not None:
            status, text = self.query_range_error
            return web.Response(status=status, text=text + "\n")
        if self.query_range_body is not None:
            return web.json_response(self.query_range_body)
        params = seen.params
        now = time.time_ns()
        start = int(params.get("start", now - 3600 * 10**9))
        end = int(params.get("end", now))
        limit = int(params.get("limit", 100))
        if limit > self.max_entries:
            return web.Response(status=400, text=(
                "max entries limit per query exceeded, limit > max_entries_limit_per_query "
                f"({limit} > {self.max_entries})\n"))
        backward = params.get("direction", "backward") == "backward"
        chosen = [e for e in self.entries if start <= e.time_ns < end]
        # stable sorts keep push order within one nanosecond
        chosen.sort(key=lambda e: e.time_ns)
        if backward:
            chosen = chosen[::-1]
        chosen = chosen[:limit]
        categorize = CATEGORIZE in seen.headers.get("x-loki-response-encoding-flags", "")
        streams: dict[str, dict[str, Any]] = {}
        for entry in chosen:
            stream, value = _value(entry, categorize)
            key = json.dumps(stream, sort_keys=True)
            streams.setdefault(key, {"stream": stream, "values": []})["values"].append(value)
        data: dict[str, Any] = {"resultType": "streams", "result": list(streams.values())}
        if categorize:
            data["encodingFlags"] = [CATEGORIZE]
        return web.json_response({"status": "success", "data": data})

    async def _labels(self, request: web.Request) -> web.StreamResponse:
        refusal = self._refusal(self._record(request))
        if refusal is not None:
            return refusal
        body: dict[str, Any] = {"status": "success"}
        if self.label_names:  # Loki leaves out an empty list
            body["data"] = self.label_names
        return web.json_response(body)

    async def _values(self, request: web.Request) -> web.StreamResponse:
        refusal = self._refusal(self._record(request))
        if refusal is not None:
            return refusal
        body: dict[str, Any] = {"status": "success"}
        values = self.label_values.get(request.match_info["name"])
        if values:
            body["data"] = values
        return web.json_response(body)

    async def _tail(self, request: web.Request) -> web.StreamResponse:
        seen = self._record(request)
        await self._gate.wait()
        refusal = self._refusal(seen)
        if refusal is not None:
            return refusal
        if self.tail_error is not None:
            status, text = self.tail_error
            return web.Response(status=status, text=text + "\n")
        ws = web.WebSocketResponse(heartbeat=1.0)  # Loki pings every second
        await ws.prepare(request)
        categorize = CATEGORIZE in seen.headers.get("x-loki-response-encoding-flags", "")
        start = int(seen.params.get("start", time.time_ns() - 3600 * 10**9))
        limit = int(seen.params.get("limit", 100))
        backfill = sorted((e for e in self.entries if e.time_ns >= start),
                          key=lambda e: e.time_ns)[-limit:]
        for offset in range(0, len(backfill), self.batch):
            chunk = backfill[offset:offset + self.batch]
            await ws.send_str(json.dumps(tail_frame(chunk, categorize)))
        tailer = _Tailer(ws, request, seen, categorize)
        self.tailers.append(tailer)
        try:
            async for message in ws:
                if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            if tailer in self.tailers:
                self.tailers.remove(tailer)
        return ws
