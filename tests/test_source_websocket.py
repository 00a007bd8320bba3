"""The generic ``websocket`` log source against a real websockets server on loopback: JSON
lines and text, binary frames, the subscribe message, headers and auth on the upgrade,
TLS, the message size cap, reconnecting with backoff, and its states."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from tests.support.net import LOOPBACK, free_port
from tests.support.tls import make_certificates, server_tls
from tests.support.waiting import until
from watchdeck.core.config.models import AuthConfig, TLSConfig, WebSocketSourceConfig
from watchdeck.core.logs.model import CollectingSink, Level, LogQuery
from watchdeck.core.sources import build_source
from watchdeck.core.sources import websocket as websocket_module
from watchdeck.core.sources.websocket import WebSocketLogSource, message_lines


class FeedServer:
    """A websockets server: keeps each upgrade's headers and what clients send; tests
    send messages, drop connections, refuse upgrades (``refuse``: status and body) or
    demand an ``Authorization`` value."""

    def __init__(self, *, authorization: str | None = None) -> None:
        self.authorization = authorization
        self.refuse: tuple[int, str] | None = None
        self.upgrades: list[Headers] = []
        self.received: list[str | bytes] = []
        self.connections: list[ServerConnection] = []  # open now
        self.opened = 0  # ever
        self._server: Server | None = None
        self.port = 0
        self.scheme = "ws"

    async def start(self, port: int = 0, tls: ssl.SSLContext | None = None) -> FeedServer:
        self._server = await serve(self._handler, LOOPBACK, port, ssl=tls,
                                   process_request=self._check, max_size=None)
        self.port = int(self._server.sockets[0].getsockname()[1])
        self.scheme = "wss" if tls is not None else "ws"
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self.drop()
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{LOOPBACK}:{self.port}/feed"

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        self.upgrades.append(request.headers)
        if self.refuse is not None:
            return connection.respond(*self.refuse)
        if self.authorization is not None and (
                request.headers.get("Authorization") != self.authorization):
            return connection.respond(401, "missing or wrong credentials\n")
        return None

    async def _handler(self, connection: ServerConnection) -> None:
        self.connections.append(connection)
        self.opened += 1
        try:
            async for message in connection:
                self.received.append(message)
        except Exception:  # noqa: BLE001 - a dropped client is the point of some tests
            pass
        finally:
            if connection in self.connections:
                self.connections.remove(connection)

    async def send(self, message: str | bytes) -> None:
        for connection in list(self.connections):
            with contextlib.suppress(Exception):
                await connection.send(message)

    def drop(self) -> None:
        """Cut every connection as a network failure would (no close frame)."""
        for connection in list(self.connections):
            self.connections.remove(connection)
            connection.transport.abort()

    async def close(self, code: int, reason: str) -> None:
        for connection in list(self.connections):
            await connection.close(code, reason)

    async def wait_connections(self, count: int = 1, timeout: float = 5.0) -> None:
        """Until ``count`` connections were opened in all, and one is open now."""
        await until(lambda: self.opened >= count and bool(self.connections), timeout,
                    f"connection {count}")


@pytest.fixture
async def feed() -> AsyncIterator[FeedServer]:
    server = await FeedServer().start()
    yield server
    await server.stop()


def make_source(url: str, tmp_path: Path | None = None, **settings: object
                ) -> WebSocketLogSource:
    config = WebSocketSourceConfig(url=url, **settings)  # type: ignore[arg-type]
    source = build_source("ws", config, tmp_path or Path("."))
    assert isinstance(source, WebSocketLogSource)
    source.retry_base = 0.02
    return source


@contextlib.asynccontextmanager
async def tailing(source: WebSocketLogSource, sink: CollectingSink,
                  query: LogQuery | None = None) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(source.tail(query or LogQuery(), sink))
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await source.aclose()


def lines(sink: CollectingSink) -> list[str]:
    return [record.message for record in sink.lines]


def has_lines(sink: CollectingSink, count: int) -> Callable[[], bool]:
    return lambda: len(sink.lines) >= count


def failures(sink: CollectingSink) -> list[str]:
    return [state.message or "" for state in sink.states if not state.ok]


# ---------------------------------------------------------------- messages


def test_message_lines() -> None:
    assert message_lines("one") == ["one"]
    assert message_lines("a\r\nb\n\n  \nc\n") == ["a", "b", "c"]
    assert message_lines("") == [] and message_lines("\n\n") == []
    assert message_lines("a\u2028b") == ["a\u2028b"]  # only \n ends a line, as in a file
    pretty = json.dumps({"msg": "hi", "n": [1, 2]}, indent=2)
    assert message_lines(pretty) == ['{"msg":"hi","n":[1,2]}']
    assert message_lines('{"a": 1}\n{"b": 2}') == ['{"a": 1}', '{"b": 2}']
    assert message_lines("{not json\n}") == ["{not json", "}"]


async def test_json_lines_and_text_in_one_message(feed: FeedServer) -> None:
    sink = CollectingSink()
    async with tailing(make_source(feed.url), sink):
        await feed.wait_connections()
        await feed.send('2026-08-22T10:00:00Z ERROR disk full\r\n'
                        '{"msg": "json line", "level": "warn", "trace_id": "4bf92f35"}\n\n'
                        'plain text\n')
        await until(has_lines(sink, 3))
        pretty = json.dumps({"message": "pretty", "level": "info"}, indent=2)
        await feed.send(pretty)
        await until(has_lines(sink, 4))
    records = sink.lines
    assert lines(sink)[1:] == ["json line", "plain text", "pretty"]
    assert "disk full" in records[0].message and records[0].level is Level.ERROR
    assert records[1].level is Level.WARN and records[1].trace_id == "4bf92f35"
    assert records[3].level is Level.INFO
    assert [r.seq for r in records] == sorted({r.seq for r in records})
    assert all(r.source == "ws" and r.time_ns > 0 for r in records)
    assert sink.states[0].ok


async def test_binary_messages_are_decoded_with_replacement(feed: FeedServer) -> None:
    sink = CollectingSink()
    async with tailing(make_source(feed.url), sink):
        await feed.wait_connections()
        await feed.send(b"caf\xc3\xa9 \xff\xfe end\nsecond")
        await until(has_lines(sink, 2))
    assert lines(sink) == ["café \ufffd\ufffd end", "second"]


async def test_contains_keeps_matching_lines_only(feed: FeedServer) -> None:
    sink = CollectingSink()
    async with tailing(make_source(feed.url), sink, LogQuery(contains="4bf9")):
        await feed.wait_connections()
        await feed.send("no\ntrace 4bf9 here\nnor this")
        await feed.send("last 4bf9")
        await until(has_lines(sink, 2))
    assert lines(sink) == ["trace 4bf9 here", "last 4bf9"]


async def test_a_line_the_parser_fails_on_is_still_shown(
        feed: FeedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    real = websocket_module.parse_line

    def fragile(text: str, **kwargs: object) -> object:
        if "boom" in text:
            raise ValueError("parser bug")
        return real(text, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(websocket_module, "parse_line", fragile)
    sink = CollectingSink()
    async with tailing(make_source(feed.url), sink):
        await feed.wait_connections()
        await feed.send("before\nboom\nafter")
        await until(has_lines(sink, 3))
    assert lines(sink) == ["before", "boom", "after"]
    assert len(feed.upgrades) == 1  # the connection was kept


# ---------------------------------------------------------------- connection


async def test_subscribe_is_sent_after_every_connect(feed: FeedServer) -> None:
    subscribe = json.dumps({"op": "subscribe", "channel": "logs"})
    sink = CollectingSink()
    async with tailing(make_source(feed.url, subscribe=subscribe), sink):
        await feed.wait_connections()
        await until(lambda: feed.received == [subscribe], what="the subscription")
        feed.drop()
        await feed.wait_connections(2)
        await until(lambda: feed.received == [subscribe, subscribe], what="it again")
        await feed.send("after the reconnect")
        await until(has_lines(sink, 1))


async def test_headers_and_bearer_token_on_the_upgrade(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("tok-1\n")
    server = await FeedServer(authorization="Bearer tok-1").start()
    try:
        source = make_source(server.url, tmp_path, headers={"X-Scope-OrgID": "team-a"},
                             auth=AuthConfig(bearer_token_file="token"))
        sink = CollectingSink()
        async with tailing(source, sink):
            await server.wait_connections()
            await server.send("in")
            await until(has_lines(sink, 1))
        headers = server.upgrades[0]
        assert headers["X-Scope-OrgID"] == "team-a"
        assert headers["Authorization"] == "Bearer tok-1"
        assert headers["User-Agent"].startswith("watchdeck/")
        assert not failures(sink)
    finally:
        await server.stop()


async def test_wrong_credentials_are_refused_clearly_with_a_longer_wait(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WS_PASSWORD", "hunter2")
    server = await FeedServer(authorization="Basic " + base64.b64encode(b"u:right").decode()
                              ).start()
    try:
        source = make_source(server.url, auth=AuthConfig(username="u",
                                                         password_env="WS_PASSWORD"))
        sink = CollectingSink()
        async with tailing(source, sink):
            await until(lambda: len(server.upgrades) >= 3, what="the retries")
        assert server.upgrades[0]["Authorization"] == (
            "Basic " + base64.b64encode(b"u:hunter2").decode())
        lost = failures(sink)
        assert lost[0] == ("WebSocket refused: HTTP 401 Unauthorized: missing or wrong "
                           "credentials")
        assert all("hunter2" not in message for message in lost)
        assert not any(state.ok for state in sink.states)
    finally:
        await server.stop()


async def test_a_message_over_the_cap_resets_the_connection_and_says_why(
        feed: FeedServer) -> None:
    sink = CollectingSink()
    async with tailing(make_source(feed.url, max_message_bytes=1024), sink):
        await feed.wait_connections()
        await feed.send("x" * 5000)
        await feed.wait_connections(2)
        await feed.send("small")
        await until(has_lines(sink, 1))
    assert lines(sink) == ["small"]
    assert failures(sink) == [
        "WebSocket: a message larger than the 1,024-byte cap (max_message_bytes) closed "
        "the connection"]
    assert sink.states[-1].ok


async def test_a_dropped_connection_is_reported_and_reopened(feed: FeedServer) -> None:
    sink = CollectingSink()
    async with tailing(make_source(feed.url), sink):
        await feed.wait_connections()
        await feed.send("one")
        await until(has_lines(sink, 1))
        feed.drop()
        await feed.wait_connections(2)
        await feed.send("two")
        await until(has_lines(sink, 2))
        await feed.close(1001, "going away")
        await feed.wait_connections(3)
        await feed.send("three")
        await until(has_lines(sink, 3))
    assert lines(sink) == ["one", "two", "three"]
    assert failures(sink) == ["WebSocket: connection lost",
                              "WebSocket: server closed the connection (code 1001: going away)"]
    assert [state.ok for state in sink.states] == [True, False, True, False, True]
    assert all(state.retry_at for state in sink.states if not state.ok)


async def test_server_down_then_up_with_growing_waits() -> None:
    port = free_port()
    source = make_source(f"ws://{LOOPBACK}:{port}/feed")
    sink = CollectingSink()
    server = FeedServer()
    try:
        async with tailing(source, sink):
            await until(lambda: len(failures(sink)) >= 4, what="a few failures")
            assert "connection refused" in failures(sink)[0]
            retries = [state.retry_at for state in sink.states if state.retry_at]
            # 0.02 s, then twice as long each time (+-20 %)
            waits = [later - earlier for earlier, later in zip(retries, retries[1:])]
            assert waits[-1] > waits[0]
            await server.start(port=port)
            await server.wait_connections(timeout=10)
            await server.send("up")
            await until(has_lines(sink, 1))
            assert sink.states[-1].ok
    finally:
        await server.stop()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    made = make_certificates(tmp_path_factory.mktemp("tls"))
    if made is None:
        pytest.skip("openssl is not installed")
    return made


async def test_wss_with_a_ca_file_and_a_client_certificate(
        certificates: dict[str, Path]) -> None:
    server = await FeedServer().start(tls=server_tls(certificates))
    try:
        assert server.url.startswith("wss://")
        tls = TLSConfig(ca_file=str(certificates["ca.pem"]),
                        cert_file=str(certificates["client.pem"]),
                        key_file=str(certificates["client.key"]))
        sink = CollectingSink()
        async with tailing(make_source(server.url, tls=tls), sink):
            await server.wait_connections()
            await server.send("secure")
            await until(has_lines(sink, 1))
        assert lines(sink) == ["secure"] and not failures(sink)
        # without the CA, the message says what to set
        sink = CollectingSink()
        async with tailing(make_source(server.url), sink):
            await until(lambda: bool(failures(sink)))
        assert "TLS certificate not trusted (set tls.ca_file" in failures(sink)[0]
    finally:
        await server.stop()


async def test_aclose_ends_the_tail(feed: FeedServer) -> None:
    source = make_source(feed.url)
    task = asyncio.create_task(source.tail(LogQuery(), CollectingSink()))
    await feed.wait_connections()
    await source.aclose()
    await asyncio.wait_for(task, 5)
    assert len(feed.upgrades) == 1
