"""Grafana Loki: history from ``query_range``, live lines from the WebSocket tail.

``tail`` sends the last ``backlog`` lines, then follows ``/loki/api/v1/tail`` from where
the history ended. Loki's tail ``start`` is inclusive, so a reopened tail (the server
closed it, the network broke, or Loki's one-hour limit ran out) starts at the last
nanosecond delivered, and Loki sends that nanosecond's entries again: the ones already
delivered are recognised (same time, same stream, same line, counted, since several lines
can share a nanosecond) and dropped. Neither a gap nor a duplicate, as long as what was
missed fits in the backfill Loki sends (its ``limit``, the most Loki allows by default);
when more was missed, that replay never comes, and a gap marker says lines may be missing.

Requests carry ``X-Loki-Response-Encoding-Flags: categorize-labels`` as Grafana's do: then
``stream`` holds only the indexed labels (one dict per stream, shared by its records) and
each entry's structured metadata and parsed labels come as a third element of its value;
they become the record's fields (``trace_id``/``span_id`` its ids). A Loki without the flag
folds them into ``stream``; both shapes are read.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from msgspec.structs import replace
from websockets.exceptions import ConnectionClosed

from watchdeck.core.config.models import LokiSourceConfig
from watchdeck.core.errors import BadResponseError, SourceError
from watchdeck.core.feeds import MAX_BACKOFF, Backoff
from watchdeck.core.logs.model import (
    Level,
    LogGap,
    LogItem,
    LogQuery,
    LogRecord,
    LogSink,
    parse_level,
)
from watchdeck.core.safe import sanitize
from watchdeck.core.sources.http import Credentials, HTTPClient, HTTPResponse, body_excerpt
from watchdeck.core.sources.websocket import (
    CLIENT_ERROR_STEPS,
    STABLE_AFTER,
    UpgradeRefusedError,
    WebSocketFollower,
    parse_safely,
)

# Loki's default max_entries_limit_per_query: a larger query_range limit is answered with a
# 400 saying the real cap, which is then used. The tail's backfill is not held to it.
MAX_ENTRIES = 5000
_ENTRIES_CAP = re.compile(r"max entries limit per query exceeded.*\(\d+ > (\d+)\)")
HISTORY_WINDOW_NS = 3600 * 10**9  # query_range's own default start: now-1h
ENCODING_FLAGS = "X-Loki-Response-Encoding-Flags"
# Loki ends every tail after querier.tail_max_duration (1h) with close 1011 and this reason.
TAIL_MAX_DURATION = "reached tail max duration limit"
# Keys parse_line takes out of a structured line; Loki's parsed labels repeat them.
_LINE_KEYS = frozenset({"msg", "message", "level", "severity", "lvl"})
_LEVEL_KEYS = ("detected_level", "level", "severity", "lvl")
# Structured metadata names for the ids (OTLP ingestion writes trace_id and span_id).
_ID_NAMES = {"trace_id": "trace_id", "traceid": "trace_id", "trace.id": "trace_id",
             "span_id": "span_id", "spanid": "span_id", "span.id": "span_id"}
_ESCAPES = {ord('"'): '\\"', ord("\\"): "\\\\", ord("\n"): "\\n", ord("\r"): "\\r",
            ord("\t"): "\\t"}
_ESCAPES.update({code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F]
                 if code not in _ESCAPES})

StreamKey = tuple[tuple[str, str], ...]


class LokiError(SourceError):
    """Loki refused a request and said why (its errors are plain-text bodies)."""

    kind = "loki"

    def __init__(self, status: int, message: str, *, source: str | None = None) -> None:
        super().__init__(message, source=source)
        self.status = status

    @property
    def client_error(self) -> bool:
        """A 4xx other than 429: asking again soon will get the same answer."""
        return 400 <= self.status < 500 and self.status != 429


def logql_string(text: str) -> str:
    """``text`` as a LogQL double-quoted string (Go's escapes)."""
    return '"' + text.translate(_ESCAPES) + '"'


def with_line_filter(expr: str, contains: str | None) -> str:
    """``expr`` narrowed to lines containing ``contains`` (``|= "…"``)."""
    return f"{expr} |= {logql_string(contains)}" if contains else expr


@dataclass(slots=True)
class _Entry:
    time_ns: int
    key: tuple[StreamKey, str]  # (stream, line): what tells it from others in its nanosecond
    labels: dict[str, str]
    line: str
    meta: dict[str, Any] | None


class _Streams:
    """One label dict per distinct stream, shared by all its records (bounded)."""

    def __init__(self, limit: int = 10_000) -> None:
        self._known: dict[StreamKey, dict[str, str]] = {}
        self._limit = limit

    def get(self, raw: object) -> tuple[StreamKey, dict[str, str]]:
        if not isinstance(raw, dict):
            raise TypeError("stream is not an object")
        key = tuple(sorted((str(name), str(value)) for name, value in raw.items()))
        labels = self._known.get(key)
        if labels is None:
            if len(self._known) >= self._limit:
                self._known.clear()
            labels = self._known[key] = dict(key)
        return key, labels


def _timestamp(raw: object) -> int:
    if isinstance(raw, str) and raw.isdigit():
        return int(raw)
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    raise ValueError(f"bad timestamp {raw!r}")


def read_streams(result: object, streams: _Streams) -> tuple[list[list[_Entry]], int]:
    """The entries of each stream as sent, and how many malformed items were skipped."""
    if not isinstance(result, list):
        raise TypeError("streams is not a list")
    out: list[list[_Entry]] = []
    bad = 0
    for item in result:
        try:
            key, labels = streams.get(item["stream"])
            values = item["values"]
            if not isinstance(values, list):
                raise TypeError("values is not a list")
        except (KeyError, TypeError, ValueError):
            bad += 1
            continue
        entries = []
        for value in values:
            try:
                time_ns, line = _timestamp(value[0]), value[1]
                if not isinstance(line, str):
                    raise TypeError("line is not a string")
                meta = value[2] if len(value) > 2 and isinstance(value[2], dict) else None
            except (IndexError, KeyError, TypeError, ValueError):
                bad += 1
                continue
            entries.append(_Entry(time_ns, (key, line), labels, line, meta))
        out.append(entries)
    return out, bad


class _Cursor:
    """Where a tail stands: the newest nanosecond delivered and what was delivered in it;
    and, for the connection now open, which of those Loki may send again, and whether it
    did (when it does not, its backfill was cut short: lines are missing)."""

    __slots__ = ("at_last", "first_new_ns", "last_ns", "replay", "resume_ns", "unconfirmed")

    def __init__(self, last_ns: int) -> None:
        self.last_ns = last_ns
        self.at_last: dict[tuple[StreamKey, str], int] = {}
        self.resume_ns = last_ns
        self.replay: dict[tuple[StreamKey, str], int] = {}
        self.unconfirmed = -1  # new entries before the replay showed; -1: not watching
        self.first_new_ns = last_ns

    def delivered(self, entry: _Entry) -> None:
        if entry.time_ns > self.last_ns:
            self.last_ns = entry.time_ns
            self.at_last = {entry.key: 1}
        elif entry.time_ns == self.last_ns:
            self.at_last[entry.key] = self.at_last.get(entry.key, 0) + 1

    def resume(self) -> int:
        """A new connection starts here (inclusive): expect the last nanosecond again."""
        self.resume_ns = self.last_ns
        self.replay = dict(self.at_last)
        self.unconfirmed = 0 if self.replay else -1
        return self.resume_ns

    def replayed(self, entry: _Entry) -> bool:
        """``entry`` was delivered before this connection (and is not again)."""
        if entry.time_ns != self.resume_ns:
            return False
        left = self.replay.get(entry.key, 0)
        if left <= 0:
            return False
        self.replay[entry.key] = left - 1
        self.unconfirmed = -1  # the backfill reached back to where we were
        return True

    def cut_short(self, entry: _Entry, limit: int) -> bool:
        """Called for each new entry of a connection: True (once) when ``limit`` of them
        came and none of the expected replay: Loki's backfill (its newest ``limit``
        entries) did not reach back to the last nanosecond delivered."""
        if self.unconfirmed < 0:
            return False
        if self.unconfirmed == 0:
            self.first_new_ns = entry.time_ns
        self.unconfirmed += 1
        if self.unconfirmed < limit:
            return False
        self.unconfirmed = -1
        return True


def _seconds_to_ns(seconds: float) -> int:
    return int(round(seconds * 1e9))


class LokiSource:
    """A Loki (or a gateway in front of one): logs panels, label values for variables."""

    type = "loki"
    retry_base = 1.0
    retry_cap = MAX_BACKOFF
    stable_after = STABLE_AFTER
    # How many entries a (re)opened tail may send from before it opened: what a reconnect
    # can recover. Loki does not hold the tail to max_entries_limit_per_query.
    tail_limit = MAX_ENTRIES

    def __init__(self, name: str, config: LokiSourceConfig, base_dir: Path) -> None:
        self.name = name
        self.config = config
        self.base_dir = base_dir
        # Entries with their structured metadata apart (see the module docstring); a
        # header the user set wins.
        self.headers = {ENCODING_FLAGS: "categorize-labels", **config.headers}
        self.http = HTTPClient(name, replace(config, headers=self.headers), base_dir)
        self._credentials = Credentials(config.auth, base_dir)
        self._streams = _Streams()
        self._seq = itertools.count(1)
        self._followers: set[WebSocketFollower] = set()
        self._max_entries = MAX_ENTRIES  # lowered when Loki says its cap is lower

    # ------------------------------------------------------------------ requests

    async def labels(self, query: str | None = None, start: float | None = None,
                     end: float | None = None) -> list[str]:
        """Label names (``query``, a stream selector, narrows them)."""
        data = await self._get("/loki/api/v1/labels", _range_params(query, start, end))
        return self._strings(data, "labels")

    async def label_values(self, name: str, query: str | None = None,
                           start: float | None = None, end: float | None = None) -> list[str]:
        """Values of label ``name``."""
        path = f"/loki/api/v1/label/{quote(name, safe='')}/values"
        return self._strings(await self._get(path, _range_params(query, start, end)), path)

    async def query_range(self, expr: str, start: float, end: float, limit: int = 1000,
                          direction: str = "backward") -> list[LogRecord]:
        """The lines of ``expr`` between ``start`` (inclusive) and ``end`` (exclusive),
        epoch seconds, oldest first: the newest ``limit`` of them (``backward``) or the
        oldest (``forward``)."""
        entries = await self._select(expr, _seconds_to_ns(start), _seconds_to_ns(end), limit,
                                     direction)
        received_ns = time.time_ns()
        return [self._record(entry, received_ns) for entry in entries]

    async def _select(self, expr: str, start_ns: int, end_ns: int, limit: int,
                      direction: str) -> list[_Entry]:
        if direction not in ("backward", "forward"):
            raise ValueError(f"direction must be backward or forward, not {direction!r}")
        params = {"query": expr, "start": str(start_ns), "end": str(end_ns),
                  "limit": str(limit), "direction": direction}
        path = "/loki/api/v1/query_range"
        data = await self._get(path, params)
        if not isinstance(data, dict):
            raise BadResponseError(f"{path}: no data in the answer", source=self.name)
        kind = data.get("resultType")
        if kind != "streams":
            raise BadResponseError(
                f"{path} answered a {kind} (a metric query): logs need a log query",
                source=self.name,
            )
        try:
            per_stream, _bad = read_streams(data.get("result"), self._streams)
        except TypeError as error:
            raise BadResponseError(f"{path}: {error}", source=self.name) from None
        entries: list[_Entry] = []
        for stream in per_stream:
            # backward: newest first within each stream; same-time lines keep push order
            entries.extend(reversed(stream) if direction == "backward" else stream)
        entries.sort(key=lambda entry: entry.time_ns)
        return entries

    async def _get(self, path: str, params: dict[str, str]) -> Any:
        response = await self.http.request("GET", path, params=params)
        if response.status != 200:
            raise self._error(response)
        try:
            body = json.loads(response.body)
        except (ValueError, RecursionError):
            raise BadResponseError(
                f"{path}: not JSON: {body_excerpt(response.body)}", source=self.name
            ) from None
        if not isinstance(body, dict) or body.get("status") != "success":
            raise BadResponseError(
                f"{path}: unexpected answer: {body_excerpt(response.body)}", source=self.name
            )
        return body.get("data")

    def _error(self, response: HTTPResponse) -> LokiError:
        status = response.status
        text = body_excerpt(response.body, 300)
        return LokiError(status, _status_text(status, text), source=self.name)

    def _strings(self, data: object, what: str) -> list[str]:
        if data is None:  # Loki leaves out an empty list (omitempty)
            return []
        if not isinstance(data, list):
            raise BadResponseError(f"{what}: data is not a list", source=self.name)
        return [str(item) for item in data]

    def _record(self, entry: _Entry, received_ns: int) -> LogRecord:
        record = parse_safely(entry.line, source=self.name, seq=next(self._seq),
                              received_ns=received_ns, labels=entry.labels,
                              time_ns=entry.time_ns)
        if entry.meta:
            _add_metadata(record, entry.meta)
        if record.level is Level.UNKNOWN:
            for place in (record.fields, entry.labels):
                if place:
                    found = next((place[key] for key in _LEVEL_KEYS if key in place), None)
                    if found is not None:
                        record.level = parse_level(found)
                        break
        if record.trace_id is None and "trace_id" in entry.labels:
            record.trace_id = entry.labels["trace_id"]
        return record

    # ------------------------------------------------------------------ tail

    async def tail(self, query: LogQuery, sink: LogSink) -> None:
        expr = (query.expr or "").strip() or (self.config.query or "").strip()
        if not expr:
            sink.state(False, "no LogQL query: give the panel one, or the source a default "
                              "(query: '{app=\"…\"}')")
            await asyncio.Event().wait()  # nothing to do until cancelled
        expr = with_line_filter(expr, query.contains)
        backoff = Backoff(self.retry_base, self.retry_cap)
        cursor = await self._history(expr, query, sink, backoff)
        backoff.reset()
        limit = max(1, self.tail_limit)
        base = "ws" + self.config.url[len("http"):]  # http -> ws, https -> wss

        def url() -> str:
            params = {"query": expr, "start": str(cursor.resume()), "limit": str(limit)}
            return f"{base}/loki/api/v1/tail?{urlencode(params, quote_via=quote)}"

        def planned(closed: ConnectionClosed) -> bool:
            rcvd = closed.rcvd
            return rcvd is not None and rcvd.code == 1011 and TAIL_MAX_DURATION in rcvd.reason

        def explain(refused: UpgradeRefusedError) -> str:
            return _status_text(refused.status, refused.body)

        follower = WebSocketFollower(
            name=self.name, headers=self.headers, credentials=self._credentials,
            tls=self.config.tls, base_dir=self.base_dir,
            max_size=self.config.max_response_bytes, cap_setting="max_response_bytes",
            label="Loki tail", open_timeout=self.config.timeout, backoff=backoff,
            stable_after=self.stable_after, explain=explain,
        )
        self._followers.add(follower)
        try:
            await follower.run(
                url, sink, lambda message: self._frame(message, cursor, sink, limit),
                planned=planned,
            )
        finally:
            self._followers.discard(follower)

    async def _history(self, expr: str, query: LogQuery, sink: LogSink,
                       backoff: Backoff) -> _Cursor:
        """Send the last ``backlog`` lines (retrying until Loki answers); where the tail
        starts."""
        while True:
            end_ns = time.time_ns()
            if query.backlog <= 0:
                return _Cursor(end_ns)
            start_ns = (_seconds_to_ns(query.since) if query.since is not None
                        else end_ns - HISTORY_WINDOW_NS)
            try:
                entries = await self._select(expr, start_ns, end_ns,
                                             min(query.backlog, self._max_entries), "backward")
                break
            except SourceError as error:
                cap = _ENTRIES_CAP.search(str(error)) if isinstance(error, LokiError) else None
                if cap is not None and 0 < int(cap.group(1)) < self._max_entries:
                    self._max_entries = int(cap.group(1))  # ask again for as many as allowed
                    continue
                refused = isinstance(error, LokiError) and error.client_error
                delay = backoff.fail(CLIENT_ERROR_STEPS if refused else 0)
                sink.state(False, sanitize(str(error), 400), time.time() + delay)
                await asyncio.sleep(delay)
        # Nothing in the window: the tail starts at its end (exclusive there, inclusive in
        # the tail, so nothing falls between).
        cursor = _Cursor(0 if entries else end_ns)
        if entries:
            received_ns = time.time_ns()
            records: list[LogItem] = []
            for entry in entries:
                cursor.delivered(entry)
                records.append(self._record(entry, received_ns))
            sink.records(records)
        return cursor

    def _frame(self, message: str | bytes, cursor: _Cursor, sink: LogSink,
               limit: int) -> None:
        """One tail frame: ``{"streams": [...], "dropped_entries": [...]}``."""
        received_ns = time.time_ns()
        try:
            data = json.loads(message)
            if not isinstance(data, dict):
                raise TypeError("not an object")
            if "streams" not in data and "dropped_entries" not in data:
                raise TypeError("neither streams nor dropped_entries")
            per_stream, bad = read_streams(data.get("streams") or [], self._streams)
            dropped = data.get("dropped_entries") or []
            if not isinstance(dropped, list):
                raise TypeError("dropped_entries is not a list")
        except (ValueError, TypeError, RecursionError):
            head = message[:200] if isinstance(message, bytes) else message[:200].encode()
            sink.state(True, f"ignored a malformed frame from Loki: {body_excerpt(head, 120)}")
            return
        items: list[LogItem] = []
        gap = _dropped(dropped, received_ns) if dropped else None
        for stream in per_stream:
            for entry in stream:
                if cursor.replayed(entry):
                    continue
                if cursor.cut_short(entry, limit):
                    items.append(self._missed(cursor, limit))
                if gap is not None and entry.time_ns > gap[0]:
                    items.append(self._gap(*gap))  # where the missing lines were
                    gap = None
                cursor.delivered(entry)
                items.append(self._record(entry, received_ns))
        if gap is not None:
            items.append(self._gap(*gap))
        if bad:
            sink.state(True, f"ignored {bad} malformed entr{'y' if bad == 1 else 'ies'} "
                             "from Loki")
        if items:
            sink.records(items)

    def _gap(self, time_ns: int, count: int) -> LogGap:
        return LogGap(
            time_ns=time_ns,
            reason=f"Loki dropped {count:,} line{'' if count == 1 else 's'} "
                   "(the tail fell behind)",
            count=count, source=self.name, seq=next(self._seq),
        )

    def _missed(self, cursor: _Cursor, limit: int) -> LogGap:
        # between the last line delivered and the oldest the new connection sent
        return LogGap(
            time_ns=max(cursor.resume_ns, cursor.first_new_ns - 1),
            reason=f"lines may be missing: more than {limit:,} arrived while the tail "
                   "was reconnecting",
            source=self.name, seq=next(self._seq),
        )

    async def aclose(self) -> None:
        for follower in list(self._followers):
            await follower.aclose()
        await self.http.aclose()


def _status_text(status: int, text: str) -> str:
    """An HTTP refusal from Loki in words, with the fix when it is a common one."""
    hint = ""
    if status == 401 and "no org id" in text:
        hint = " (this Loki is multi-tenant: set headers: {X-Scope-OrgID: <tenant>})"
    elif status == 400 and text.startswith("parse error"):
        hint = " (the LogQL query is not valid)"
    reason = httpx.codes.get_reason_phrase(status)
    return f"HTTP {status} {reason}: {text}{hint}"


def _range_params(query: str | None, start: float | None, end: float | None
                  ) -> dict[str, str]:
    params: dict[str, str] = {}
    if query:
        params["query"] = query
    if start is not None:
        params["start"] = str(_seconds_to_ns(start))
    if end is not None:
        params["end"] = str(_seconds_to_ns(end))
    return params


def _dropped(dropped: Sequence[Any], received_ns: int) -> tuple[int, int]:
    """(time, count) of a frame's ``dropped_entries``: at the earliest of them."""
    times = []
    for item in dropped:
        with contextlib.suppress(KeyError, TypeError, ValueError):
            times.append(_timestamp(item["timestamp"]))
    return (min(times) if times else received_ns), len(dropped)


def _add_metadata(record: LogRecord, meta: dict[str, Any]) -> None:
    """Loki's per-entry labels into the record: ``{"structuredMetadata": {...},
    "parsed": {...}}`` (categorize-labels), or a flat map (the push format)."""
    categorized = "structuredMetadata" in meta or "parsed" in meta
    structured = meta.get("structuredMetadata") if categorized else meta
    parsed = meta.get("parsed") if categorized else None
    fields = dict(record.fields or {})
    if isinstance(structured, dict):
        for name, value in structured.items():
            name, value = str(name), str(value)
            key = _ID_NAMES.get(name.lower())
            if key == "trace_id" and record.trace_id is None:
                record.trace_id = value
            elif key == "span_id" and record.span_id is None:
                record.span_id = value
            else:
                fields.setdefault(name, value)
    if isinstance(parsed, dict):
        for name, value in parsed.items():
            if str(name) not in _LINE_KEYS:
                fields.setdefault(str(name), str(value))
    record.fields = fields or None
