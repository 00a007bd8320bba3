"""LokiSource against a fake Loki on loopback speaking the formats of shared/fixtures/loki:
history then tail with nothing lost or repeated, resuming after a cut or a restart of Loki,
dropped entries, tenancy, auth and TLS on both kinds of request, errors, garbage, size
caps."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.support.loki import (
    FIXTURES,
    INLINE_FIXTURES,
    QUERY_RANGE_MATRIX,
    QUERY_RANGE_STREAMS,
    TAIL_FRAME,
    TAIL_FRAME_CATEGORIZED,
    FakeLoki,
)
from tests.support.net import LOOPBACK, free_port
from tests.support.tls import make_certificates, server_tls
from tests.support.waiting import until
from watchdeck.core.config.models import AuthConfig, LokiSourceConfig, TLSConfig
from watchdeck.core.errors import BadResponseError
from watchdeck.core.logs.model import CollectingSink, Level, LogGap, LogQuery, LogRecord
from watchdeck.core.sources import build_source
from watchdeck.core.sources.loki import LokiError, LokiSource, logql_string, with_line_filter

SECOND = 10**9
API = {"app": "api"}
WORKER = {"app": "worker"}
QUERY = LogQuery(expr='{app=~"api|worker"}', backlog=100)


@pytest.fixture
async def loki() -> AsyncIterator[FakeLoki]:
    fake = await FakeLoki().start()
    yield fake
    await fake.stop()


def make_source(url: str, tmp_path: Path | None = None, **settings: object) -> LokiSource:
    config = LokiSourceConfig(url=url, **settings)  # type: ignore[arg-type]
    source = build_source("logs", config, tmp_path or Path("."))
    assert isinstance(source, LokiSource)
    source.retry_base = 0.02
    return source


@contextlib.asynccontextmanager
async def tailing(source: LokiSource, query: LogQuery, sink: CollectingSink
                  ) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(source.tail(query, sink))
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


# ---------------------------------------------------------------- history and tail


async def test_history_then_tail_in_order_without_a_duplicate_at_the_junction(
        loki: FakeLoki) -> None:
    base = time.time_ns() - 60 * SECOND
    last = base + 2 * SECOND
    loki.add(API, base, "h1")
    loki.add(API, base + SECOND, '{"msg": "h2", "level": "warn", "trace_id": "abc"}')
    loki.add(API, last, "h3a")  # three lines in one nanosecond, two streams
    loki.add(API, last, "h3b")
    loki.add(WORKER, last, "h4")
    sink = CollectingSink()
    source = make_source(loki.url)
    async with tailing(source, QUERY, sink):
        await loki.wait_tailers()
        # the tail starts where history ended, and Loki sends that nanosecond again
        assert loki.tail_requests[0].params["start"] == str(last)
        await loki.push(API, last + SECOND, "live 1")
        await until(has_lines(sink, 6))
        await asyncio.sleep(0.05)
    got = lines(sink)
    # Loki gives no order between streams inside one nanosecond; within a stream, push order
    assert got[:2] == ["h1", "h2"] and got[5:] == ["live 1"]
    assert sorted(got[2:5]) == ["h3a", "h3b", "h4"] and got.index("h3a") < got.index("h3b")
    records = sink.lines
    assert [r.time_ns for r in records] == [base, base + SECOND, last, last, last,
                                            last + SECOND]
    assert [r.seq for r in records] == sorted(r.seq for r in records)
    assert records[1].level is Level.WARN and records[1].trace_id == "abc"
    by_line = {r.message: r for r in records}
    assert by_line["h1"].labels == API and by_line["h4"].labels == WORKER
    assert by_line["h1"].labels is by_line["h3b"].labels  # one dict per stream
    assert all(r.source == "logs" for r in records)
    history = loki.seen("/query_range")[0]
    assert history.params["query"] == QUERY.expr
    assert history.params["direction"] == "backward"
    assert history.params["limit"] == "100"
    assert int(history.params["end"]) - int(history.params["start"]) == 3600 * SECOND
    assert history.headers["x-loki-response-encoding-flags"] == "categorize-labels"
    tail = loki.tail_requests[0]
    # the tail may send back as much as Loki allows: what a reconnect can recover
    assert tail.params["query"] == QUERY.expr and tail.params["limit"] == "5000"
    assert tail.headers["x-loki-response-encoding-flags"] == "categorize-labels"
    assert sink.states[-1].ok


async def test_lines_arriving_between_history_and_tail_come_once(loki: FakeLoki) -> None:
    last = time.time_ns() - 30 * SECOND
    loki.add(API, last - SECOND, "old")
    loki.add(API, last, "same ns, in history")
    loki.pause_tails()
    sink = CollectingSink()
    source = make_source(loki.url)
    async with tailing(source, QUERY, sink):
        await until(has_lines(sink, 2), what="history")
        await until(lambda: len(loki.tail_requests) == 1, what="the tail upgrade")
        # written after query_range answered, before the tail opened: a new line in the
        # last nanosecond of the history, and a later one
        loki.add(API, last, "same ns, after history")
        loki.add(WORKER, last + 1, "one ns later")
        loki.resume_tails()
        await until(has_lines(sink, 4))
        await loki.push(API, last + SECOND, "live")
        await until(has_lines(sink, 5))
    assert lines(sink) == ["old", "same ns, in history", "same ns, after history",
                           "one ns later", "live"]


async def test_no_history_asked_starts_the_tail_now(loki: FakeLoki) -> None:
    loki.add(API, time.time_ns() - SECOND, "before")
    sink = CollectingSink()
    source = make_source(loki.url)
    before = time.time_ns()
    async with tailing(source, LogQuery(expr='{app="api"}', backlog=0), sink):
        await loki.wait_tailers()
        await loki.push(API, time.time_ns(), "after")
        await until(has_lines(sink, 1))
    assert lines(sink) == ["after"]
    assert not loki.seen("/query_range")
    assert int(loki.tail_requests[0].params["start"]) >= before


async def test_since_bounds_the_history(loki: FakeLoki) -> None:
    now = time.time()
    loki.add(API, int((now - 100) * SECOND), "too old")
    loki.add(API, int((now - 10) * SECOND), "recent")
    sink = CollectingSink()
    async with tailing(make_source(loki.url), LogQuery(expr="{app='api'}", since=now - 20),
                       sink):
        await until(has_lines(sink, 1))
        await loki.wait_tailers()
    assert lines(sink) == ["recent"]
    assert loki.seen("/query_range")[0].params["start"] == str(int(round((now - 20) * 1e9)))


# ---------------------------------------------------------------- resuming


async def resume_after(loki: FakeLoki, cut: Callable[[], object]) -> CollectingSink:
    """Three lines in nanosecond T (two streams), a cut, one more line in T and one after
    while the tail is away: each arrives once."""
    sink = CollectingSink()
    source = make_source(loki.url)
    async with tailing(source, LogQuery(expr='{app=~".+"}', backlog=0), sink):
        await loki.wait_tailers()
        t = time.time_ns()  # live lines: after the tail's start
        await loki.push(API, t, "a")
        await loki.push(API, t, "b")
        await loki.push(WORKER, t, "d")
        await until(has_lines(sink, 3))
        loki.pause_tails()
        result = cut()
        if asyncio.iscoroutine(result):
            await result
        loki.add(API, t, "c")
        loki.add(API, t + 1, "e")
        await until(lambda: len(loki.tail_requests) == 2, what="the reconnect")
        loki.resume_tails()
        await until(has_lines(sink, 5))
        await loki.push(WORKER, t + SECOND, "f")
        await until(has_lines(sink, 6))
    assert lines(sink) == ["a", "b", "d", "c", "e", "f"]
    assert loki.tail_requests[1].params["start"] == str(t)
    assert not any(isinstance(item, LogGap) for item in sink.items)
    return sink


async def test_a_cut_connection_resumes_without_gap_or_duplicate(loki: FakeLoki) -> None:
    sink = await resume_after(loki, lambda: loki.close_tails())
    lost = failures(sink)
    assert any("Loki tail: connection lost" in message for message in lost), lost
    assert all(state.retry_at for state in sink.states if not state.ok)
    assert sink.states[-1].ok


async def test_a_server_error_close_is_reported_and_resumed(loki: FakeLoki) -> None:
    sink = await resume_after(loki, lambda: loki.close_tails(1011, "too many outstanding"))
    assert any("code 1011: too many outstanding" in message for message in failures(sink))


async def test_the_one_hour_limit_reconnects_quietly(loki: FakeLoki) -> None:
    sink = await resume_after(
        loki, lambda: loki.close_tails(1011, "reached tail max duration limit"))
    assert failures(sink) == []


async def test_several_resumes_in_a_row_keep_counting_right(loki: FakeLoki) -> None:
    t = time.time_ns() + 10 * SECOND
    sink = CollectingSink()
    async with tailing(make_source(loki.url), LogQuery(expr='{app="api"}', backlog=0), sink):
        for round_ in range(3):
            await loki.wait_tailers()
            await loki.push(API, t, f"line {round_}")
            await until(has_lines(sink, round_ + 1))
            await loki.close_tails()
        await loki.wait_tailers()
        await loki.push(API, t + 1, "last")
        await until(has_lines(sink, 4))
    assert lines(sink) == ["line 0", "line 1", "line 2", "last"]
    assert [r.params["start"] for r in loki.tail_requests[1:]] == [str(t)] * 3


async def test_a_late_line_from_another_stream_is_not_taken_for_a_repeat(
        loki: FakeLoki) -> None:
    sink = CollectingSink()
    async with tailing(make_source(loki.url), LogQuery(expr="{app=~'.+'}", backlog=0), sink):
        await loki.wait_tailers()
        t = time.time_ns()
        await loki.push(API, t, "newest")
        await loki.push(WORKER, t - SECOND, "late, older")  # Loki orders per stream only
        await loki.push(WORKER, t, "newest")  # same time and line, another stream
        await until(has_lines(sink, 3))
        await loki.close_tails()
        await loki.wait_tailers()
        await loki.push(API, t + 1, "after")
        await until(has_lines(sink, 4))
    assert lines(sink) == ["newest", "late, older", "newest", "after"]


async def test_more_missed_than_the_backfill_holds_is_marked_as_a_gap(
        loki: FakeLoki) -> None:
    source = make_source(loki.url)
    source.tail_limit = 5
    sink = CollectingSink()
    async with tailing(source, LogQuery(expr='{app="api"}', backlog=0), sink):
        await loki.wait_tailers()
        t = time.time_ns()
        await loki.push(API, t, "seen")
        await until(has_lines(sink, 1))
        loki.pause_tails()
        await loki.close_tails()
        for index in range(8):
            loki.add(API, t + 1 + index, f"missed {index}")
        await until(lambda: len(loki.tail_requests) == 2, what="the reconnect")
        loki.resume_tails()
        await until(lambda: len(sink.items) >= 7)
        await loki.push(API, t + SECOND, "live")
        await until(has_lines(sink, 7))
    # Loki sent its newest 5: the three before them are lost, and the panel says so
    assert lines(sink) == ["seen", *(f"missed {index}" for index in range(3, 8)), "live"]
    gaps = [item for item in sink.items if isinstance(item, LogGap)]
    assert len(gaps) == 1
    gap = gaps[0]
    assert gap.count is None and gap.reason.startswith("lines may be missing: more than 5")
    assert t < gap.time_ns < t + 4  # before the oldest line the new connection sent
    assert sink.items.index(gap) == 5  # told as soon as it is known (at the 5th)


async def test_loki_down_at_start_then_up() -> None:
    port = free_port()
    source = make_source(f"http://{LOOPBACK}:{port}")
    sink = CollectingSink()
    fake = FakeLoki()
    fake.add(API, time.time_ns() - SECOND, "from history")
    try:
        async with tailing(source, QUERY, sink):
            await until(lambda: bool(failures(sink)), what="the failure")
            assert "connection refused" in failures(sink)[0]
            await fake.start(port=port)
            await until(has_lines(sink, 1), what="the history once Loki is up")
            await fake.wait_tailers()
            await fake.push(API, time.time_ns(), "live")
            await until(has_lines(sink, 2))
            assert sink.states[-1].ok
    finally:
        await fake.stop()
    assert lines(sink) == ["from history", "live"]


async def test_loki_restarting_mid_tail_resumes_without_gap_or_duplicate(
        loki: FakeLoki) -> None:
    sink = CollectingSink()
    port = loki.port
    back = FakeLoki()
    async with tailing(make_source(loki.url), LogQuery(expr='{app=~".+"}', backlog=0), sink):
        await loki.wait_tailers()
        t = time.time_ns()
        await loki.push(API, t, "a")
        await loki.push(WORKER, t, "b")
        await until(has_lines(sink, 2))
        await loki.stop()
        await until(lambda: bool(failures(sink)), what="the loss")
        # it comes back with what it had, and what was written meanwhile
        back.entries = list(loki.entries)
        back.add(API, t, "c")
        back.add(WORKER, t + 1, "d")
        await back.start(port=port)
        try:
            await back.wait_tailers(timeout=10)
            await back.push(API, t + SECOND, "e")
            await until(has_lines(sink, 5))
            await asyncio.sleep(0.05)
        finally:
            await back.stop()
    assert lines(sink) == ["a", "b", "c", "d", "e"]
    assert back.tail_requests[-1].params["start"] == str(t)
    assert "Loki tail: connection lost" in failures(sink)[0]


async def test_aclose_ends_the_tail(loki: FakeLoki) -> None:
    source = make_source(loki.url)
    task = asyncio.create_task(source.tail(LogQuery(expr="{a='1'}", backlog=0),
                                           CollectingSink()))
    await loki.wait_tailers()
    await source.aclose()
    await asyncio.wait_for(task, 5)
    assert len(loki.tail_requests) == 1  # and no reconnect


# ---------------------------------------------------------------- frames


async def test_dropped_entries_become_a_gap_where_they_were(loki: FakeLoki) -> None:
    sink = CollectingSink()
    async with tailing(make_source(loki.url), LogQuery(expr='{test="test"}', backlog=0),
                       sink):
        await loki.wait_tailers()
        await loki.send(TAIL_FRAME)
        await until(lambda: len(sink.items) >= 3)
    first, second, gap = sink.items
    assert isinstance(first, LogRecord) and first.message == "super line"
    assert first.time_ns == 123456789012345 and first.labels == {"test": "test"}
    assert isinstance(second, LogRecord) and second.time_ns == 123456789012346
    assert isinstance(gap, LogGap)
    assert (gap.time_ns, gap.count) == (123456789022345, 1)
    assert gap.reason.startswith("Loki dropped 1 line")
    assert first.seq < second.seq < gap.seq


async def test_a_gap_sorts_before_later_lines_of_its_frame(loki: FakeLoki) -> None:
    frame = {
        "streams": [{"stream": {"a": "1"}, "values": [["100", "before"], ["300", "after"]]}],
        "dropped_entries": [{"timestamp": "200", "labels": {"a": "1"}},
                            {"timestamp": "250", "labels": {"a": "1"}}],
    }
    sink = CollectingSink()
    async with tailing(make_source(loki.url), LogQuery(expr="{a='1'}", backlog=0), sink):
        await loki.wait_tailers()
        await loki.send(frame)
        await until(lambda: len(sink.items) >= 3)
    assert [getattr(item, "message", None) for item in sink.items] == ["before", None, "after"]
    gap = sink.items[1]
    assert isinstance(gap, LogGap) and gap.count == 2 and gap.time_ns == 200


async def test_structured_metadata_of_the_v3_frame_becomes_fields(loki: FakeLoki) -> None:
    sink = CollectingSink()
    async with tailing(make_source(loki.url), LogQuery(expr='{test="test"}', backlog=0),
                       sink):
        await loki.wait_tailers()
        await loki.send(TAIL_FRAME_CATEGORIZED)
        await until(has_lines(sink, 3))
    plain, with_metadata, with_parsed = sink.lines
    assert plain.fields is None
    assert with_metadata.fields == {"foo": "a", "bar": "b"}
    assert with_metadata.labels == {"test": "test"}
    assert with_parsed.message == "super line with labels msg=text"
    assert with_parsed.fields is not None
    assert with_parsed.fields["foo"] == "a" and "msg" not in with_parsed.fields
    assert with_parsed.time_ns == 123456789012347


async def test_trace_ids_in_structured_metadata_either_way(loki: FakeLoki) -> None:
    now = time.time_ns() - SECOND
    loki.add(API, now, "otlp line", metadata={"trace_id": "t1", "span_id": "s1",
                                               "detected_level": "error"})
    loki.add(API, now + 1, "other spelling", metadata={"traceID": "t3", "spanId": "s3"})
    sink = CollectingSink()
    async with tailing(make_source(loki.url), QUERY, sink):
        await until(has_lines(sink, 2))
    record, other = sink.lines
    assert (record.trace_id, record.span_id, record.level) == ("t1", "s1", Level.ERROR)
    assert record.labels == API  # indexed labels only
    assert record.fields == {"detected_level": "error"}
    assert (other.trace_id, other.span_id, other.fields) == ("t3", "s3", None)
    # a Loki without categorize-labels folds the metadata into the stream
    loki.query_range_body = {"status": "success", "data": {"resultType": "streams", "result": [
        {"stream": {"app": "api", "trace_id": "t2", "level": "warn"},
         "values": [[str(now), "folded"]]}]}}
    records = await make_source(loki.url).query_range('{app="api"}', 0, time.time())
    assert (records[0].trace_id, records[0].level) == ("t2", Level.WARN)


async def test_garbage_frames_are_reported_and_the_tail_goes_on(loki: FakeLoki) -> None:
    sink = CollectingSink()
    async with tailing(make_source(loki.url), LogQuery(expr="{a='1'}", backlog=0), sink):
        await loki.wait_tailers()
        truncated = json.dumps(TAIL_FRAME)[:60]
        for garbage in ["not json at all", b"\xff\xfe binary", '{"streams": 5}', "[1, 2]",
                        '{"streams": [], "dropped_entries": "x"}', "[" * 100_000, truncated,
                        '{"status": "success"}']:
            await loki.send(garbage)
        await loki.send({"streams": [
            {"stream": {"a": "1"}, "values": [["not-a-number", "x"], ["12", 5], ["13"],
                                               ["100", "good"]]},
            {"stream": "not an object", "values": []},
        ]})
        await until(has_lines(sink, 1))
    assert lines(sink) == ["good"]
    warnings = [s.message or "" for s in sink.states if s.ok and s.message]
    assert sum("malformed frame from Loki" in w for w in warnings) == 8
    assert any("not json at all" in w for w in warnings)
    assert any("ignored 4 malformed entries" in w for w in warnings)
    assert len(loki.tail_requests) == 1  # never reconnected for it


async def test_a_frame_over_the_size_cap_is_refused_and_reported(loki: FakeLoki) -> None:
    sink = CollectingSink()
    source = make_source(loki.url, max_response_bytes=1024)
    async with tailing(source, LogQuery(expr="{a='1'}", backlog=0), sink):
        await loki.wait_tailers()
        await loki.send({"streams": [{"stream": {"a": "1"}, "values": [["1", "x" * 2000]]}]})
        await until(lambda: len(loki.tail_requests) >= 2, what="the reconnect")
        await loki.wait_tailers()
        await loki.send({"streams": [{"stream": {"a": "1"}, "values": [["2", "small"]]}]})
        await until(has_lines(sink, 1))
    assert lines(sink) == ["small"]
    assert any("larger than the 1,024-byte cap (max_response_bytes)" in message
               for message in failures(sink))


# ---------------------------------------------------------------- auth and tenancy


async def test_tenant_and_basic_auth_go_on_query_range_and_the_upgrade(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOKI_PASSWORD", "s3cret")
    expected = "Basic " + base64.b64encode(b"grafana:s3cret").decode()
    fake = await FakeLoki(tenant="team-a", authorization=expected).start()
    try:
        fake.add(API, time.time_ns() - SECOND, "hello")
        source = make_source(fake.url, tmp_path, headers={"X-Scope-OrgID": "team-a"},
                             auth=AuthConfig(username="grafana", password_env="LOKI_PASSWORD"))
        sink = CollectingSink()
        async with tailing(source, QUERY, sink):
            await fake.wait_tailers()
            await fake.push(API, time.time_ns(), "live")
            await until(has_lines(sink, 2))
        assert lines(sink) == ["hello", "live"]
        for seen in (fake.seen("/query_range")[0], fake.tail_requests[0]):
            assert seen.headers["x-scope-orgid"] == "team-a"
            assert seen.headers["authorization"] == expected
            assert seen.headers["user-agent"].startswith("watchdeck/")
        assert all("s3cret" not in (s.message or "") for s in sink.states)
    finally:
        await fake.stop()


async def test_bearer_token_from_a_file_on_both_requests(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("tok-123\n")
    fake = await FakeLoki(authorization="Bearer tok-123").start()
    try:
        source = make_source(fake.url, tmp_path, auth=AuthConfig(bearer_token_file="token"))
        sink = CollectingSink()
        async with tailing(source, QUERY, sink):
            await fake.wait_tailers()
        assert fake.seen("/query_range")[0].headers["authorization"] == "Bearer tok-123"
        assert fake.tail_requests[0].headers["authorization"] == "Bearer tok-123"
        assert not failures(sink)
    finally:
        await fake.stop()


async def test_a_missing_tenant_says_how_to_fix_it() -> None:
    fake = await FakeLoki(tenant="team-a").start()
    try:
        sink = CollectingSink()
        async with tailing(make_source(fake.url), QUERY, sink):
            await until(lambda: len(sink.states) >= 2)
        message = sink.states[0].message or ""
        assert "HTTP 401 Unauthorized: no org id" in message
        assert "X-Scope-OrgID" in message
        assert not fake.tail_requests  # the tail waits for history
    finally:
        await fake.stop()


async def test_a_tail_without_its_tenant_says_how_to_fix_it() -> None:
    fake = await FakeLoki(tenant="team-a").start()
    try:
        sink = CollectingSink()
        async with tailing(make_source(fake.url), LogQuery(expr="{a='1'}", backlog=0), sink):
            await until(lambda: bool(failures(sink)))
        assert failures(sink)[0] == (
            "Loki tail refused: HTTP 401 Unauthorized: no org id (this Loki is multi-tenant: "
            "set headers: {X-Scope-OrgID: <tenant>})")
    finally:
        await fake.stop()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    made = make_certificates(tmp_path_factory.mktemp("tls"))
    if made is None:
        pytest.skip("openssl is not installed")
    return made


async def test_tls_and_a_client_certificate_on_query_range_and_the_upgrade(
        certificates: dict[str, Path]) -> None:
    fake = await FakeLoki().start(tls=server_tls(certificates))  # mutual TLS
    try:
        assert fake.url.startswith("https://")
        fake.add(API, time.time_ns() - SECOND, "over https")
        tls = TLSConfig(ca_file=str(certificates["ca.pem"]),
                        cert_file=str(certificates["client.pem"]),
                        key_file=str(certificates["client.key"]))
        sink = CollectingSink()
        async with tailing(make_source(fake.url, tls=tls), QUERY, sink):
            await fake.wait_tailers()
            await fake.push(API, time.time_ns(), "over wss")
            await until(has_lines(sink, 2))
        assert lines(sink) == ["over https", "over wss"]
        assert not failures(sink)
    finally:
        await fake.stop()


async def test_an_untrusted_certificate_on_the_upgrade_says_what_to_set(
        certificates: dict[str, Path]) -> None:
    fake = await FakeLoki().start(tls=server_tls(certificates, client_certificate=False))
    try:
        sink = CollectingSink()
        async with tailing(make_source(fake.url), LogQuery(expr="{a='1'}", backlog=0), sink):
            await until(lambda: bool(failures(sink)))
        message = failures(sink)[0]
        assert message.startswith(f"cannot connect to wss://{LOOPBACK}:{fake.port}/loki/api/v1/tail")
        assert "TLS certificate not trusted (set tls.ca_file" in message
        assert "query=" not in message  # the query string (a filter) stays out
    finally:
        await fake.stop()


# ---------------------------------------------------------------- errors


async def test_a_lower_max_entries_cap_is_learned_and_used(loki: FakeLoki) -> None:
    loki.max_entries = 50
    base = time.time_ns() - 60 * SECOND
    for index in range(60):
        loki.add(API, base + index, f"l{index}")
    sink = CollectingSink()
    async with tailing(make_source(loki.url), LogQuery(expr='{app="api"}', backlog=1000),
                       sink):
        await until(has_lines(sink, 50))
        await loki.wait_tailers()
    assert lines(sink) == [f"l{index}" for index in range(10, 60)]
    assert [seen.params["limit"] for seen in loki.seen("/query_range")] == ["1000", "50"]
    assert not failures(sink)


PARSE_ERROR = "parse error at line 1, col 8: syntax error: unexpected IDENTIFIER"
SAID = f"HTTP 400 Bad Request: {PARSE_ERROR} (the LogQL query is not valid)"


async def test_a_refused_upgrade_says_why_and_backs_off_more_each_time(
        loki: FakeLoki) -> None:
    loki.tail_error = (400, PARSE_ERROR)
    sink = CollectingSink()
    source = make_source(loki.url)
    async with tailing(source, LogQuery(expr="{app=api}", backlog=0), sink):
        await until(lambda: len(loki.tail_requests) >= 4, timeout=10)
    states = [s for s in sink.states if not s.ok]
    assert states and all(
        s.message == f"Loki tail refused: {SAID}" for s in states)
    times = [seen.at for seen in loki.tail_requests[:4]]
    waits = [later - earlier for earlier, later in zip(times, times[1:])]
    # a 4xx starts the backoff at 4x the base (0.02 s) and doubles it, +-20 % jitter
    assert waits[0] >= 0.08 * 0.8
    assert waits[0] < waits[1] < waits[2]
    assert not any(s.ok for s in sink.states)


async def test_query_range_error_bodies_are_shown_and_history_retried(
        loki: FakeLoki) -> None:
    loki.query_range_error = (400, PARSE_ERROR)
    loki.add(API, time.time_ns() - SECOND, "after the fix")
    sink = CollectingSink()
    source = make_source(loki.url)
    with pytest.raises(LokiError) as raised:
        await source.query_range("{app=api}", time.time() - 60, time.time())
    assert raised.value.status == 400
    assert str(raised.value) == SAID
    async with tailing(source, QUERY, sink):
        await until(lambda: len(loki.seen("/query_range")) >= 3)
        assert sink.states[0].message == SAID
        assert sink.states[0].retry_at is not None and not sink.states[0].ok
        loki.query_range_error = None
        await until(has_lines(sink, 1))
    assert lines(sink) == ["after the fix"]


async def test_loki_down_is_reported_with_the_next_try() -> None:
    source = make_source(f"http://{LOOPBACK}:{free_port()}")
    sink = CollectingSink()
    async with tailing(source, QUERY, sink):
        await until(lambda: len(sink.states) >= 2)
    assert "connection refused" in (sink.states[0].message or "")
    assert sink.states[0].retry_at is not None and sink.states[0].retry_at > time.time() - 5


async def test_no_query_anywhere_says_so(loki: FakeLoki) -> None:
    sink = CollectingSink()
    async with tailing(make_source(loki.url), LogQuery(), sink) as task:
        await until(lambda: bool(sink.states))
        assert not task.done()
    assert "no LogQL query" in (sink.states[0].message or "")
    assert not loki.requests


async def test_the_source_default_query_is_used(loki: FakeLoki) -> None:
    sink = CollectingSink()
    async with tailing(make_source(loki.url, query='{job="x"}'), LogQuery(), sink):
        await loki.wait_tailers()
    assert loki.tail_requests[0].params["query"] == '{job="x"}'


# ---------------------------------------------------------------- queries


def test_line_filter_strings_escape_like_go() -> None:
    assert logql_string('say "hi" \\ now\n\t\x01') == '"say \\"hi\\" \\\\ now\\n\\t\\x01"'
    assert logql_string("ünïcode ✓") == '"ünïcode ✓"'
    assert with_line_filter('{app="api"}', None) == '{app="api"}'
    assert with_line_filter('{app="api"}', "") == '{app="api"}'


async def test_contains_becomes_a_line_filter_on_both_requests(loki: FakeLoki) -> None:
    sink = CollectingSink()
    query = LogQuery(expr='{app="api"} | json', contains='trace "4bf9" \\ x')
    async with tailing(make_source(loki.url), query, sink):
        await loki.wait_tailers()
    expected = '{app="api"} | json |= "trace \\"4bf9\\" \\\\ x"'
    assert loki.seen("/query_range")[0].params["query"] == expected
    assert loki.tail_requests[0].params["query"] == expected


async def test_query_range_reads_the_docs_example(loki: FakeLoki) -> None:
    loki.query_range_body = QUERY_RANGE_STREAMS
    source = make_source(loki.url + "/")
    records = await source.query_range('{job="varlogs"}', 1569266490, 1569266500, limit=10,
                                       direction="forward")
    await source.aclose()
    assert [r.message for r in records] == ["bar", "foo"]  # oldest first
    assert [r.time_ns for r in records] == [1569266492548155000, 1569266497240578000]
    assert records[0].labels is records[1].labels
    assert records[0].labels == {"filename": "/var/log/myproject.log", "job": "varlogs",
                                 "level": "info"}
    assert all(r.level is Level.INFO for r in records)
    params = loki.seen("/query_range")[0].params
    assert params == {"query": '{job="varlogs"}', "start": "1569266490000000000",
                      "end": "1569266500000000000", "limit": "10", "direction": "forward"}


async def test_a_metric_query_is_refused_for_logs(loki: FakeLoki) -> None:
    loki.query_range_body = QUERY_RANGE_MATRIX
    source = make_source(loki.url)
    with pytest.raises(BadResponseError, match="matrix"):
        await source.query_range("rate({a='1'}[1m])", 0, 10)
    await source.aclose()


async def test_labels_and_label_values(loki: FakeLoki) -> None:
    source = make_source(loki.url)
    try:
        assert await source.labels() == ["foo", "bar", "baz"]
        assert await source.label_values("foo", query='{app="x"}', start=10, end=20) == [
            "cat", "dog", "axolotl"]
        loki.label_names = []
        assert await source.labels() == []  # Loki leaves out "data" when empty
        assert await source.label_values("nothing") == []
    finally:
        await source.aclose()
    values = loki.seen("/values")[0]
    assert values.path == "/loki/api/v1/label/foo/values"
    assert values.params == {"query": '{app="x"}', "start": str(10 * SECOND),
                             "end": str(20 * SECOND)}


async def test_a_base_path_is_kept_for_the_tail(loki: FakeLoki) -> None:
    source = make_source(loki.url + "/loki-gw")
    sink = CollectingSink()
    async with tailing(source, LogQuery(expr="{a='1'}", backlog=0), sink):
        await until(lambda: bool(loki.requests))
    # the fake serves no /loki-gw prefix: the path the client asked for is the point
    assert loki.requests[0].path == "/loki-gw/loki/api/v1/tail"


@pytest.mark.parametrize("name", sorted(INLINE_FIXTURES))
def test_inline_fixtures_match_the_upstream_files(name: str) -> None:
    path = FIXTURES / name
    if not path.is_file():
        pytest.skip("../shared/fixtures is not beside the repository")
    assert json.loads(path.read_text(encoding="utf-8")) == INLINE_FIXTURES[name]
