"""Log lines from a WebSocket endpoint, and the WebSocket plumbing Loki's tail shares.

:class:`WebSocketFollower` keeps one connection open for as long as it is wanted: the
upgrade request carries the source's headers, credentials and TLS settings (the same as
its HTTP requests), every message goes to a handler, and a lost connection is reopened
with exponential backoff and jitter. A connection that stayed up for a while starts the
backoff again from the beginning; one that keeps failing at once waits longer each time.

:class:`WebSocketLogSource` is the generic ``websocket`` source: each text message holds
one or more newline-separated lines (JSON or text), or one JSON object spread over several
lines; binary messages are decoded as UTF-8 with replacement characters.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)

from watchdeck import __version__
from watchdeck.core.config.models import TLSConfig, WebSocketSourceConfig
from watchdeck.core.errors import (
    ConnectError,
    HTTPStatusError,
    SourceConfigError,
    SourceError,
)
from watchdeck.core.errors import TimeoutError as SourceTimeoutError
from watchdeck.core.feeds import MAX_BACKOFF, Backoff
from watchdeck.core.logs.model import LogQuery, LogRecord, LogSink, cut
from watchdeck.core.logs.parse import parse_line
from watchdeck.core.safe import sanitize
from watchdeck.core.sources.http import (
    Credentials,
    body_excerpt,
    describe_connect_error,
    ssl_context,
)

# How long a connection must have lasted for its loss to count as news rather than as one
# more failure in a row (which would make the next wait longer).
STABLE_AFTER = 10.0
# A refusal (4xx) waits as if it had failed this many times already: 4x the base at first.
CLIENT_ERROR_STEPS = 3


class UpgradeRefusedError(HTTPStatusError):
    """The server answered the WebSocket upgrade with an HTTP error (a bad query, no
    tenant, wrong credentials): retrying soon will not help. ``body`` is what it said."""

    def __init__(self, status: int, body: str, *, source: str | None = None) -> None:
        reason = httpx.codes.get_reason_phrase(status)
        super().__init__(status, f"HTTP {status} {reason}: {body}", source=source)
        self.body = body


async def open_websocket(
    url: str,
    *,
    name: str,
    headers: Mapping[str, str],
    credentials: Credentials,
    tls: TLSConfig | None,
    base_dir: Path,
    max_size: int,
    open_timeout: float,
) -> ClientConnection:
    """Open ``url`` with the source's headers, credentials (``Authorization``) and TLS
    settings on the upgrade request. Raises :mod:`watchdeck.core.errors` types."""
    extra = dict(headers)
    authorization = credentials.header()  # SourceConfigError when the secret is missing
    if authorization is not None:
        extra["Authorization"] = authorization
    options: dict[str, object] = {}
    if url.startswith("wss://"):
        context = ssl_context(tls, base_dir)
        if isinstance(context, ssl.SSLContext):
            options["ssl"] = context
    try:
        return await connect(
            url,
            additional_headers=extra,
            user_agent_header=f"watchdeck/{__version__}",
            max_size=max_size,
            open_timeout=open_timeout,
            close_timeout=1.0,
            proxy=None,  # like the HTTP client (trust_env=False): no proxy from the env
            **options,  # type: ignore[arg-type]
        )
    except InvalidStatus as error:
        response = error.response
        raise UpgradeRefusedError(
            response.status_code, body_excerpt(response.body or b"", 300), source=name
        ) from None
    except InvalidURI as error:
        raise SourceConfigError(f"bad WebSocket URL: {sanitize(str(error), 200)}",
                                source=name) from None
    except InvalidHandshake as error:
        raise ConnectError(
            f"{_origin(url)} did not accept a WebSocket: {sanitize(str(error), 200)}",
            source=name,
        ) from None
    except TimeoutError:
        raise SourceTimeoutError(
            f"no WebSocket handshake from {_origin(url)} within {open_timeout:g}s",
            source=name,
        ) from None
    except OSError as error:
        raise ConnectError(
            f"cannot connect to {_origin(url)}: {describe_connect_error(error)}", source=name
        ) from None


def _origin(url: str) -> str:
    """The URL without its query string (which may be long, or hold a filter)."""
    return url.split("?", 1)[0]


def describe_close(closed: ConnectionClosed, cap: int, cap_setting: str) -> str:
    """Why a connection ended, in words."""
    sent, rcvd = closed.sent, closed.rcvd
    if sent is not None and sent.code == 1009 or rcvd is not None and rcvd.code == 1009:
        return (f"a message larger than the {cap:,}-byte cap ({cap_setting}) closed the "
                "connection")
    if rcvd is None:
        return "connection lost"
    reason = f": {sanitize(rcvd.reason, 200)}" if rcvd.reason else ""
    return f"server closed the connection (code {rcvd.code}{reason})"


class WebSocketFollower:
    """Keeps one WebSocket open until cancelled, reporting to a sink."""

    def __init__(
        self,
        *,
        name: str,
        headers: Mapping[str, str],
        credentials: Credentials,
        tls: TLSConfig | None,
        base_dir: Path,
        max_size: int,
        cap_setting: str,
        label: str = "WebSocket",
        open_timeout: float = 10.0,
        backoff: Backoff | None = None,
        stable_after: float = STABLE_AFTER,
        explain: Callable[[UpgradeRefusedError], str] | None = None,
    ) -> None:
        self.name = name
        self.headers = headers
        self.credentials = credentials
        self.tls = tls
        self.base_dir = base_dir
        self.max_size = max_size
        self.cap_setting = cap_setting
        self.label = label
        self.open_timeout = open_timeout
        self.backoff = backoff or Backoff()
        self.stable_after = stable_after
        self.explain = explain
        self.connection: ClientConnection | None = None
        self.closed = False

    async def run(
        self,
        url: Callable[[], str],
        sink: LogSink,
        handle: Callable[[str | bytes], None],
        *,
        opened: Callable[[ClientConnection], Awaitable[None]] | None = None,
        planned: Callable[[ConnectionClosed], bool] | None = None,
    ) -> None:
        """Connect to ``url()`` (asked again before every attempt), call ``opened`` then
        ``handle`` for every message; reconnect at once after a ``planned`` close, else
        after a backoff. Returns only after :meth:`aclose`; never raises but
        CancelledError."""
        while not self.closed:
            at_least = 0
            try:
                message = await self._session(url(), sink, handle, opened, planned)
            except UpgradeRefusedError as error:
                explained = self.explain(error) if self.explain is not None else str(error)
                message = f"{self.label} refused: {explained}"
                if 400 <= error.status < 500 and error.status != 429:
                    at_least = CLIENT_ERROR_STEPS  # it will most likely be refused again
            except SourceError as error:
                message = str(error)
            except Exception as error:  # a bug must not end the tail: say it, retry
                message = f"unexpected {type(error).__name__}: {error}"
            if message is None or self.closed:
                continue
            delay = self.backoff.fail(at_least)
            sink.state(False, sanitize(message, 400), time.time() + delay)
            await asyncio.sleep(delay)

    async def _session(
        self,
        url: str,
        sink: LogSink,
        handle: Callable[[str | bytes], None],
        opened: Callable[[ClientConnection], Awaitable[None]] | None,
        planned: Callable[[ConnectionClosed], bool] | None,
    ) -> str | None:
        """One connection, to its end: what went wrong, or None for a planned close."""
        connection = await open_websocket(
            url, name=self.name, headers=self.headers, credentials=self.credentials,
            tls=self.tls, base_dir=self.base_dir, max_size=self.max_size,
            open_timeout=self.open_timeout,
        )
        if self.closed:
            await connection.close()
            return None
        self.connection = connection
        started = time.monotonic()
        try:
            if opened is not None:
                await opened(connection)
            sink.state(True)
            while True:
                handle(await connection.recv())
        except ConnectionClosed as closed:
            if planned is not None and planned(closed):
                self.backoff.reset()
                return None
            if time.monotonic() - started >= self.stable_after:
                self.backoff.reset()
            return f"{self.label}: {describe_close(closed, self.max_size, self.cap_setting)}"
        finally:
            self.connection = None
            await connection.close()

    async def aclose(self) -> None:
        """Close the connection and stop reconnecting."""
        self.closed = True
        if self.connection is not None:
            await self.connection.close()


def parse_safely(text: str, *, source: str, seq: int, received_ns: int,
                 labels: dict[str, str] | None = None, time_ns: int | None = None
                 ) -> LogRecord:
    """:func:`parse_line`, or the line as plain text should the parser fail on it: one odd
    line must not cost the connection (nor, for Loki, the lines around it)."""
    try:
        return parse_line(text, source=source, seq=seq, received_ns=received_ns,
                          labels=labels, time_ns=time_ns)
    except Exception:  # noqa: BLE001 - a parser bug; the line is still shown
        return LogRecord(time_ns=received_ns if time_ns is None else time_ns,
                         message=cut(text), labels=labels, source=source, seq=seq)


def decode_message(message: str | bytes) -> str:
    """A message as text: binary ones as UTF-8, anything invalid as U+FFFD."""
    return message.decode("utf-8", errors="replace") if isinstance(message, bytes) else message


def message_lines(text: str) -> list[str]:
    """The lines of one message: its non-blank lines (``\\n`` or ``\\r\\n`` separated; other
    Unicode line breaks are part of a line, as in a file), or the whole message as one
    compact line when it is a single JSON object spread over several lines."""
    if "\n" not in text:
        return [text.removesuffix("\r")] if text.strip() else []
    stripped = text.strip()
    if stripped.startswith("{") and stripped.endswith("}"):
        try:
            data = json.loads(stripped)  # JSON lines fail fast: "extra data" after line 1
        except (ValueError, RecursionError):
            data = None
        if isinstance(data, dict):
            return [json.dumps(data, ensure_ascii=False, separators=(",", ":"))]
    return [line.removesuffix("\r") for line in text.split("\n") if line.strip()]


class WebSocketLogSource:
    """The ``websocket`` source: lines from a ws:// or wss:// endpoint."""

    type = "websocket"
    retry_base = 1.0
    retry_cap = MAX_BACKOFF
    stable_after = STABLE_AFTER

    def __init__(self, name: str, config: WebSocketSourceConfig, base_dir: Path) -> None:
        self.name = name
        self.config = config
        self.base_dir = base_dir
        self._credentials = Credentials(config.auth, base_dir)
        self._seq = itertools.count(1)
        self._followers: set[WebSocketFollower] = set()

    async def tail(self, query: LogQuery, sink: LogSink) -> None:
        """Live lines until cancelled (a plain WebSocket has no history to send first)."""
        config = self.config
        follower = WebSocketFollower(
            name=self.name, headers=config.headers, credentials=self._credentials,
            tls=config.tls, base_dir=self.base_dir, max_size=config.max_message_bytes,
            cap_setting="max_message_bytes",
            backoff=Backoff(self.retry_base, self.retry_cap), stable_after=self.stable_after,
        )
        contains = query.contains

        def handle(message: str | bytes) -> None:
            received_ns = time.time_ns()
            records: list[LogRecord] = [
                parse_safely(line, source=self.name, seq=next(self._seq),
                             received_ns=received_ns)
                for line in message_lines(decode_message(message))
                if not contains or contains in line
            ]
            if records:
                sink.records(records)

        async def opened(connection: ClientConnection) -> None:
            if config.subscribe is not None:
                await connection.send(config.subscribe)

        self._followers.add(follower)
        try:
            await follower.run(lambda: config.url, sink, handle, opened=opened)
        finally:
            self._followers.discard(follower)

    async def aclose(self) -> None:
        for follower in list(self._followers):
            await follower.aclose()
