"""Backends that answer garbage: the panel says what is wrong, the app keeps running."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Static

from tests.support.apps import make_app, wait_until, write_config
from tests.support.fake_http import FakeHTTPServer, Reply
from watchdeck.ui.panels.base import ERROR, LIVE, Panel

GOOD = {"status": "success", "data": {"resultType": "matrix", "result": [
    {"metric": {"job": "a"}, "values": [[1_767_225_000 + 15 * i, "1"] for i in range(40)]}]}}


@pytest.fixture
def backend() -> Iterator[FakeHTTPServer]:
    state = {"reply": Reply(body=json.dumps(GOOD).encode())}
    server = FakeHTTPServer(lambda method, path, body: state["reply"])
    server.state = state  # type: ignore[attr-defined]
    yield server
    server.stop()


@pytest.fixture
def layouts(tmp_path: Path) -> Path:
    directory = tmp_path / "layouts"
    directory.mkdir()
    (directory / "one.yaml").write_text(
        "name: one\nrefresh: 1s\npanels:\n"
        "  - {id: p, title: P, type: timeseries, width: 12, height: 12, "
        "queries: [{expr: up}]}\n")
    return directory


BIG = {"status": "success", "data": {"resultType": "matrix", "result": [
    {"metric": {"i": str(i)}, "values": [[1, "1"]]} for i in range(200)]}}
CASES = {
    "html from a proxy": (Reply(502, b"<html><title>502 Bad Gateway</title></html>",
                                "text/html"), "HTTP 502 Bad Gateway: HTML page: 502 Bad Gateway"),
    "truncated json": (Reply(200, json.dumps(GOOD).encode()[:60]), "truncated JSON"),
    "body over the cap": (Reply(200, json.dumps(BIG).encode()), "1,024-byte cap"),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_garbage_becomes_a_panel_error_and_recovers(
        backend: FakeHTTPServer, layouts: Path, tmp_path: Path, case: str) -> None:
    reply, expected = CASES[case]
    extra = "    max_response_bytes: 1024\n"
    config = write_config(tmp_path, backend.url, extra=extra)
    app = make_app(config, layouts)
    async with app.run_test(size=(100, 30)) as pilot:
        target = app.screen.query_one("#panel-p", Panel)
        await wait_until(pilot, lambda: target.state == LIVE, what="live first")
        backend.state["reply"] = reply  # type: ignore[attr-defined]
        await wait_until(pilot, lambda: target.state == ERROR, timeout=5, what="error")
        message = str(target.query_one(".panel--message", Static).render())
        assert expected in message
        assert "<html>" not in message
        backend.state["reply"] = Reply(body=json.dumps(GOOD).encode())  # type: ignore[attr-defined]
        await wait_until(pilot, lambda: target.state == LIVE, timeout=10, what="recovery")
        assert app.is_running
